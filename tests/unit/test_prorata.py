"""Rules §3: prorata, on both day bases, rounded once."""

from decimal import Decimal
from fractions import Fraction

import pendulum
import pytest

from hostdesk.models.cycles import (
    Cycle,
    DayBasis,
    exact_prorata_backward,
    exact_prorata_forward,
    ndd_change_prorata,
    prorata_line_label,
    prorate,
)
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import sum_money

d = pendulum.date
CAL = DayBasis.CALENDAR
THIRTY = DayBasis.THIRTY_DAY


# --- prorate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, days, period_days, expected",
    [
        ("30.00", 9, 31, "8.71"),  # rules §3, A calendar
        ("60.00", 5, 31, "9.68"),  # rules §3, B calendar
        ("30.00", 9, 30, "9.00"),  # rules §3, A thirty_day
        ("60.00", 5, 30, "10.00"),  # rules §3, B thirty_day
        ("10.00", 12, 30, "4.00"),  # rules §7 credit
        ("25.00", 12, 30, "10.00"),  # rules §7 charge
        ("100.00", 7, 31, "22.58"),  # not 7 × round(100/31) = 7 × 3.23 = 22.61
        ("0.25", 1, 2, "0.13"),  # exact half rounds up
        ("0.05", 1, 2, "0.03"),
        ("12.00", 0, 30, "0.00"),
        ("12.00", 30, 30, "12.00"),
        ("120.00", 31, 366, "10.16"),
        ("120.00", 31, 365, "10.19"),
        ("120.00", 31, 360, "10.33"),
        ("-10.00", 1, 3, "-3.33"),  # a credit prorates the same way
    ],
)
def test_prorate(amount, days, period_days, expected):
    result = prorate(Decimal(amount), days, period_days)
    assert str(result) == expected


def test_prorate_multiplies_before_dividing():
    # The daily rate 1/3 is never rounded: 3 days of 1.00 at a 9-day period is 0.33,
    # and 27 days of 1.00 at an 81-day period is also 0.33, not 27 × 0.01 = 0.27.
    assert prorate(Decimal("1.00"), 27, 81) == Decimal("0.33")
    assert prorate(Decimal("1.00"), 3, 9) == Decimal("0.33")


@pytest.mark.parametrize("days, period_days", [(-1, 30), (1, 0), (1, -30)])
def test_prorate_refuses_bad_day_counts(days, period_days):
    with pytest.raises(ValueError):
        prorate(Decimal("10.00"), days, period_days)


def test_prorate_refuses_float():
    with pytest.raises(TypeError):
        prorate(10.0, 1, 30)


# --- NDD change prorata: the worked case ----------------------------------------------


@pytest.mark.parametrize(
    "basis, a_expected, b_expected, total",
    [(CAL, "8.71", "9.68", "18.39"), (THIRTY, "9.00", "10.00", "19.00")],
)
def test_rules_worked_case(basis, a_expected, b_expected, total):
    """A due 2012-01-01 at 30.00/month, B due 2012-01-05 at 60.00/month, new NDD 2012-01-10."""
    new_ndd = d(2012, 1, 10)
    a = ndd_change_prorata(Decimal("30.00"), Cycle.MONTHLY, d(2012, 1, 1), new_ndd, 1, basis)
    b = ndd_change_prorata(Decimal("60.00"), Cycle.MONTHLY, d(2012, 1, 5), new_ndd, 5, basis)
    assert (str(a), str(b)) == (a_expected, b_expected)
    assert str(sum_money([a, b])) == total


def test_worked_case_is_not_the_manuals_misprint():
    a = ndd_change_prorata(Decimal("30.00"), "monthly", d(2012, 1, 1), d(2012, 1, 10), 1, "calendar")
    assert a != Decimal("8.00")


def test_rules_worked_case_labels():
    assert prorata_line_label("A", d(2012, 1, 1), d(2012, 1, 10)) == "A (2012-01-01 \u2013 2012-01-09)"
    assert prorata_line_label("B", d(2012, 1, 5), d(2012, 1, 10)) == "B (2012-01-05 \u2013 2012-01-09)"


def test_label_across_month_and_leap_day():
    assert prorata_line_label("VPS Large", d(2028, 2, 15), d(2028, 3, 1)) == "VPS Large (2028-02-15 – 2028-02-29)"
    assert prorata_line_label("x", d(2027, 12, 20), d(2028, 1, 1)) == "x (2027-12-20 – 2027-12-31)"
    assert prorata_line_label("one day", d(2026, 5, 4), d(2026, 5, 5)) == "one day (2026-05-04 – 2026-05-04)"


def test_label_refuses_backwards_dates():
    with pytest.raises(ValidationError):
        prorata_line_label("x", d(2012, 1, 10), d(2012, 1, 10))


# --- NDD change prorata: other cases ---------------------------------------------------


@pytest.mark.parametrize(
    "amount, cycle, old, new, anchor, calendar, thirty",
    [
        # across a leap February: Jan 31 → Feb 29 (29 days, full) + 5 days of the 31-day
        # period Feb 29 → Mar 31.
        ("31.00", Cycle.MONTHLY, d(2028, 1, 31), d(2028, 3, 5), 31, "36.00", "35.13"),
        # a full February (29 days) then 10 days of March's 31-day period
        ("29.00", Cycle.MONTHLY, d(2028, 2, 1), d(2028, 3, 11), 1, "38.35", "37.70"),
        # 2100 February has 28 days
        ("28.00", Cycle.MONTHLY, d(2100, 2, 1), d(2100, 2, 15), 1, "14.00", "13.07"),
        # a whole period is exactly the amount on the calendar basis
        ("30.00", Cycle.MONTHLY, d(2012, 1, 1), d(2012, 2, 1), 1, "30.00", "31.00"),
        ("120.00", Cycle.ANNUALLY, d(2028, 1, 1), d(2028, 2, 1), 1, "10.16", "10.33"),
        ("120.00", Cycle.ANNUALLY, d(2027, 1, 1), d(2027, 2, 1), 1, "10.19", "10.33"),
        ("90.00", Cycle.QUARTERLY, d(2028, 1, 1), d(2028, 1, 15), 1, "13.85", "14.00"),
        ("180.00", Cycle.SEMIANNUALLY, d(2028, 1, 1), d(2028, 1, 11), 1, "9.89", "10.00"),
        ("240.00", Cycle.BIENNIALLY, d(2028, 1, 1), d(2028, 1, 31), 1, "9.85", "10.00"),
        ("360.00", Cycle.TRIENNIALLY, d(2028, 1, 1), d(2028, 1, 31), 1, "9.85", "10.00"),
        # two whole years of a monthly item
        ("10.00", Cycle.MONTHLY, d(2027, 1, 15), d(2029, 1, 15), 15, "240.00", "243.67"),
    ],
)
def test_ndd_change_prorata_cases(amount, cycle, old, new, anchor, calendar, thirty):
    assert str(ndd_change_prorata(Decimal(amount), cycle, old, new, anchor, CAL)) == calendar
    assert str(ndd_change_prorata(Decimal(amount), cycle, old, new, anchor, THIRTY)) == thirty


def test_each_period_uses_its_own_length():
    # 29.00 for Feb 2028 (29 days) + 10/31 of 29.00 for March; one rate for all 39 days
    # (29/29 per day) would give 39.00 instead.
    exact = exact_prorata_forward(Decimal("29.00"), "monthly", d(2028, 2, 1), d(2028, 3, 11), 1, "calendar")
    assert exact == Fraction(29) + Fraction(29 * 10, 31)


def test_exact_prorata_backward_uses_the_period_ending_at_the_ndd():
    # 12 days before 2026-05-01 lie in April (30 days).
    exact = exact_prorata_backward(Decimal("10.00"), "monthly", d(2026, 4, 19), d(2026, 5, 1), 1, "calendar")
    assert exact == Fraction(4)
    # 40 days before 2026-05-01: all of April (30 days) + 10 of March's 31.
    exact = exact_prorata_backward(Decimal("31.00"), "monthly", d(2026, 3, 22), d(2026, 5, 1), 1, "calendar")
    assert exact == Fraction(31) + 10


@pytest.mark.parametrize("new", [d(2012, 1, 1), d(2011, 12, 31)])
def test_ndd_change_prorata_refuses_a_new_ndd_not_after_the_old(new):
    with pytest.raises(ValidationError) as info:
        ndd_change_prorata(Decimal("30.00"), Cycle.MONTHLY, d(2012, 1, 1), new, 1, CAL)
    assert info.value.field == "next_due_date"
    assert "2012-01-01" in info.value.message


@pytest.mark.parametrize("cycle", [Cycle.FREE, Cycle.ONE_TIME])
def test_ndd_change_prorata_refuses_non_recurring(cycle):
    with pytest.raises(ValidationError) as info:
        ndd_change_prorata(Decimal("30.00"), cycle, d(2012, 1, 1), d(2012, 1, 10), 1, CAL)
    assert info.value.field == "billing_cycle"


def test_ndd_change_prorata_refuses_negative_amount():
    with pytest.raises(ValidationError) as info:
        ndd_change_prorata(Decimal("-1.00"), Cycle.MONTHLY, d(2012, 1, 1), d(2012, 1, 10), 1, CAL)
    assert info.value.field == "recurring_amount"
