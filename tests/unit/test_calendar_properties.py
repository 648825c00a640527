"""Properties of the calendar, prorata and parsing rules, checked with hypothesis."""

import datetime as dt
import re
from decimal import Decimal
from fractions import Fraction

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from hostdesk.models.cycles import (
    RECURRING_CYCLES,
    Cycle,
    DayBasis,
    add_months_anchored,
    billing_period,
    exact_prorata_forward,
    exact_upgrade,
    ndd_change_prorata,
    next_due,
    period_length_days,
    previous_due,
    prorate,
    upgrade_quote,
)
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import format_money, from_cents, round_money
from hostdesk.models.parsing import parse_amount, parse_date

# Per test, not a global profile, so other suites keep their own settings.
PROPERTY = settings(max_examples=150, deadline=None)

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2300, 12, 31)).map(
    lambda d: pendulum.date(d.year, d.month, d.day)
)
recurring = st.sampled_from(RECURRING_CYCLES)
bases = st.sampled_from(list(DayBasis))
amounts = st.integers(min_value=0, max_value=9_999_999_999).map(from_cents)
small_amounts = st.integers(min_value=0, max_value=10_000_000).map(from_cents)


def anchored(day: pendulum.Date) -> tuple[pendulum.Date, int]:
    """A due date and its anchor: the day's own date and day of month."""
    return day, day.day


# --- due dates never drift -------------------------------------------------------------


@PROPERTY
@given(start=dates, cycle=recurring, n=st.integers(min_value=0, max_value=40))
def test_advancing_n_times_equals_one_jump(start, cycle, n):
    ndd, anchor = anchored(start)
    for _ in range(n):
        ndd = next_due(ndd, cycle, anchor)
    assert ndd == add_months_anchored(start, n * cycle.months, anchor)
    assert ndd.day == min(anchor, ndd.days_in_month)
    for _ in range(n):
        ndd = previous_due(ndd, cycle, anchor)
    assert ndd == start


@PROPERTY
@given(start=dates, months=st.integers(min_value=-600, max_value=600), anchor=st.integers(1, 31))
def test_anchored_day_is_the_anchor_or_the_month_end(start, months, anchor):
    result = add_months_anchored(start, months, anchor)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day == min(anchor, result.days_in_month)


@PROPERTY
@given(due=dates, cycle=recurring)
def test_calendar_period_length_is_the_real_day_count(due, cycle):
    start, end = billing_period(due, cycle, due.day)
    days = (end - start).days
    assert period_length_days(due, cycle, due.day, DayBasis.CALENDAR) == days
    assert period_length_days(due, cycle, due.day, DayBasis.THIRTY_DAY) == 30 * cycle.months
    assert 28 * cycle.months <= days <= 31 * cycle.months


# --- prorata in pieces -----------------------------------------------------------------


@PROPERTY
@given(due=dates, cycle=recurring, basis=bases, amount=amounts, data=st.data())
def test_prorating_a_period_in_pieces_sums_to_the_whole(due, cycle, basis, amount, data):
    start, end = billing_period(due, cycle, due.day)
    length = (end - start).days
    cuts = sorted(data.draw(st.sets(st.integers(1, length - 1), max_size=8)))
    bounds = [0, *cuts, length]
    pieces = [b - a for a, b in zip(bounds, bounds[1:])]
    period_days = period_length_days(due, cycle, due.day, basis)

    rounded = sum(prorate(amount, days, period_days) for days in pieces)
    whole = prorate(amount, length, period_days)
    assert abs(rounded - whole) <= Decimal("0.005") * len(pieces)
    exact = sum(Fraction(amount) * days / period_days for days in pieces)
    assert exact == Fraction(amount) * length / period_days
    if basis is DayBasis.CALENDAR:
        assert whole == amount  # a whole calendar period costs exactly the amount


@PROPERTY
@given(due=dates, cycle=recurring, basis=bases, amount=small_amounts, data=st.data())
def test_ndd_change_prorata_splits_at_a_due_date(due, cycle, basis, amount, data):
    anchor = due.day
    middle = add_months_anchored(due, cycle.months * data.draw(st.integers(1, 3)), anchor)
    end = middle.add(days=data.draw(st.integers(1, 400)))
    whole = exact_prorata_forward(amount, cycle, due, end, anchor, basis)
    parts = exact_prorata_forward(amount, cycle, due, middle, anchor, basis) + exact_prorata_forward(
        amount, cycle, middle, end, anchor, basis
    )
    assert whole == parts
    assert ndd_change_prorata(amount, cycle, due, end, anchor, basis) == round_money(whole)


@PROPERTY
@given(due=dates, cycle=recurring, amount=small_amounts, n=st.integers(1, 6))
def test_calendar_prorata_of_whole_periods_is_exact(due, cycle, amount, n):
    end = add_months_anchored(due, n * cycle.months, due.day)
    assert ndd_change_prorata(amount, cycle, due, end, due.day, DayBasis.CALENDAR) == amount * n


# --- upgrade then reverse downgrade nets to zero ----------------------------------------


@PROPERTY
@given(
    ndd=dates,
    days_back=st.integers(1, 800),
    old_cycle=recurring,
    new_cycle=recurring,
    old_amount=small_amounts,
    new_amount=small_amounts,
    basis=bases,
)
def test_upgrade_then_reverse_downgrade_nets_to_zero(ndd, days_back, old_cycle, new_cycle, old_amount, new_amount, basis):
    today = ndd.subtract(days=days_back)
    common = dict(ndd=ndd, today=today, anchor_day=ndd.day, basis=basis)
    up = exact_upgrade(old_amount=old_amount, old_cycle=old_cycle, new_amount=new_amount, new_cycle=new_cycle, **common)
    back = exact_upgrade(old_amount=new_amount, old_cycle=new_cycle, new_amount=old_amount, new_cycle=old_cycle, **common)
    assert (up.charge - up.credit) + (back.charge - back.credit) == 0
    assert (up.old_period_days, up.new_period_days) == (back.new_period_days, back.old_period_days)

    q_up = upgrade_quote(old_amount=old_amount, old_cycle=old_cycle, new_amount=new_amount, new_cycle=new_cycle, **common)
    q_back = upgrade_quote(old_amount=new_amount, old_cycle=new_cycle, new_amount=old_amount, new_cycle=old_cycle, **common)
    # Rounded once each, the figures still mirror each other exactly.
    assert (q_up.credit, q_up.charge) == (q_back.charge, q_back.credit)
    assert q_up.payable == 0 or q_back.payable == 0


@PROPERTY
@given(ndd=dates, days_back=st.integers(1, 27), amount=small_amounts, cycle=recurring, basis=bases)
def test_within_one_period_the_quote_is_amount_times_r_over_l(ndd, days_back, amount, cycle, basis):
    today = ndd.subtract(days=days_back)
    up = exact_upgrade(
        old_amount=amount, old_cycle=cycle, new_amount=amount, new_cycle=Cycle.MONTHLY,
        ndd=ndd, today=today, anchor_day=ndd.day, basis=basis,
    )
    assert up.credit == Fraction(amount) * days_back / up.old_period_days
    assert up.charge == Fraction(amount) * days_back / up.new_period_days


# --- parsers never let bad values through ------------------------------------------------


@PROPERTY
@given(year=st.integers(0, 9999), month=st.integers(0, 13), day=st.integers(0, 32))
def test_parse_date_accepts_exactly_the_real_dates(year, month, day):
    text = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        real = dt.date(year, month, day)
    except ValueError:
        real = None
    try:
        parsed = parse_date(text, "d")
    except ValidationError as error:
        assert real is None
        assert error.message == f"{text} is not a date"
    else:
        assert real is not None
        assert parsed == real
        assert parsed.isoformat() == text


@PROPERTY
@given(text=st.text(max_size=20))
def test_parse_date_never_returns_an_invalid_date(text):
    try:
        parsed = parse_date(text, "d")
    except ValidationError:
        return
    assert isinstance(parsed, pendulum.Date)
    assert parsed.isoformat() == text.strip()


@PROPERTY
@given(value=st.decimals(allow_nan=True, allow_infinity=True))
def test_parse_amount_never_accepts_nan_inf_or_three_decimals(value):
    text = str(value)
    plain = re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", text) is not None
    try:
        parsed = parse_amount(text, "price", allow_negative=True, max_value=None)
    except ValidationError:
        assert not plain  # a plain amount with at most 2 decimals is never refused
        return
    assert value.is_finite()
    assert (Fraction(value) * 100).denominator == 1
    assert parsed.as_tuple().exponent == -2
    assert parsed == value


@PROPERTY
@given(text=st.text(alphabet="0123456789.,-eEnaNIifty+ _\t", max_size=16))
def test_parse_amount_on_any_text_gives_two_places_or_refuses(text):
    try:
        parsed = parse_amount(text, "price", allow_negative=True)
    except ValidationError as error:
        assert error.field == "price"
        return
    assert parsed.is_finite()
    assert parsed.as_tuple().exponent == -2
    assert abs(parsed) <= Decimal("99999999.99")
    digits_after_point = text.strip().partition(".")[2]
    assert len(digits_after_point) <= 2


@PROPERTY
@given(cents=st.integers(-9_999_999_999, 9_999_999_999))
def test_formatted_amounts_parse_back(cents):
    amount = from_cents(cents)
    assert parse_amount(format_money(amount, ""), "price", allow_negative=True) == amount
