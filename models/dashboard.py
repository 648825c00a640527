"""What the main screen shows first: money coming due, recurring revenue, what is overdue and
the last daily run, next to each area's counts. `dashboard_view` is the one read.

Money is summed by the database in integer cents (exact on both engines) and turned into
Decimal here; monthly recurring revenue divides each cycle's sum by its months as a
fraction and rounds once, half up, to the cent.

Every query reads through an index: the revenue due through `(status, next_due_date, id)`
of services, addons and domains (a range of 30 days of active items); overdue through
invoice `(status, due_date, id)`; recurring revenue reads the active items of each table
once (a sum over every active service cannot read less).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import pendulum
from peewee import fn

from hostdesk.models.cycles import Cycle
from hostdesk.models.listing import DashboardCounts, automation_warning, dashboard_counts, run_summary
from hostdesk.models.money import from_cents, round_money
from hostdesk.models.schema import CronRun, Domain, Invoice, InvoiceStatus, Service, ServiceAddon

DUE_DAYS = 30
RECURRING_TABLES = (Service, ServiceAddon)  # with a billing cycle; domains bill per year(s)


@dataclass(frozen=True)
class LastRun:
    id: int
    run_date: pendulum.Date
    status: str
    dry_run: bool
    finished_at: pendulum.DateTime | None
    summary: str


@dataclass(frozen=True)
class DashboardView:
    counts: DashboardCounts
    due_by_day: list[tuple[pendulum.Date, Decimal]]  # every day from today, 0.00 when none
    monthly_recurring: Decimal
    overdue_total: Decimal  # what unpaid invoices past their due date still owe
    overdue_invoices: int
    last_run: LastRun | None
    runs: list[CronRun]  # the latest runs, newest first (dry runs too)
    warning: str | None  # automation_warning for the runs

    @property
    def due_total(self) -> Decimal:
        return sum((amount for _, amount in self.due_by_day), Decimal("0.00"))


def _cents(value) -> int:
    return int(value or 0)


def revenue_due_by_day(today: pendulum.Date, days: int = DUE_DAYS
                       ) -> list[tuple[pendulum.Date, Decimal]]:
    """The recurring amounts of active services, addons and domains falling due on each of
    the `days` days from today."""
    end = today.add(days=days)
    cents: dict[pendulum.Date, int] = {}
    for model in (Service, ServiceAddon, Domain):
        query = (model.select(model.next_due_date, fn.SUM(model.recurring_amount).coerce(False))
                 .where((model.status == "active") & (model.next_due_date >= today)
                        & (model.next_due_date < end))
                 .group_by(model.next_due_date).tuples())
        for day, amount in query:
            cents[day] = cents.get(day, 0) + _cents(amount)
    return [(day, from_cents(cents.get(day, 0)))
            for day in (today.add(days=n) for n in range(days))]


def monthly_recurring_revenue() -> Decimal:
    """Active services and addons per month of their cycle, and active domains per month of
    their registration period; one-time and free items add nothing."""
    total = Fraction(0)
    for model in RECURRING_TABLES:
        query = (model.select(model.billing_cycle, fn.SUM(model.recurring_amount).coerce(False))
                 .where(model.status == "active").group_by(model.billing_cycle).tuples())
        for cycle, amount in query:
            months = _months(cycle)
            if months:
                total += Fraction(_cents(amount), months)
    domains = (Domain.select(Domain.years, fn.SUM(Domain.recurring_amount).coerce(False))
               .where(Domain.status == "active").group_by(Domain.years).tuples())
    for years, amount in domains:
        total += Fraction(_cents(amount), 12 * max(int(years), 1))
    return round_money(total / 100)


def _months(cycle: str) -> int | None:
    try:
        return Cycle(cycle).months
    except ValueError:
        return None


def overdue(today: pendulum.Date) -> tuple[Decimal, int]:
    """What unpaid invoices due before today still owe, and how many they are."""
    owed, count = (Invoice
                   .select(fn.SUM(Invoice.total - Invoice.amount_paid).coerce(False),
                           fn.COUNT(Invoice.id))
                   .where((Invoice.status == InvoiceStatus.UNPAID) & (Invoice.due_date < today))
                   .tuples().get())
    return from_cents(_cents(owed)), int(count or 0)


def last_run() -> LastRun | None:
    """The latest daily run that was not a dry run."""
    run = (CronRun.select().where(CronRun.dry_run == False)  # noqa: E712
           .order_by(CronRun.id.desc()).first())
    if run is None:
        return None
    return LastRun(run.id, run.run_date, run.status, run.dry_run, run.finished_at,
                   run_summary(run.report))


RECENT_RUNS = 20


def dashboard_view(today: pendulum.Date, now: pendulum.DateTime) -> DashboardView:
    recent_runs = list(CronRun.select().order_by(CronRun.id.desc()).limit(RECENT_RUNS))
    owed, overdue_count = overdue(today)
    return DashboardView(
        counts=dashboard_counts(today),
        due_by_day=revenue_due_by_day(today),
        monthly_recurring=monthly_recurring_revenue(),
        overdue_total=owed,
        overdue_invoices=overdue_count,
        last_run=last_run(),
        runs=recent_runs,
        warning=automation_warning(recent_runs, now),
    )
