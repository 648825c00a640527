"""Rules §2: cycles, anchored due dates, billing periods; rules §4: when to invoice."""

import datetime as dt

import pendulum
import pytest

from hostdesk.models.cycles import (
    RECURRING_CYCLES,
    Cycle,
    DayBasis,
    add_months_anchored,
    billing_period,
    due_for_invoicing,
    next_due,
    parse_cycle,
    period_length_days,
    previous_due,
)
from hostdesk.models.errors import ValidationError

d = pendulum.date

CAL = DayBasis.CALENDAR
THIRTY = DayBasis.THIRTY_DAY


# --- cycles ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cycle, value, months, label",
    [
        (Cycle.FREE, "free", None, "Free"),
        (Cycle.ONE_TIME, "one_time", None, "One Time"),
        (Cycle.MONTHLY, "monthly", 1, "Monthly"),
        (Cycle.QUARTERLY, "quarterly", 3, "Quarterly"),
        (Cycle.SEMIANNUALLY, "semiannually", 6, "Semi-Annually"),
        (Cycle.ANNUALLY, "annually", 12, "Annually"),
        (Cycle.BIENNIALLY, "biennially", 24, "Biennially"),
        (Cycle.TRIENNIALLY, "triennially", 36, "Triennially"),
    ],
)
def test_cycle_properties(cycle, value, months, label):
    assert cycle.value == value
    assert cycle == value  # a str enum compares with its stored value
    assert str(cycle) == value
    assert cycle.months == months
    assert cycle.is_recurring is (months is not None)
    assert cycle.label == label


def test_recurring_cycles_shortest_first():
    assert RECURRING_CYCLES == (
        Cycle.MONTHLY,
        Cycle.QUARTERLY,
        Cycle.SEMIANNUALLY,
        Cycle.ANNUALLY,
        Cycle.BIENNIALLY,
        Cycle.TRIENNIALLY,
    )
    assert [c.months for c in RECURRING_CYCLES] == [1, 3, 6, 12, 24, 36]


@pytest.mark.parametrize(
    "text, cycle",
    [
        ("monthly", Cycle.MONTHLY),
        ("Monthly", Cycle.MONTHLY),
        (" ANNUALLY ", Cycle.ANNUALLY),
        ("semiannually", Cycle.SEMIANNUALLY),
        ("Semi-Annually", Cycle.SEMIANNUALLY),
        ("one_time", Cycle.ONE_TIME),
        ("One Time", Cycle.ONE_TIME),
        ("one-time", Cycle.ONE_TIME),
        ("free", Cycle.FREE),
        ("triennially", Cycle.TRIENNIALLY),
        (Cycle.BIENNIALLY, Cycle.BIENNIALLY),
    ],
)
def test_parse_cycle(text, cycle):
    assert parse_cycle(text, "billing_cycle") is cycle


@pytest.mark.parametrize("text", ["weekly", "month", "12", "yearly"])
def test_parse_cycle_refuses_unknown(text):
    with pytest.raises(ValidationError) as info:
        parse_cycle(text, "billing_cycle")
    assert info.value.field == "billing_cycle"
    assert info.value.message.startswith(f"'{text}' is not a billing cycle; choose one of: free, one_time, monthly")


@pytest.mark.parametrize("text", ["month\x1bly", "monthly\n", "annu\tally"])
def test_parse_cycle_refuses_control_characters_without_echoing_them(text):
    with pytest.raises(ValidationError) as info:
        parse_cycle(text, "billing_cycle")
    assert info.value.field == "billing_cycle"
    assert "control character" in info.value.message
    assert not any(ord(ch) < 32 for ch in info.value.message)


@pytest.mark.parametrize("text", ["", "  ", None])
def test_parse_cycle_refuses_empty(text):
    with pytest.raises(ValidationError) as info:
        parse_cycle(text, "billing_cycle")
    assert info.value.message == "choose a billing cycle"


def test_day_basis_values():
    assert DayBasis("calendar") is CAL
    assert DayBasis("thirty_day") is THIRTY


# --- anchored months -------------------------------------------------------------------


def test_rules_example_31st_anchor_never_drifts():
    """Rules §2: 31 Jan → 29 Feb 2028 → 31 Mar 2028."""
    jan = d(2028, 1, 31)
    feb = add_months_anchored(jan, 1, 31)
    mar = add_months_anchored(feb, 1, 31)
    assert feb == d(2028, 2, 29)
    assert mar == d(2028, 3, 31)
    assert add_months_anchored(jan, 2, 31) == d(2028, 3, 31)
    assert next_due(next_due(jan, "monthly", 31), "monthly", 31) == d(2028, 3, 31)


@pytest.mark.parametrize(
    "start, months, anchor, expected",
    [
        (d(2028, 1, 31), 1, 31, d(2028, 2, 29)),  # leap year
        (d(2027, 1, 31), 1, 31, d(2027, 2, 28)),
        (d(2100, 1, 31), 1, 31, d(2100, 2, 28)),  # 2100 is not a leap year
        (d(2000, 1, 31), 1, 31, d(2000, 2, 29)),  # 2000 is
        (d(2028, 3, 31), 1, 31, d(2028, 4, 30)),
        (d(2028, 4, 30), 1, 31, d(2028, 5, 31)),  # back to the 31st
        (d(2028, 1, 30), 1, 30, d(2028, 2, 29)),
        (d(2028, 2, 29), 1, 30, d(2028, 3, 30)),
        (d(2027, 1, 29), 1, 29, d(2027, 2, 28)),
        (d(2027, 12, 31), 1, 31, d(2028, 1, 31)),  # year boundary
        (d(2028, 3, 31), -1, 31, d(2028, 2, 29)),  # backwards
        (d(2028, 1, 15), -1, 15, d(2027, 12, 15)),
        (d(2028, 2, 29), 12, 29, d(2029, 2, 28)),
        (d(2028, 2, 29), 48, 29, d(2032, 2, 29)),
        (d(2028, 2, 10), 0, 31, d(2028, 2, 29)),  # zero months still lands on the anchor
        (d(2028, 2, 10), 1, 10, d(2028, 3, 10)),
    ],
)
def test_add_months_anchored(start, months, anchor, expected):
    result = add_months_anchored(start, months, anchor)
    assert result == expected
    assert isinstance(result, pendulum.Date)


def test_add_months_anchored_takes_plain_dates_and_returns_pendulum():
    result = add_months_anchored(dt.date(2028, 1, 31), 1, 31)
    assert type(result) is pendulum.Date
    assert result == d(2028, 2, 29)


@pytest.mark.parametrize("anchor", [0, 32, -1])
def test_add_months_anchored_refuses_bad_anchor(anchor):
    with pytest.raises(ValueError):
        add_months_anchored(d(2028, 1, 1), 1, anchor)


def test_add_months_anchored_refuses_datetimes():
    with pytest.raises(TypeError):
        add_months_anchored(pendulum.datetime(2028, 1, 31), 1, 31)
    with pytest.raises(TypeError):
        add_months_anchored(dt.datetime(2028, 1, 31), 1, 31)


def test_add_months_anchored_refuses_leaving_the_calendar():
    with pytest.raises(ValueError):
        add_months_anchored(d(9999, 12, 1), 1, 1)


# --- next / previous due, every cycle --------------------------------------------------


@pytest.mark.parametrize(
    "cycle, after_jan_31_2028",
    [
        (Cycle.MONTHLY, d(2028, 2, 29)),
        (Cycle.QUARTERLY, d(2028, 4, 30)),
        (Cycle.SEMIANNUALLY, d(2028, 7, 31)),
        (Cycle.ANNUALLY, d(2029, 1, 31)),
        (Cycle.BIENNIALLY, d(2030, 1, 31)),
        (Cycle.TRIENNIALLY, d(2031, 1, 31)),
    ],
)
def test_next_due_every_cycle(cycle, after_jan_31_2028):
    assert next_due(d(2028, 1, 31), cycle, 31) == after_jan_31_2028
    assert previous_due(after_jan_31_2028, cycle, 31) == d(2028, 1, 31)


def test_next_due_accepts_cycle_value_text():
    assert next_due(d(2026, 11, 30), "quarterly", 30) == d(2027, 2, 28)


def test_leap_day_anchor_annually():
    ndd = d(2028, 2, 29)
    seen = []
    for _ in range(4):
        ndd = next_due(ndd, Cycle.ANNUALLY, 29)
        seen.append(ndd)
    assert seen == [d(2029, 2, 28), d(2030, 2, 28), d(2031, 2, 28), d(2032, 2, 29)]


def test_previous_due_of_a_31st_anchor():
    assert previous_due(d(2028, 3, 31), Cycle.MONTHLY, 31) == d(2028, 2, 29)
    assert previous_due(d(2028, 5, 31), Cycle.QUARTERLY, 31) == d(2028, 2, 29)
    assert previous_due(d(2101, 3, 31), Cycle.MONTHLY, 31) == d(2101, 2, 28)


@pytest.mark.parametrize("cycle", [Cycle.FREE, Cycle.ONE_TIME])
def test_non_recurring_cycles_have_no_due_dates(cycle):
    with pytest.raises(ValueError):
        next_due(d(2028, 1, 1), cycle, 1)
    with pytest.raises(ValueError):
        previous_due(d(2028, 1, 1), cycle, 1)
    with pytest.raises(ValueError):
        period_length_days(d(2028, 1, 1), cycle, 1, CAL)


# --- billing periods -------------------------------------------------------------------


def test_billing_period_is_due_to_next_due():
    assert billing_period(d(2028, 1, 31), Cycle.MONTHLY, 31) == (d(2028, 1, 31), d(2028, 2, 29))
    assert billing_period(d(2012, 1, 1), Cycle.MONTHLY, 1) == (d(2012, 1, 1), d(2012, 2, 1))
    assert billing_period(d(2028, 1, 1), Cycle.ANNUALLY, 1) == (d(2028, 1, 1), d(2029, 1, 1))


@pytest.mark.parametrize(
    "start, cycle, anchor, calendar_days, thirty_days",
    [
        (d(2012, 1, 1), Cycle.MONTHLY, 1, 31, 30),  # Jan = 31
        (d(2012, 1, 5), Cycle.MONTHLY, 5, 31, 30),
        (d(2028, 2, 1), Cycle.MONTHLY, 1, 29, 30),  # Feb 2028 = 29
        (d(2027, 2, 1), Cycle.MONTHLY, 1, 28, 30),
        (d(2100, 2, 1), Cycle.MONTHLY, 1, 28, 30),  # 2100 not leap
        (d(2026, 4, 1), Cycle.MONTHLY, 1, 30, 30),
        (d(2028, 1, 31), Cycle.MONTHLY, 31, 29, 30),  # 31 Jan → 29 Feb
        (d(2028, 2, 29), Cycle.MONTHLY, 31, 31, 30),  # 29 Feb → 31 Mar
        (d(2028, 1, 1), Cycle.QUARTERLY, 1, 91, 90),
        (d(2027, 1, 1), Cycle.QUARTERLY, 1, 90, 90),
        (d(2028, 1, 1), Cycle.SEMIANNUALLY, 1, 182, 180),
        (d(2028, 7, 1), Cycle.SEMIANNUALLY, 1, 184, 180),
        (d(2028, 1, 1), Cycle.ANNUALLY, 1, 366, 360),  # a year = 366
        (d(2027, 1, 1), Cycle.ANNUALLY, 1, 365, 360),  # or 365
        (d(2027, 3, 1), Cycle.ANNUALLY, 1, 366, 360),  # contains 2028-02-29
        (d(2028, 3, 1), Cycle.ANNUALLY, 1, 365, 360),
        (d(2100, 1, 1), Cycle.ANNUALLY, 1, 365, 360),
        (d(2028, 1, 1), Cycle.BIENNIALLY, 1, 731, 720),
        (d(2028, 1, 1), Cycle.TRIENNIALLY, 1, 1096, 1080),
    ],
)
def test_period_length_days(start, cycle, anchor, calendar_days, thirty_days):
    assert period_length_days(start, cycle, anchor, CAL) == calendar_days
    assert period_length_days(start, cycle, anchor, THIRTY) == thirty_days
    assert period_length_days(start, cycle.value, anchor, "thirty_day") == thirty_days


# --- due for invoicing (rules §4) ------------------------------------------------------


@pytest.mark.parametrize(
    "today, invoice_days, expected",
    [
        (d(2026, 2, 28), 14, False),
        (d(2026, 3, 1), 14, True),  # exactly NDD − 14
        (d(2026, 3, 15), 14, True),
        (d(2026, 4, 20), 14, True),  # overdue: still due
        (d(2026, 3, 14), 0, False),
        (d(2026, 3, 15), 0, True),
        (d(2026, 2, 13), 30, True),
        (d(2026, 2, 12), 30, False),
    ],
)
def test_due_for_invoicing(today, invoice_days, expected):
    assert due_for_invoicing(today, d(2026, 3, 15), invoice_days) is expected


def test_due_for_invoicing_refuses_negative_days():
    with pytest.raises(ValueError):
        due_for_invoicing(d(2026, 3, 1), d(2026, 3, 15), -1)
