"""Rules §7: upgrade/downgrade quotes on both day bases."""

import dataclasses
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models.cycles import Cycle, DayBasis, UpgradeQuote, upgrade_quote
from hostdesk.models.errors import ValidationError

d = pendulum.date
CAL = DayBasis.CALENDAR
THIRTY = DayBasis.THIRTY_DAY


def quote(old, old_cycle, new, new_cycle, ndd, today, basis, anchor=1, **kwargs) -> UpgradeQuote:
    return upgrade_quote(
        old_amount=Decimal(old),
        old_cycle=old_cycle,
        new_amount=Decimal(new),
        new_cycle=new_cycle,
        ndd=ndd,
        today=today,
        anchor_day=anchor,
        basis=basis,
        **kwargs,
    )


def figures(q: UpgradeQuote) -> tuple[str, str, str]:
    return str(q.credit), str(q.charge), str(q.payable)


# --- the worked case: 10.00/month → 25.00/month, 12 days left in a 30-day period ------


@pytest.mark.parametrize(
    "basis, ndd, today, anchor",
    [
        (CAL, d(2026, 5, 1), d(2026, 4, 19), 1),  # April has 30 days
        (CAL, d(2026, 7, 1), d(2026, 6, 19), 1),  # June has 30 days
        (CAL, d(2026, 7, 15), d(2026, 7, 3), 15),  # [15 Jun, 15 Jul) has 30 days
        (THIRTY, d(2026, 2, 1), d(2026, 1, 20), 1),  # January counts 30 days
        (THIRTY, d(2028, 3, 1), d(2028, 2, 18), 1),  # so does February 2028
        (THIRTY, d(2026, 5, 1), d(2026, 4, 19), 1),
    ],
)
def test_rules_worked_case(basis, ndd, today, anchor):
    q = quote("10.00", Cycle.MONTHLY, "25.00", Cycle.MONTHLY, ndd, today, basis, anchor)
    assert figures(q) == ("4.00", "10.00", "6.00")
    assert (q.days_remaining, q.old_period_days, q.new_period_days) == (12, 30, 30)
    assert q.discount == Decimal("0.00")
    assert q.credit_to_client == Decimal("0.00")
    assert q.new_ndd == ndd  # the NDD never changes on an upgrade
    assert not q.is_downgrade


def test_worked_amounts_in_months_that_are_not_30_days_on_the_calendar_basis():
    # 12 days left of January (31 days): 10 × 12/31 = 3.87, 25 × 12/31 = 9.68.
    q = quote("10.00", "monthly", "25.00", "monthly", d(2026, 2, 1), d(2026, 1, 20), CAL)
    assert figures(q) == ("3.87", "9.68", "5.81")
    assert (q.old_period_days, q.new_period_days) == (31, 31)
    # 12 days left of February 2028 (29 days): 10 × 12/29 = 4.14, 25 × 12/29 = 10.34.
    q = quote("10.00", "monthly", "25.00", "monthly", d(2028, 3, 1), d(2028, 2, 18), CAL)
    assert figures(q) == ("4.14", "10.34", "6.20")
    assert q.old_period_days == 29


def test_rules_worked_case_across_cycles():
    """Rules §7: 2399.95/year, period 2012-05-01 → 2013-05-01, on 2012-05-11 to 249.95/month:
    R = 355, credit 2399.95 × 355/365 = 2334.20, charge 11 × 249.95 + 249.95 × 21/31 = 2918.77
    (the month walk back from the NDD), payable 584.57 — not WHMCS's per-day 2957.74."""
    q = quote("2399.95", Cycle.ANNUALLY, "249.95", Cycle.MONTHLY, d(2013, 5, 1), d(2012, 5, 11),
              CAL, anchor=1)
    assert figures(q) == ("2334.20", "2918.77", "584.57")
    assert (q.days_remaining, q.old_period_days) == (355, 365)
    assert q.new_ndd == d(2013, 5, 1)
    assert q.charge != Decimal("2957.74")
    assert not q.is_downgrade


# --- every cycle -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "cycle, calendar_value, calendar_days, thirty_value, thirty_days",
    [
        (Cycle.MONTHLY, "38.71", 31, "40.00", 30),
        (Cycle.QUARTERLY, "13.04", 92, "13.33", 90),
        (Cycle.SEMIANNUALLY, "6.52", 184, "6.67", 180),
        (Cycle.ANNUALLY, "3.28", 366, "3.33", 360),  # 2028 is a leap year
        (Cycle.BIENNIALLY, "1.64", 731, "1.67", 720),
        (Cycle.TRIENNIALLY, "1.09", 1096, "1.11", 1080),
    ],
)
def test_same_product_same_cycle_nets_to_zero(cycle, calendar_value, calendar_days, thirty_value, thirty_days):
    """100.00 per cycle, 12 days before 2029-01-01: credit = charge, L' = L, nothing to pay."""
    for basis, value, days in ((CAL, calendar_value, calendar_days), (THIRTY, thirty_value, thirty_days)):
        q = quote("100.00", cycle, "100.00", cycle, d(2029, 1, 1), d(2028, 12, 20), basis, credit_on_downgrade=True)
        assert figures(q) == (value, value, "0.00")
        assert (q.days_remaining, q.old_period_days, q.new_period_days) == (12, days, days)
        assert q.credit_to_client == Decimal("0.00")


# --- cycle changes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "basis, expected, new_days",
    [(CAL, ("4.00", "4.93", "0.93"), 365), (THIRTY, ("4.00", "5.00", "1.00"), 360)],
)
def test_monthly_to_annually(basis, expected, new_days):
    # L' is the year ending at the NDD: [2025-05-01, 2026-05-01) = 365 days.
    q = quote("10.00", Cycle.MONTHLY, "150.00", Cycle.ANNUALLY, d(2026, 5, 1), d(2026, 4, 19), basis)
    assert figures(q) == expected
    assert (q.old_period_days, q.new_period_days) == (30, new_days)
    assert q.new_ndd == d(2026, 5, 1)


@pytest.mark.parametrize(
    "basis, flag, expected, refund",
    [
        (CAL, True, ("4.00", "3.95", "0.00"), "0.05"),  # 120 × 12/365 = 3.945…
        (CAL, False, ("4.00", "3.95", "0.00"), "0.00"),
        (THIRTY, True, ("4.00", "4.00", "0.00"), "0.00"),  # 120 × 12/360 = 4.00
    ],
)
def test_monthly_to_annually_at_the_same_yearly_price(basis, flag, expected, refund):
    q = quote("10.00", "monthly", "120.00", "annually", d(2026, 5, 1), d(2026, 4, 19), basis, credit_on_downgrade=flag)
    assert figures(q) == expected
    assert str(q.credit_to_client) == refund


@pytest.mark.parametrize(
    "basis, expected, old_days, new_days",
    [(CAL, ("3.95", "5.81", "1.86"), 365, 31), (THIRTY, ("4.00", "6.00", "2.00"), 360, 30)],
)
def test_annually_to_monthly_near_the_ndd(basis, expected, old_days, new_days):
    # 120 × 12/365 = 3.945… → 3.95; 15 × 12/31 = 5.806… → 5.81.
    q = quote("120.00", Cycle.ANNUALLY, "15.00", Cycle.MONTHLY, d(2027, 1, 1), d(2026, 12, 20), basis)
    assert figures(q) == expected
    assert (q.days_remaining, q.old_period_days, q.new_period_days) == (12, old_days, new_days)


@pytest.mark.parametrize(
    "basis, expected",
    [
        # credit 120 × 195/365 = 64.11; charge: Jul–Dec are whole months (6 × 15.00) and
        # 11 days of June's 30 (5.50) = 95.50.
        (CAL, ("64.11", "95.50", "31.39")),
        # 120 × 195/360 = 65.00; 15 × 195/30 = 97.50.
        (THIRTY, ("65.00", "97.50", "32.50")),
    ],
)
def test_annually_to_monthly_with_most_of_the_year_left(basis, expected):
    q = quote("120.00", Cycle.ANNUALLY, "15.00", Cycle.MONTHLY, d(2027, 1, 1), d(2026, 6, 20), basis)
    assert figures(q) == expected
    assert q.days_remaining == 195


@pytest.mark.parametrize("basis, credit, charge, refund", [(CAL, "3.95", "1.94", "2.01"), (THIRTY, "4.00", "2.00", "2.00")])
def test_annually_to_cheaper_monthly_is_a_downgrade(basis, credit, charge, refund):
    q = quote("120.00", "annually", "5.00", "monthly", d(2027, 1, 1), d(2026, 12, 20), basis, credit_on_downgrade=True)
    assert figures(q) == (credit, charge, "0.00")
    assert str(q.credit_to_client) == refund
    assert q.is_downgrade


@pytest.mark.parametrize("basis, expected", [(CAL, ("6.00", "12.00", "6.00")), (THIRTY, ("6.10", "12.20", "6.10"))])
def test_leap_year_annual_period(basis, expected):
    # [2028-01-01, 2029-01-01) has 366 days: 183 × 12/366 = 6.00.
    q = quote("183.00", "annually", "366.00", "annually", d(2029, 1, 1), d(2028, 12, 20), basis)
    assert figures(q) == expected


def test_quarterly_to_semiannually_and_biennially_to_triennially():
    q = quote("30.00", "quarterly", "90.00", "semiannually", d(2028, 7, 1), d(2028, 6, 1), CAL)
    # [2028-04-01, 2028-07-01) = 91 days; [2028-01-01, 2028-07-01) = 182 days; R = 30.
    assert (q.old_period_days, q.new_period_days, q.days_remaining) == (91, 182, 30)
    assert figures(q) == ("9.89", "14.84", "4.95")
    q = quote("200.00", "biennially", "300.00", "triennially", d(2028, 7, 1), d(2028, 6, 1), THIRTY)
    assert (q.old_period_days, q.new_period_days) == (720, 1080)
    assert figures(q) == ("8.33", "8.33", "0.00")


# --- downgrades, discount, credit ------------------------------------------------------


@pytest.mark.parametrize("flag, refund", [(True, "6.00"), (False, "0.00")])
def test_downgrade_credit_only_with_the_setting(flag, refund):
    q = quote("25.00", "monthly", "10.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL, credit_on_downgrade=flag)
    assert figures(q) == ("10.00", "4.00", "0.00")
    assert str(q.credit_to_client) == refund
    assert q.is_downgrade


def test_promotion_discount_is_subtracted():
    q = quote("10.00", "monthly", "25.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), THIRTY, discount=Decimal("1.50"))
    assert figures(q) == ("4.00", "10.00", "4.50")
    assert str(q.discount) == "1.50"


def test_discount_larger_than_the_upgrade_never_becomes_client_credit():
    q = quote(
        "10.00", "monthly", "25.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL,
        discount=Decimal("7.00"), credit_on_downgrade=True,
    )
    assert (str(q.payable), str(q.credit_to_client)) == ("0.00", "0.00")


def test_discount_on_a_downgrade_does_not_add_to_the_credit():
    q = quote(
        "25.00", "monthly", "10.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL,
        discount=Decimal("2.00"), credit_on_downgrade=True,
    )
    assert (str(q.payable), str(q.credit_to_client)) == ("0.00", "6.00")


def test_discount_is_rounded_once_to_the_cent():
    q = quote("10.00", "monthly", "25.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL, discount=Decimal("0.125"))
    assert (str(q.discount), str(q.payable)) == ("0.13", "5.87")


def test_payable_is_made_of_the_rounded_figures():
    # credit 3.87 and charge 9.68 are rounded once each; the payable is their exact difference.
    q = quote("10.00", "monthly", "25.00", "monthly", d(2026, 2, 1), d(2026, 1, 20), CAL)
    assert q.payable == q.charge - q.credit - q.discount


# --- free ------------------------------------------------------------------------------


@pytest.mark.parametrize("basis, period", [(CAL, 28), (THIRTY, 30)])
def test_upgrade_from_free_starts_a_new_cycle_today(basis, period):
    q = quote("0", Cycle.FREE, "25.00", Cycle.MONTHLY, None, d(2026, 1, 31), basis)
    assert figures(q) == ("0.00", "25.00", "25.00")
    assert q.new_ndd == d(2026, 2, 28)  # today + 1 cycle, anchored on the 31st
    assert (q.days_remaining, q.old_period_days, q.new_period_days) == (28, 0, period)


def test_upgrade_from_free_to_annually_on_a_leap_day():
    q = quote("0", "free", "120.00", "annually", None, d(2028, 2, 29), CAL, discount=Decimal("20"))
    assert figures(q) == ("0.00", "120.00", "100.00")
    assert q.new_ndd == d(2029, 2, 28)
    assert q.days_remaining == 365


def test_downgrade_to_free_has_no_ndd():
    q = quote("10.00", "monthly", "0", "free", d(2026, 5, 1), d(2026, 4, 19), CAL, credit_on_downgrade=True)
    assert figures(q) == ("4.00", "0.00", "0.00")
    assert str(q.credit_to_client) == "4.00"
    assert q.new_ndd is None
    assert q.new_period_days == 0


def test_free_to_free_is_all_zero():
    q = quote("0", "free", "0", "free", None, d(2026, 4, 19), CAL)
    assert figures(q) == ("0.00", "0.00", "0.00")
    assert q.new_ndd is None


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize("ndd", [d(2026, 4, 19), d(2026, 4, 18)])
def test_refused_when_ndd_not_after_today(ndd):
    with pytest.raises(ValidationError) as info:
        quote("10.00", "monthly", "25.00", "monthly", ndd, d(2026, 4, 19), CAL)
    assert info.value.field == "next_due_date"
    assert "must be after today (2026-04-19)" in info.value.message


def test_refused_without_ndd_for_a_recurring_service():
    with pytest.raises(ValidationError) as info:
        quote("10.00", "monthly", "25.00", "monthly", None, d(2026, 4, 19), CAL)
    assert info.value.field == "next_due_date"


@pytest.mark.parametrize("old_cycle, new_cycle", [("one_time", "monthly"), ("monthly", "one_time")])
def test_refused_for_one_time(old_cycle, new_cycle):
    with pytest.raises(ValidationError) as info:
        quote("10.00", old_cycle, "25.00", new_cycle, d(2026, 5, 1), d(2026, 4, 19), CAL)
    assert info.value.field == "billing_cycle"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"discount": Decimal("-1")}, "discount"),
        ({"new": "-25.00"}, "new_amount"),
        ({"old": "-10.00"}, "recurring_amount"),
    ],
)
def test_refused_negative_money(kwargs, field):
    args = {"old": "10.00", "new": "25.00"}
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(ValidationError) as info:
        quote(args["old"], "monthly", args["new"], "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL, **kwargs)
    assert info.value.field == field


def test_float_amounts_are_refused():
    with pytest.raises(TypeError):
        upgrade_quote(
            old_amount=10.0, old_cycle="monthly", new_amount=Decimal("25"), new_cycle="monthly",
            ndd=d(2026, 5, 1), today=d(2026, 4, 19), anchor_day=1, basis=CAL,
        )


def test_quote_is_frozen():
    q = quote("10.00", "monthly", "25.00", "monthly", d(2026, 5, 1), d(2026, 4, 19), CAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.payable = Decimal("0")  # type: ignore[misc]
