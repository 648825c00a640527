"""Several admin processes and the daily run on one database at once (issue 9).

Short form here (bounded); `make bench` runs it longer with HOSTDESK_STRESS_SECONDS.
"""

import multiprocessing
import os
from collections import defaultdict
from decimal import Decimal

import pendulum
from peewee import fn

from hostdesk.models.db import bind
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    Client,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    ProductPrice,
    Service,
)
from tests.workers import admin_session, daily_runs

SECONDS = float(os.environ.get("HOSTDESK_STRESS_SECONDS", "12"))
ADMINS = int(os.environ.get("HOSTDESK_STRESS_ADMINS", "3"))
START_NDD = pendulum.date(2026, 6, 1)


def build(url):
    db = bind(url)
    with db.atomic():
        for i in range(ADMINS):
            Admin.create(login=f"admin{i}", role="full")
        product = Product.create(name="Shared", type="shared", module="none")
        ProductPrice.create(product=product, cycle="monthly", price=Decimal("10.00"))
        Client.insert_many([dict(first_name="C", last_name=str(i), email=f"c{i}@example.com")
                            for i in range(40)]).execute()
        Service.insert_many([dict(client=1 + i % 40, product=product.id, status="active",
                                  billing_cycle="monthly", registration_date=START_NDD.subtract(months=1),
                                  next_due_date=START_NDD.add(days=i % 10), anchor_day=1 + i % 10,
                                  recurring_amount=Decimal("10.00"), payment_method="card",
                                  domain=f"s{i}.example.com") for i in range(200)]).execute()
    db.close()


def test_admins_and_the_daily_run_together_keep_every_invariant(db_url):
    build(db_url)
    context = multiprocessing.get_context("spawn")
    with context.Pool(ADMINS + 1) as pool:
        runs = pool.apply_async(daily_runs, (db_url, SECONDS))
        sessions = [pool.apply_async(admin_session, (db_url, seed, SECONDS, f"admin{seed}"))
                    for seed in range(ADMINS)]
        counts = [s.get(timeout=SECONDS + 120) for s in sessions]
        daily = runs.get(timeout=SECONDS + 120)

    totals = defaultdict(int)
    for c in counts:
        for key, value in c.items():
            totals[key] += value
    assert daily["runs"] > 0 and totals["payments"] > 0 and totals["edits"] > 0
    assert daily["failures"] == []

    db = bind(db_url)
    # 1. each renewal period billed at most once
    live = (InvoiceLine.select(InvoiceLine.item_id, InvoiceLine.period_start, fn.COUNT(InvoiceLine.id))
            .where((InvoiceLine.kind == "renewal") & (InvoiceLine.cancelled == False))  # noqa: E712
            .group_by(InvoiceLine.item_id, InvoiceLine.period_start)
            .having(fn.COUNT(InvoiceLine.id) > 1))
    assert list(live.tuples()) == []
    # 2. every invoice total is the sum of its live lines; paid ones are covered by payments
    for invoice in Invoice.select():
        lines = [l.amount for l in InvoiceLine.select().where(
            (InvoiceLine.invoice == invoice.id) & (InvoiceLine.cancelled == False))]  # noqa: E712
        assert invoice.total == sum(lines, Decimal("0.00")), invoice.id
        paid = sum((p.amount for p in Payment.select().where(Payment.invoice == invoice.id)),
                   Decimal("0.00"))
        assert invoice.amount_paid == paid
        if invoice.status == "paid":
            assert paid >= invoice.total
    # 3. each paid renewal advanced its NDD exactly once: NDD = end of the latest paid period
    for service in Service.select():
        ends = [l.period_end for l in InvoiceLine.select().join(Invoice).where(
            (InvoiceLine.item_id == service.id) & (InvoiceLine.kind == "renewal")
            & (InvoiceLine.cancelled == False) & (Invoice.status == "paid"))]  # noqa: E712
        original = START_NDD.add(days=(service.id - 1) % 10)
        assert service.next_due_date == max(ends, default=original), service.id
        assert all(l.applied_at is not None for l in InvoiceLine.select().join(Invoice).where(
            (InvoiceLine.item_id == service.id) & (Invoice.status == "paid")))
    # 4. the activity log accounts for every change
    assert ActivityLog.select().where(ActivityLog.action == "payment.add").count() == Payment.select().count()
    assert ActivityLog.select().where(ActivityLog.action == "service.edit").count() == totals["edits"]
    assert ActivityLog.select().where(ActivityLog.action == "invoice.create").count() == Invoice.select().count()
    db.close()
    print(f"\nstress: {ADMINS} admins + daily run for {SECONDS}s: {dict(totals)}, "
          f"{daily['runs']} daily runs")
