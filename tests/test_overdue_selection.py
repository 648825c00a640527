"""What the daily run picks to suspend, terminate and end by fixed term (rules §4, §10, §11):
the selections read from the overdue invoices and the fixed-term products, and page by id."""

from decimal import Decimal

import pendulum

from hostdesk.models import cancellations, overdue
from hostdesk.models.invoicing import LineSpec, cancel_lines
from hostdesk.models.db import database
from hostdesk.models.schema import (
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    ModuleJob,
    ServiceStatus,
)
from hostdesk.models.settings import Settings
from tests import factories as f

TODAY = pendulum.date(2026, 3, 20)


def _bill(service, due):
    """An unpaid renewal invoice for `service`, due on `due` (written directly: the
    selections read rows, however they were made)."""
    invoice = Invoice.create(client=service.client_id, date=due, due_date=due,
                             payment_method="banktransfer", total=Decimal("10.00"))
    spec = LineSpec(kind=LineKind.RENEWAL, description="renewal", amount=Decimal("10.00"),
                    item_type=ItemType.SERVICE, item_id=service.id, period_start=due,
                    period_end=due.add(months=1))
    InvoiceLine.create(**spec.row(invoice.id, 0))
    return invoice


def test_suspension_picks_overdue_services_and_pages_by_id(db):
    settings = Settings(suspend_days=5)
    overdue_ids = [f.service(next_due_date=pendulum.date(2026, 3, 1)).id for _ in range(5)]
    for service_id in overdue_ids:
        _bill(f.Service.get_by_id(service_id), pendulum.date(2026, 3, 1))
    recent = f.service()
    _bill(recent, TODAY.subtract(days=4))  # not overdue long enough
    paid = f.service()
    paid_invoice = _bill(paid, pendulum.date(2026, 3, 1))
    Invoice.update(status="paid").where(Invoice.id == paid_invoice.id).execute()
    overridden = f.service(override_suspend=True)
    _bill(overridden, pendulum.date(2026, 3, 1))
    suspended = f.service(status=ServiceStatus.SUSPENDED)
    _bill(suspended, pendulum.date(2026, 3, 1))
    waiting = f.service()
    _bill(waiting, pendulum.date(2026, 3, 1))
    ModuleJob.create(service=waiting, command="suspend", status="failed", source="cron")
    cancelled = f.service()
    line = InvoiceLine.get(InvoiceLine.invoice == _bill(cancelled, pendulum.date(2026, 3, 1)))
    f.admin("billing")
    with database.atomic():
        cancel_lines([line.id], f.admin("billing"), "waived")

    first = overdue.services_to_suspend(TODAY, settings, after_id=0, limit=3)
    rest = overdue.services_to_suspend(TODAY, settings, after_id=first[-1], limit=3)
    assert first + rest == sorted(overdue_ids)
    assert overdue.services_to_suspend(TODAY, settings, after_id=rest[-1], limit=3) == []


def test_termination_includes_suspended_services_and_honours_its_own_days(db):
    settings = Settings(terminate_days=30)
    old = f.service(status=ServiceStatus.SUSPENDED)
    _bill(old, TODAY.subtract(days=30))
    young = f.service(status=ServiceStatus.SUSPENDED)
    _bill(young, TODAY.subtract(days=29))
    assert overdue.services_to_terminate(TODAY, settings) == [old.id]
    assert overdue.services_to_terminate(TODAY, Settings(terminate_enabled=False)) == []


def test_fixed_term_ends_each_product_after_its_own_days(db):
    trial = f.product(auto_terminate_days=14)
    event = f.product(auto_terminate_days=90)
    ongoing = f.product()
    ended_trial = f.service(product_row=trial, registration_date=TODAY.subtract(days=14))
    f.service(product_row=trial, registration_date=TODAY.subtract(days=13))
    ended_event = f.service(product_row=event, registration_date=TODAY.subtract(days=100),
                            status=ServiceStatus.SUSPENDED)
    f.service(product_row=event, registration_date=TODAY.subtract(days=89))
    f.service(product_row=event, registration_date=TODAY.subtract(days=200),
              status=ServiceStatus.TERMINATED)
    f.service(product_row=ongoing, registration_date=TODAY.subtract(days=900))

    due = [s.id for s in cancellations.due_fixed_term(TODAY)]
    assert due == sorted([ended_trial.id, ended_event.id])
    assert [s.id for s in cancellations.due_fixed_term(TODAY, limit=1)] == due[:1]
    assert [s.id for s in cancellations.due_fixed_term(TODAY, after_id=due[0])] == due[1:]


def test_fixed_term_with_no_fixed_term_product_selects_nothing(db):
    f.service(registration_date=TODAY.subtract(days=5000))
    assert cancellations.due_fixed_term(TODAY) == []
