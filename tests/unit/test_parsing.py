"""Strict parsers for form and CLI input: each refusal names the field."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models.errors import ValidationError
from hostdesk.models.parsing import (
    clean_search_text,
    clean_text,
    parse_amount,
    parse_date,
    parse_int_id,
    parse_optional_date,
    parse_override_until,
    parse_quantity,
    parse_whole_number,
)


def refused(call, *args, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    return info.value


# --- amounts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12", "12.00"),
        ("12.5", "12.50"),
        ("12.50", "12.50"),
        (" 1,234.50 ", "1234.50"),
        ("1,234", "1234.00"),
        ("12,345,678.90", "12345678.90"),
        ("0", "0.00"),
        ("0.01", "0.01"),
        (".5", "0.50"),
        ("007", "7.00"),
        ("99999999.99", "99999999.99"),
    ],
)
def test_parse_amount_accepts(text, expected):
    value = parse_amount(text, "price")
    assert str(value) == expected


@pytest.mark.parametrize(
    "text, message_part",
    [
        ("", "enter an amount"),
        ("   ", "enter an amount"),
        (None, "enter an amount"),
        ("NaN", "is not an amount"),
        ("nan", "is not an amount"),
        ("inf", "is not an amount"),
        ("-Infinity", "is not an amount"),
        ("1e5", "is not an amount"),
        ("1E-2", "is not an amount"),
        ("abc", "is not an amount"),
        ("$12", "is not an amount"),
        ("12 USD", "is not an amount"),
        ("+12", "is not an amount"),
        ("12.", "is not an amount"),
        ("1.2.3", "is not an amount"),
        ("-", "is not an amount"),
        ("1_000", "is not an amount"),
        ("\u0661\u0662", "is not an amount"),  # Arabic-Indic digits
        ("12,50", "use '.' for decimals"),  # a decimal comma is not read as 1250
        ("1,23", "use '.' for decimals"),
        ("1234,567", "use '.' for decimals"),
        ("12.345", "the currency has 2 decimal places"),
        ("0.001", "the currency has 2 decimal places"),
        ("1.500", "the currency has 2 decimal places"),
        ("-5", "must not be negative"),
        ("100000000", "must be at most 99,999,999.99"),
        ("12\t", "control character"),
        ("1\n2", "control character"),
        ("12\x00", "control character"),
    ],
)
def test_parse_amount_refuses(text, message_part):
    error = refused(parse_amount, text, "price")
    assert error.field == "price"
    assert message_part in error.message


def test_parse_amount_negative_when_allowed():
    assert str(parse_amount("-4", "credit", allow_negative=True)) == "-4.00"
    assert str(parse_amount("-1,234.5", "credit", allow_negative=True)) == "-1234.50"
    error = refused(parse_amount, "-100000000", "credit", allow_negative=True)
    assert "at most 99,999,999.99" in error.message


def test_parse_amount_minus_zero_is_plain_zero():
    assert str(parse_amount("-0", "price")) == "0.00"


def test_parse_amount_zero_when_refused():
    error = refused(parse_amount, "0.00", "price", allow_zero=False)
    assert error.message == "must be more than zero"
    assert str(parse_amount("0.01", "price", allow_zero=False)) == "0.01"


def test_parse_amount_custom_and_no_maximum():
    assert refused(parse_amount, "100.01", "discount", max_value=Decimal("100")).message == "must be at most 100.00"
    assert str(parse_amount("100", "discount", max_value=Decimal("100"))) == "100.00"
    assert str(parse_amount("123456789012", "total", max_value=None)) == "123456789012.00"


def test_parse_amount_message_shows_a_long_input_cut_short():
    error = refused(parse_amount, "x" * 200, "price")
    assert len(error.message) < 100


# --- dates -----------------------------------------------------------------------------


def test_parse_date_strict_iso():
    value = parse_date("2028-02-29", "next_due_date")
    assert isinstance(value, pendulum.Date)
    assert value == pendulum.date(2028, 2, 29)
    assert parse_date(" 2012-01-10 ", "next_due_date") == pendulum.date(2012, 1, 10)


@pytest.mark.parametrize(
    "text, message",
    [
        ("2026-02-30", "2026-02-30 is not a date"),
        ("2027-02-29", "2027-02-29 is not a date"),
        ("2100-02-29", "2100-02-29 is not a date"),  # 2100 is not a leap year
        ("2026-13-01", "2026-13-01 is not a date"),
        ("2026-00-10", "2026-00-10 is not a date"),
        ("2026-04-31", "2026-04-31 is not a date"),
        ("0000-01-01", "0000-01-01 is not a date"),
        ("", "enter a date (YYYY-MM-DD)"),
        (None, "enter a date (YYYY-MM-DD)"),
        ("2026-1-5", "'2026-1-5' is not in the form YYYY-MM-DD"),
        ("05/01/2026", "'05/01/2026' is not in the form YYYY-MM-DD"),
        ("2026-01-05T00:00", "'2026-01-05T00:00' is not in the form YYYY-MM-DD"),
        ("20260105", "'20260105' is not in the form YYYY-MM-DD"),
        ("tomorrow", "'tomorrow' is not in the form YYYY-MM-DD"),
    ],
)
def test_parse_date_refuses(text, message):
    error = refused(parse_date, text, "next_due_date")
    assert error.field == "next_due_date"
    assert error.message == message


def test_parse_date_refuses_control_characters():
    assert "control character" in refused(parse_date, "2026-01-05\n", "d").message


def test_parse_date_accepts_leap_days():
    assert parse_date("2000-02-29", "d") == pendulum.date(2000, 2, 29)
    assert parse_date("2100-02-28", "d") == pendulum.date(2100, 2, 28)


def test_parse_optional_date():
    assert parse_optional_date("", "termination_date") is None
    assert parse_optional_date("  ", "termination_date") is None
    assert parse_optional_date(None, "termination_date") is None
    assert parse_optional_date("2026-03-31", "termination_date") == pendulum.date(2026, 3, 31)
    assert refused(parse_optional_date, "2026-02-30", "termination_date").message == "2026-02-30 is not a date"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("never", ("never", None)),
        ("Never", ("never", None)),
        (" NEVER ", ("never", None)),
        ("00/00/0000", ("never", None)),
        ("", ("clear", None)),
        (None, ("clear", None)),
        ("2026-06-30", ("date", pendulum.date(2026, 6, 30))),
    ],
)
def test_parse_override_until(text, expected):
    assert parse_override_until(text, "override_until") == expected


@pytest.mark.parametrize(
    "text, message_part",
    [
        ("2026-02-30", "2026-02-30 is not a date"),
        ("someday", "enter YYYY-MM-DD, 'never', or leave it empty"),
        ("00/00/00", "enter YYYY-MM-DD, 'never', or leave it empty"),
        ("0000-00-00", "0000-00-00 is not a date"),
    ],
)
def test_parse_override_until_refuses(text, message_part):
    error = refused(parse_override_until, text, "override_until")
    assert error.field == "override_until"
    assert message_part in error.message


# --- whole numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [("1", 1), ("3", 3), (" 12 ", 12), ("007", 7), ("1000", 1000)])
def test_parse_quantity_accepts(text, expected):
    assert parse_quantity(text, "quantity") == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "must be at least 1"),
        ("1001", "must be at most 1000"),
        ("-1", "'-1' is not a whole number"),
        ("1.0", "'1.0' is not a whole number"),
        ("2.5", "'2.5' is not a whole number"),
        ("1e3", "'1e3' is not a whole number"),
        ("+2", "'+2' is not a whole number"),
        ("", "enter a quantity"),
        ("\u0663", "'\u0663' is not a whole number"),
    ],
)
def test_parse_quantity_refuses(text, message):
    error = refused(parse_quantity, text, "quantity")
    assert (error.field, error.message) == ("quantity", message)


def test_parse_quantity_custom_maximum():
    assert parse_quantity("10", "quantity", max_value=10) == 10
    assert refused(parse_quantity, "11", "quantity", max_value=10).message == "must be at most 10"


@pytest.mark.parametrize("text, expected", [("1", 1), ("42", 42), (" 9223372036854775807 ", 2**63 - 1)])
def test_parse_int_id_accepts(text, expected):
    assert parse_int_id(text, "client_id") == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "an id is a number from 1 up"),
        ("9223372036854775808", "is too large to be an id"),
        ("-3", "'-3' is not a whole number"),
        ("#12", "'#12' is not a whole number"),
        ("12a", "'12a' is not a whole number"),
        ("", "enter an id"),
    ],
)
def test_parse_int_id_refuses(text, message):
    error = refused(parse_int_id, text, "client_id")
    assert (error.field, error.message) == ("client_id", message)


# --- free text -------------------------------------------------------------------------


def test_clean_text_strips_and_keeps_inner_text():
    assert clean_text("  example.com  ", "domain", 255) == "example.com"
    assert clean_text("Ünïcode — ok", "notes", 50) == "Ünïcode — ok"
    assert clean_text("", "notes", 50) == ""
    assert clean_text(None, "notes", 50) == ""


@pytest.mark.parametrize(
    "text",
    ["line\nbreak", "tab\there", "nul\x00", "bell\x07", "del\x7f", "c1\x85", "esc\x1b[31m", "ls\u2028", "rlo\u202e"],
)
def test_clean_text_refuses_control_characters(text):
    error = refused(clean_text, text, "notes", 100)
    assert error.field == "notes"
    assert "control character" in error.message


def test_clean_text_length_counts_after_stripping():
    assert clean_text("  abc  ", "username", 3) == "abc"
    error = refused(clean_text, "abcd", "username", 3)
    assert error.message == "must be at most 3 characters (it has 4)"


def test_clean_text_required():
    assert refused(clean_text, "   ", "name", 10, required=True).message == "is required"
    assert clean_text("x", "name", 10, required=True) == "x"


def test_parsers_refuse_non_text():
    with pytest.raises(TypeError):
        parse_amount(12, "price")  # type: ignore[arg-type]


def test_whole_numbers_are_ascii_digits_from_zero():
    assert parse_whole_number(" 0 ", "quantity") == 0
    assert parse_whole_number("1200", "quantity") == 1200
    for typed in ("²", "-1", "1.5", "abc", "", "1\x00"):
        assert refused(parse_whole_number, typed, "quantity").field == "quantity"


def test_search_text_is_stripped_any_length_but_never_control_characters():
    assert clean_search_text("  maple12  ") == "maple12"
    assert clean_search_text("x" * 10_000) == "x" * 10_000
    error = refused(clean_search_text, "ma\x00ple")
    assert error.field == "search" and "control character" in error.message
