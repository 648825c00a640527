"""The main screen's figures (models/dashboard.py) on a small data set, to the cent, on both
engines: revenue due per day for 30 days, monthly recurring revenue, overdue, last run."""

from __future__ import annotations

import re
from decimal import Decimal

import pendulum

from hostdesk.models.dashboard import dashboard_view
from hostdesk.models.db import database, is_postgres
from hostdesk.models.schema import CronRun, Invoice
from tests import factories as make

TODAY = pendulum.date(2026, 11, 1)
NOW = pendulum.datetime(2026, 11, 1, 8, 0, tz="UTC")


def d(day: str) -> pendulum.Date:
    return pendulum.parse(day).date()


def small_world():
    client = make.client()
    product = make.product()

    def service(cycle, amount, due, status="active"):
        return make.service(client, product, billing_cycle=cycle, recurring_amount=Decimal(amount),
                            next_due_date=due, status=status)

    first = service("monthly", "10.00", d("2026-11-03"))
    service("quarterly", "30.00", d("2026-11-03"))
    service("annually", "100.00", d("2026-11-30"))  # the 30th day: the last one counted
    service("semiannually", "7.77", d("2026-12-01"))  # due after the 30 days, still recurring
    for _ in range(3):  # 0.10 a year each: 0.025 a month together, rounded once
        service("annually", "0.10", d("2027-06-01"))
    service("monthly", "50.00", d("2026-11-05"), status="suspended")  # not active: nothing
    service("one_time", "99.00", None)  # does not recur
    service("monthly", "5.00", d("2026-10-20"))  # due in the past: not in the next 30 days
    make.addon(first, recurring_amount=Decimal("3.33"), next_due_date=d("2026-11-03"))
    make.domain(client, years=2, recurring_amount=Decimal("24.99"), next_due_date=d("2026-11-10"))
    make.domain(client, status="expired", recurring_amount=Decimal("9.00"),
                next_due_date=d("2026-11-10"))

    def invoice(total, paid, due, status="unpaid"):
        Invoice.create(client=client, date=due.subtract(days=14), due_date=due,
                       payment_method="banktransfer", total=Decimal(total),
                       amount_paid=Decimal(paid), status=status)

    invoice("50.00", "20.00", d("2026-10-31"))  # owes 30.00
    invoice("0.01", "0.00", d("2026-09-01"))
    invoice("12.34", "0.00", TODAY)  # due today: not overdue yet
    invoice("80.00", "80.00", d("2026-10-01"), status="paid")
    CronRun.create(run_date=d("2026-10-31"), status="failed", started_at=NOW.subtract(days=1),
                   finished_at=NOW.subtract(days=1).add(minutes=3),
                   report='{"tasks": {"invoices": {"done": 4, "failures": [{"item": "service #1",'
                          ' "error": "boom"}]}}}')
    CronRun.create(run_date=TODAY, status="succeeded", dry_run=True, started_at=NOW,
                   finished_at=NOW, report="{}")


def test_the_figures_to_the_cent(db):
    small_world()
    view = dashboard_view(TODAY, NOW)

    assert len(view.due_by_day) == 30
    assert view.due_by_day[0] == (TODAY, Decimal("0.00"))
    assert view.due_by_day[-1][0] == d("2026-11-30")
    due = {day: amount for day, amount in view.due_by_day if amount}
    assert due == {d("2026-11-03"): Decimal("43.33"), d("2026-11-10"): Decimal("24.99"),
                   d("2026-11-30"): Decimal("100.00")}
    assert view.due_total == Decimal("168.32")
    # 10 + 30/3 + 100/12 + 7.77/6 + 3 × 0.10/12 + 5 + 3.33 + 24.99/24 = 39.02458… → 39.02
    # (rounding each item first would give 39.03)
    assert view.monthly_recurring == Decimal("39.02")
    assert (view.overdue_total, view.overdue_invoices) == (Decimal("30.01"), 2)
    assert view.last_run.run_date == d("2026-10-31") and view.last_run.status == "failed"
    assert "failed: invoices" in view.last_run.summary
    assert view.warning.startswith("No successful daily run")
    assert view.counts.invoices_overdue == 2


def test_an_empty_database_shows_zeros(db):
    view = dashboard_view(TODAY, NOW)
    assert view.due_total == view.monthly_recurring == view.overdue_total == Decimal("0.00")
    assert view.last_run is None and view.overdue_invoices == 0


def test_the_revenue_due_reads_through_the_due_date_indexes(db):
    small_world()
    statements = []
    execute = type(db).execute_sql

    def spy(self, sql, params=None, *args, **kwargs):
        statements.append((sql, params))
        return execute(self, sql, params, *args, **kwargs)

    type(db).execute_sql = spy
    try:
        dashboard_view(TODAY, NOW)
    finally:
        type(db).execute_sql = execute
    due_queries = [(s, p) for s, p in statements if "next_due_date" in s and ">=" in s]
    assert len(due_queries) == 3  # services, addons, domains
    for sql, params in due_queries:
        if is_postgres():
            database.execute_sql("SET enable_seqscan = off")  # a tiny table: ask for the index
            plan = "\n".join(r[0] for r in database.execute_sql("EXPLAIN " + sql, params))
            database.execute_sql("RESET enable_seqscan")
            assert re.search(r"Index (Only )?Scan|Bitmap Index Scan", plan), plan
        else:
            plan = "\n".join(r[3] for r in database.execute_sql("EXPLAIN QUERY PLAN " + sql,
                                                                 params))
            assert re.search(r"SEARCH \w+ USING (COVERING )?INDEX \w*status_next_due_date", plan), plan
