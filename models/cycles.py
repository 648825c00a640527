"""Billing cycles, anchored due dates, billing periods and prorata (rules §2, §3, §7).

Pure functions: dates in, dates and Decimals out. Prorated amounts are carried as exact
fractions and rounded once, at the end (rules §1).

Dates may be given as `datetime.date` or `pendulum.Date`; dates returned are
`pendulum.Date`. A datetime is refused: a due date has no time of day.

Bad input an admin can type (an NDD, an amount, a discount) raises `ValidationError`;
a broken invariant in the calling code (anchor day 32, negative day count, prorating a
`free` cycle) raises `ValueError`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal
from fractions import Fraction

import pendulum

from hostdesk.models.errors import ValidationError
from hostdesk.models.money import round_money, to_fraction
from hostdesk.models.parsing import refuse_control_characters


class Cycle(str, enum.Enum):
    FREE = "free"
    ONE_TIME = "one_time"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUALLY = "semiannually"
    ANNUALLY = "annually"
    BIENNIALLY = "biennially"
    TRIENNIALLY = "triennially"

    @property
    def months(self) -> int | None:
        """Months in one cycle; None for `free` and `one_time`, which do not repeat."""
        return _MONTHS.get(self)

    @property
    def is_recurring(self) -> bool:
        return self.months is not None

    @property
    def label(self) -> str:
        return _LABELS[self]

    def __str__(self) -> str:
        return self.value


_MONTHS = {
    Cycle.MONTHLY: 1,
    Cycle.QUARTERLY: 3,
    Cycle.SEMIANNUALLY: 6,
    Cycle.ANNUALLY: 12,
    Cycle.BIENNIALLY: 24,
    Cycle.TRIENNIALLY: 36,
}
_LABELS = {
    Cycle.FREE: "Free",
    Cycle.ONE_TIME: "One Time",
    Cycle.MONTHLY: "Monthly",
    Cycle.QUARTERLY: "Quarterly",
    Cycle.SEMIANNUALLY: "Semi-Annually",
    Cycle.ANNUALLY: "Annually",
    Cycle.BIENNIALLY: "Biennially",
    Cycle.TRIENNIALLY: "Triennially",
}
RECURRING_CYCLES: tuple[Cycle, ...] = tuple(sorted(_MONTHS, key=_MONTHS.__getitem__))


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


_BY_SQUASHED = {_squash(c.value): c for c in Cycle} | {_squash(c.label): c for c in Cycle}


def parse_cycle(text: str | Cycle | None, field: str) -> Cycle:
    """A cycle from its value (`semiannually`, `one_time`) or label (`Semi-Annually`), any case."""
    if isinstance(text, Cycle):
        return text
    if text is not None and not isinstance(text, str):
        raise TypeError(f"{field}: expected text, got {type(text).__name__}")
    if text is None or not text.strip():
        raise ValidationError(field, "choose a billing cycle")
    cycle = _BY_SQUASHED.get(_squash(refuse_control_characters(text, field)))
    if cycle is None:
        shown = text.strip()
        choices = ", ".join(c.value for c in Cycle)
        raise ValidationError(field, f"'{shown[:24]}' is not a billing cycle; choose one of: {choices}")
    return cycle


class DayBasis(str, enum.Enum):
    """Setting `prorata_day_basis` (rules §3)."""

    CALENDAR = "calendar"
    THIRTY_DAY = "thirty_day"

    def __str__(self) -> str:
        return self.value


# --- dates -----------------------------------------------------------------------------


def _as_date(value: dt.date, name: str = "date") -> pendulum.Date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
    if isinstance(value, pendulum.Date):
        return value
    return pendulum.date(value.year, value.month, value.day)


def _days_between(start: dt.date, end: dt.date) -> int:
    return end.toordinal() - start.toordinal()


def _cycle_months(cycle: Cycle | str) -> int:
    months = Cycle(cycle).months
    if months is None:
        raise ValueError(f"a {Cycle(cycle).value} cycle has no due dates")
    return months


@lru_cache(maxsize=65536)  # a billing run asks for the same few hundred periods again and again
def add_months_anchored(d: dt.date, months: int, anchor_day: int) -> pendulum.Date:
    """Move `d` by `months` (may be negative) and land on the anchor day, or on the last
    day of the month when it is shorter. Only d's year and month are used, so repeated
    moves never drift: 31 Jan → 29 Feb 2028 → 31 Mar 2028."""
    d = _as_date(d, "d")
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError("months must be an int")
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 31:
        raise ValueError(f"anchor_day must be 1–31, not {anchor_day!r}")
    year, month0 = divmod(d.year * 12 + d.month - 1 + months, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{d} moved by {months} months leaves the calendar")
    return pendulum.date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=65536)
def day_before(d: dt.date) -> pendulum.Date:
    """The last day of a period that ends (exclusively) on `d`."""
    return pendulum.date(d.year, d.month, d.day).subtract(days=1)


def next_due(ndd: dt.date, cycle: Cycle | str, anchor_day: int) -> pendulum.Date:
    """The due date one cycle after `ndd`."""
    return add_months_anchored(ndd, _cycle_months(cycle), anchor_day)


def previous_due(ndd: dt.date, cycle: Cycle | str, anchor_day: int) -> pendulum.Date:
    """The due date one cycle before `ndd`."""
    return add_months_anchored(ndd, -_cycle_months(cycle), anchor_day)


def billing_period(due: dt.date, cycle: Cycle | str, anchor_day: int) -> tuple[pendulum.Date, pendulum.Date]:
    """The period billed by due date `due`: [due, next due), end exclusive."""
    return _as_date(due, "due"), next_due(due, cycle, anchor_day)


def period_length_days(start: dt.date, cycle: Cycle | str, anchor_day: int, basis: DayBasis | str) -> int:
    """Days in the billing period starting at `start`: the calendar count, or 30 × months."""
    return _period_days(start, next_due(start, cycle, anchor_day), cycle, basis)


def _period_days(start: dt.date, end: dt.date, cycle: Cycle | str, basis: DayBasis | str) -> int:
    """Length of the billing period [start, end) of `cycle` on the given day basis."""
    if DayBasis(basis) is DayBasis.THIRTY_DAY:
        return 30 * _cycle_months(cycle)
    return _days_between(start, end)


def is_anchored(d: dt.date, anchor_day: int) -> bool:
    """Whether `d` is a due date of the anchor: the anchor day, or the last day of a shorter month."""
    return d.day == anchor_day or d.day == min(anchor_day, calendar.monthrange(d.year, d.month)[1])


def next_anchored(d: dt.date, anchor_day: int) -> pendulum.Date:
    """The first due date of the anchor after `d`."""
    same_month = add_months_anchored(d, 0, anchor_day)
    return same_month if same_month > d else add_months_anchored(d, 1, anchor_day)


def partial_period_charge(amount: Decimal | int, cycle: Cycle | str, start: dt.date, end: dt.date,
                          anchor_day: int, basis: DayBasis | str) -> Decimal:
    """What [start, end) costs when `end` is a due date and `start` is not (a period shorter
    than a cycle, rules §3): each day at the rate of its billing period, rounded once."""
    return round_money(exact_prorata_backward(amount, cycle, start, end, anchor_day, basis))


def due_for_invoicing(today: dt.date, ndd: dt.date, invoice_days: int) -> bool:
    """Rules §4: a renewal is invoiced once today ≥ NDD − invoice_days."""
    if isinstance(invoice_days, bool) or not isinstance(invoice_days, int) or invoice_days < 0:
        raise ValueError(f"invoice_days must be a whole number ≥ 0, not {invoice_days!r}")
    return _days_between(_as_date(ndd, "ndd"), _as_date(today, "today")) >= -invoice_days


# --- prorata ---------------------------------------------------------------------------


def _exact_prorate(amount: Fraction, days: int, period_days: int) -> Fraction:
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a whole number ≥ 0, not {days!r}")
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days <= 0:
        raise ValueError(f"period_days must be a whole number > 0, not {period_days!r}")
    return amount * days / period_days


def prorate(amount: Decimal | int, days: int, period_days: int) -> Decimal:
    """amount × days / period_days, rounded once (ROUND_HALF_UP)."""
    return round_money(_exact_prorate(to_fraction(amount), days, period_days))


def exact_prorata_forward(
    amount: Decimal | int,
    cycle: Cycle | str,
    start: dt.date,
    end: dt.date,
    anchor_day: int,
    basis: DayBasis | str,
) -> Fraction:
    """Unrounded charge for [start, end) where `start` is a due date.

    Walks the billing periods from `start`; the days in each period are charged at that
    period's daily rate (rules §3)."""
    start, end = _as_date(start, "start"), _as_date(end, "end")
    amount_f = to_fraction(amount)
    total = Fraction(0)
    period_start = start
    while period_start < end:
        period_end = next_due(period_start, cycle, anchor_day)
        days = _days_between(period_start, min(period_end, end))
        total += _exact_prorate(amount_f, days, _period_days(period_start, period_end, cycle, basis))
        period_start = period_end
    return total


def exact_prorata_backward(
    amount: Decimal | int,
    cycle: Cycle | str,
    start: dt.date,
    end: dt.date,
    anchor_day: int,
    basis: DayBasis | str,
) -> Fraction:
    """Unrounded value of [start, end) where `end` is a due date (an NDD).

    Walks the billing periods back from `end`, so the days before `end` are valued at
    the rate of the period that ends at `end`, earlier days at their own period's rate."""
    start, end = _as_date(start, "start"), _as_date(end, "end")
    amount_f = to_fraction(amount)
    total = Fraction(0)
    period_end = end
    while period_end > start:
        period_start = previous_due(period_end, cycle, anchor_day)
        days = _days_between(max(period_start, start), period_end)
        total += _exact_prorate(amount_f, days, _period_days(period_start, period_end, cycle, basis))
        period_end = period_start
    return total


def _check_amount(amount: Decimal | int, field: str) -> None:
    if to_fraction(amount) < 0:
        raise ValidationError(field, "must not be negative")


def ndd_change_prorata(
    amount: Decimal | int,
    cycle: Cycle | str,
    old_ndd: dt.date,
    new_ndd: dt.date,
    anchor_day: int,
    basis: DayBasis | str,
) -> Decimal:
    """The prorata line for moving the NDD from `old_ndd` to a later `new_ndd` (rules §3):
    the charge for [old_ndd, new_ndd), rounded once."""
    old_ndd, new_ndd = _as_date(old_ndd, "old_ndd"), _as_date(new_ndd, "new_ndd")
    if not Cycle(cycle).is_recurring:
        raise ValidationError("billing_cycle", f"a {Cycle(cycle).value} item has no next due date")
    if new_ndd <= old_ndd:
        raise ValidationError(
            "next_due_date", f"the new next due date must be after the current one ({old_ndd.isoformat()})"
        )
    _check_amount(amount, "recurring_amount")
    return round_money(exact_prorata_forward(amount, cycle, old_ndd, new_ndd, anchor_day, basis))


def prorata_line_label(name: str, old_ndd: dt.date, new_ndd: dt.date) -> str:
    """`Name (2012-01-01 – 2012-01-09)`: the days billed, the last one included."""
    old_ndd, new_ndd = _as_date(old_ndd, "old_ndd"), _as_date(new_ndd, "new_ndd")
    if new_ndd <= old_ndd:
        raise ValidationError("next_due_date", "the new next due date must be after the current one")
    last_day = new_ndd.subtract(days=1)
    return f"{name} ({old_ndd.isoformat()} \u2013 {last_day.isoformat()})"


# --- upgrades (rules §7) ---------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeQuote:
    """What the admin sees before confirming an upgrade or downgrade.

    `credit` and `charge` are each rounded once from their exact values; `discount` is
    rounded to the cent. `payable` = charge − credit − discount, made of those rounded
    figures so the quote adds up on screen and on the invoice, floored at 0.
    `credit_to_client` is what a downgrade gives back when `credit_on_downgrade` is on:
    credit − charge when positive, else 0. It is always 0 with the setting off. A
    discount never adds to it (it can only bring the payable down to 0).
    `new_ndd` is the NDD after the change: unchanged, except from `free` (today + 1 new
    cycle) and to `free` (None: a free service has no NDD).
    `old_period_days`/`new_period_days` are L and L' (0 for a free side).
    """

    credit: Decimal
    charge: Decimal
    discount: Decimal
    payable: Decimal
    credit_to_client: Decimal
    days_remaining: int
    old_period_days: int
    new_period_days: int
    new_ndd: pendulum.Date | None

    @property
    def is_downgrade(self) -> bool:
        return self.charge - self.credit - self.discount < 0


@dataclass(frozen=True)
class ExactUpgrade:
    """Unrounded credit and charge of an upgrade, with the figures they came from."""

    credit: Fraction
    charge: Fraction
    days_remaining: int
    old_period_days: int
    new_period_days: int
    new_ndd: pendulum.Date | None


def exact_upgrade(
    *,
    old_amount: Decimal | int,
    old_cycle: Cycle | str,
    new_amount: Decimal | int,
    new_cycle: Cycle | str,
    ndd: dt.date | None,
    today: dt.date,
    anchor_day: int,
    basis: DayBasis | str,
) -> ExactUpgrade:
    """credit = old × R / L and charge = new × R / L', unrounded (rules §7).

    When R spans more than one period of a cycle (an NDD paid ahead, or annual → monthly),
    each period's days use that period's length, as in rules §3; within one period this
    is exactly old × R / L. From `free`: no credit, the charge is one full new cycle and
    the NDD becomes today + 1 cycle. To `free`: no charge."""
    old_cycle, new_cycle = Cycle(old_cycle), Cycle(new_cycle)
    today = _as_date(today, "today")
    _check_amount(old_amount, "recurring_amount")
    _check_amount(new_amount, "new_amount")
    if Cycle.ONE_TIME in (old_cycle, new_cycle):
        raise ValidationError("billing_cycle", "a one-time item cannot be upgraded with prorata")

    if old_cycle is Cycle.FREE:
        if new_cycle is Cycle.FREE:
            return ExactUpgrade(Fraction(0), Fraction(0), 0, 0, 0, None)
        new_ndd = next_due(today, new_cycle, today.day)
        days = _days_between(today, new_ndd)
        length = period_length_days(today, new_cycle, today.day, basis)
        return ExactUpgrade(Fraction(0), to_fraction(new_amount), days, 0, length, new_ndd)

    if ndd is None:
        raise ValidationError("next_due_date", "a recurring service needs a next due date")
    ndd = _as_date(ndd, "ndd")
    if ndd <= today:
        raise ValidationError(
            "next_due_date",
            f"the next due date ({ndd.isoformat()}) must be after today ({today.isoformat()}) "
            "to quote an upgrade; invoice the renewal first",
        )
    days = _days_between(today, ndd)
    old_length = _period_days(previous_due(ndd, old_cycle, anchor_day), ndd, old_cycle, basis)
    credit = exact_prorata_backward(old_amount, old_cycle, today, ndd, anchor_day, basis)
    if new_cycle is Cycle.FREE:
        return ExactUpgrade(credit, Fraction(0), days, old_length, 0, None)
    new_length = _period_days(previous_due(ndd, new_cycle, anchor_day), ndd, new_cycle, basis)
    charge = exact_prorata_backward(new_amount, new_cycle, today, ndd, anchor_day, basis)
    return ExactUpgrade(credit, charge, days, old_length, new_length, ndd)


def upgrade_quote(
    *,
    old_amount: Decimal | int,
    old_cycle: Cycle | str,
    new_amount: Decimal | int,
    new_cycle: Cycle | str,
    ndd: dt.date | None,
    today: dt.date,
    anchor_day: int,
    basis: DayBasis | str,
    discount: Decimal | int = Decimal(0),
    credit_on_downgrade: bool = False,
) -> UpgradeQuote:
    """The quote of rules §7; see `UpgradeQuote` for what each figure means."""
    if to_fraction(discount) < 0:
        raise ValidationError("discount", "must not be negative")
    exact = exact_upgrade(
        old_amount=old_amount,
        old_cycle=old_cycle,
        new_amount=new_amount,
        new_cycle=new_cycle,
        ndd=ndd,
        today=today,
        anchor_day=anchor_day,
        basis=basis,
    )
    credit, charge, discount_r = round_money(exact.credit), round_money(exact.charge), round_money(discount)
    difference = charge - credit - discount_r
    zero = Decimal("0.00")
    # Only the downgrade itself (credit above charge) is refundable; a discount can bring
    # the payable down to zero but never turns into client credit.
    refund = max(credit - charge, zero) if credit_on_downgrade else zero
    return UpgradeQuote(
        credit=credit,
        charge=charge,
        discount=discount_r,
        payable=max(difference, zero),
        credit_to_client=refund,
        days_remaining=exact.days_remaining,
        old_period_days=exact.old_period_days,
        new_period_days=exact.new_period_days,
        new_ndd=exact.new_ndd,
    )
