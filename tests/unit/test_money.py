"""Rules §1: Decimal money, ROUND_HALF_UP to 2 places, exact sums."""

import subprocess
import sys
from decimal import Decimal
from fractions import Fraction

import pytest

from hostdesk.models import money
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import CENT, format_money, from_cents, round_money, sum_money, to_cents


def test_cent_is_one_hundredth():
    assert CENT == Decimal("0.01")
    assert str(CENT) == "0.01"


@pytest.mark.parametrize(
    "value, expected",
    [
        (Decimal("0.125"), "0.13"),  # half up, not banker's (which gives 0.12)
        (Decimal("-0.125"), "-0.13"),  # halves go away from zero
        (Decimal("2.675"), "2.68"),
        (Decimal("1.005"), "1.01"),
        (Decimal("1.0049999"), "1.00"),
        (Decimal("0.135"), "0.14"),
        (Decimal("12"), "12.00"),
        (Decimal("12.3"), "12.30"),
        (Decimal("-4"), "-4.00"),
        (7, "7.00"),
        ("19.995", "20.00"),
        ("0.004", "0.00"),
        (Fraction(30 * 9, 31), "8.71"),  # rules §3, line A
        (Fraction(60 * 5, 31), "9.68"),  # rules §3, line B
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(-1, 200), "-0.01"),
    ],
)
def test_round_money_half_up(value, expected):
    result = round_money(value)
    assert str(result) == expected
    assert result.as_tuple().exponent == -2


def test_round_money_never_returns_negative_zero():
    assert str(round_money(Decimal("-0.004"))) == "0.00"
    assert str(round_money(Decimal("-0"))) == "0.00"


def test_round_money_is_exact_beyond_the_decimal_context_precision():
    value = Decimal("12345678901234567890123456789.995")
    assert str(round_money(value)) == "12345678901234567890123456790.00"


@pytest.mark.parametrize("bad", [0.1, 1.0, True, None, [Decimal(1)]])
def test_round_money_refuses_float_and_non_numbers(bad):
    with pytest.raises(TypeError):
        round_money(bad)


@pytest.mark.parametrize("bad", ["abc", "", "NaN", Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_round_money_refuses_non_finite_values(bad):
    with pytest.raises(ValueError):
        round_money(bad)


@pytest.mark.parametrize(
    "value, cents",
    [
        (Decimal("12.34"), 1234),
        (Decimal("-4.00"), -400),
        (Decimal("0"), 0),
        (Decimal("1.5"), 150),
        (Decimal("1.500"), 150),  # more digits, same whole-cent value
        (Decimal("99999999.99"), 9999999999),
        (7, 700),
    ],
)
def test_to_cents(value, cents):
    assert to_cents(value) == cents


@pytest.mark.parametrize("value", [Decimal("1.005"), Decimal("0.001"), Decimal("NaN"), Decimal("Infinity")])
def test_to_cents_refuses_values_that_are_not_whole_cents(value):
    with pytest.raises(ValueError):
        to_cents(value)


@pytest.mark.parametrize("bad", [1.5, "1.50", True])
def test_to_cents_refuses_other_types(bad):
    with pytest.raises(TypeError):
        to_cents(bad)


@pytest.mark.parametrize("cents, text", [(150, "1.50"), (0, "0.00"), (-5, "-0.05"), (123456, "1234.56"), (100, "1.00")])
def test_from_cents_always_has_two_places(cents, text):
    assert str(from_cents(cents)) == text


def test_cents_round_trip():
    for cents in (-100001, -1, 0, 1, 99, 100, 871, 9999999999):
        assert to_cents(from_cents(cents)) == cents


@pytest.mark.parametrize("bad", [1.5, "150", True, Decimal("150")])
def test_from_cents_refuses_non_int(bad):
    with pytest.raises(TypeError):
        from_cents(bad)


@pytest.mark.parametrize(
    "amount, currency, text",
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("-4"), "USD", "-$4.00"),
        (Decimal("0"), "USD", "$0.00"),
        (Decimal("-0.001"), "USD", "$0.00"),
        (Decimal("1234567.891"), "EUR", "€1,234,567.89"),
        (Decimal("2.675"), "USD", "$2.68"),
        (Decimal("0.125"), "USD", "$0.13"),
        (Decimal("999.995"), "USD", "$1,000.00"),
        (Decimal("-1234.50"), "GBP", "-£1,234.50"),
        (12, "USD", "$12.00"),
    ],
)
def test_format_money(amount, currency, text):
    assert format_money(amount, currency) == text


def test_money_reads_by_locale_and_currency():
    assert format_money(Decimal("3.99"), "EUR", "de_DE") == "3,99\xa0€"
    assert format_money(Decimal("3.99"), "USD", "en_US") == "$3.99"
    assert format_money(Decimal("-1234.5"), "EUR", "de_DE") == "-1.234,50\xa0€"
    assert format_money(Decimal("1234.5"), "", "de_DE") == "1.234,50"
    assert format_money(Decimal("1234.5"), "CHF", "de_CH") == "CHF\xa01'234.50"


def test_the_configured_locale_applies_and_each_keeps_its_own_text():
    try:
        money.configure("de_DE", "EUR")
        assert format_money(Decimal("3.99"), "EUR") == "3,99\xa0€"
        assert money.installation_currency() == "EUR"
        money.configure("en_US", "USD")
        assert format_money(Decimal("3.99"), "EUR") == "€3.99"  # cached per locale
    finally:
        money.configure()


def test_an_unknown_locale_is_refused_by_name():
    with pytest.raises(ValidationError, match="locale"):
        money.configure("xx_QQ")


def test_format_money_default_currency_is_usd():
    assert format_money(Decimal("18.39")) == "$18.39"


@pytest.mark.parametrize("bad", [4.0, "4.00"])
def test_format_money_refuses_float_and_text(bad):
    with pytest.raises(TypeError):
        format_money(bad)


def test_sum_money_is_exact():
    assert sum_money([Decimal("0.10")] * 3) == Decimal("0.30")
    assert str(sum_money([Decimal("8.71"), Decimal("9.68")])) == "18.39"  # rules §3 total
    assert str(sum_money([Decimal("9.00"), Decimal("10.00")])) == "19.00"
    assert str(sum_money(Decimal("0.01") for _ in range(1000))) == "10.00"
    assert str(sum_money([Decimal("10.00"), Decimal("-4.00"), 1])) == "7.00"


def test_sum_money_of_nothing_is_zero_with_two_places():
    assert str(sum_money([])) == "0.00"


def test_sum_money_refuses_floats_and_nan():
    with pytest.raises(TypeError):
        sum_money([Decimal("1.00"), 0.1])
    with pytest.raises(ValueError):
        sum_money([Decimal("NaN")])


def test_sum_money_raises_rather_than_round():
    with pytest.raises(ArithmeticError):
        sum_money([Decimal("1" + "0" * 30), Decimal("0.01")])


def test_format_money_is_by_value_whatever_the_scale_or_the_order_asked():
    # The text is cached by value: 1.5, 1.50 and 1.500 are one amount, 1.505 another.
    for amounts in ([Decimal("1.5"), Decimal("1.50"), Decimal("1.500"), Decimal("1.505")],
                    [Decimal("1.505"), Decimal("1.500"), Decimal("1.50"), Decimal("1.5")]):
        texts = [format_money(amount, "EUR") for amount in amounts]
        assert sorted(texts) == ["€1.50", "€1.50", "€1.50", "€1.51"]
    assert [format_money(Decimal("-0.004")), format_money(Decimal("-0.005"))] == [
        "$0.00", "-$0.01"]
    assert format_money(Decimal("1.5"), "") == "1.50" and format_money(Decimal("1.5")) == "$1.50"


def test_the_default_reading_is_babels_text():
    from babel.numbers import format_currency, format_decimal

    # (-0.00 is one value with 0.00: both read "$0.00", see the test above)
    amounts = [Decimal(sign + digits) for sign in ("", "-") for digits in (
        "0.01", "0.99", "9.99", "999.99", "1000.00", "12345.60", "999999.99",
        "1000000.00", "123456789012.34")] + [Decimal("0.00")]
    for amount in amounts:
        assert format_money(amount, "USD", "en_US") == format_currency(
            amount, "USD", locale="en_US", currency_digits=False)
        assert format_money(amount, "", "en_US") == format_decimal(
            amount, format="#,##0.00", locale="en_US")


def test_the_default_reading_loads_no_locale_data():
    code = ("import sys; from decimal import Decimal; from hostdesk.models.money import format_money;"
            "print(format_money(Decimal('-1234.5')), 'babel' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["-$1,234.50", "False"]
