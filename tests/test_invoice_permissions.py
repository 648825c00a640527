"""Rules §12 inside the invoice rules: every admin action on invoices needs "manage invoices",
whoever calls it (a screen, the CLI, a script). A refusal names the permission and writes
nothing; the daily run's own login, and the rules acting under their own permission
(cancellation requests, downgrades), are not held up by it."""

import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing
from hostdesk.models.cancellations import request_cancellation
from hostdesk.models.errors import PermissionDenied
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.permissions import MANAGE_INVOICES, SYSTEM_LOGIN
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from hostdesk.models.schema import (
    ActivityLog,
    Client,
    CreditEntry,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    LineKind,
    ModuleJob,
    Payment,
    Service,
)
from tests import factories as make
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 5, 1)
NEXT = pendulum.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def admins(db):
    make.ensure_template("invoice_created")
    make.admin("full-admin", role="full")
    make.admin("sales-admin", role="sales")
    make.admin("support-admin", role="support")
    make.admin("gone-admin", role="full", active=False)


def unpaid_invoice(service: Service, *amounts: str) -> Invoice:
    """An unpaid invoice for `service`: a renewal line, then a custom line per extra amount."""
    first, *others = amounts or ("10.00",)
    lines = [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=D(first),
                      item_type="service", item_id=service.id, period_start=TODAY,
                      period_end=NEXT)]
    lines += [LineSpec(kind=LineKind.CUSTOM, description=f"Extra {i}", amount=D(amount))
              for i, amount in enumerate(others)]
    return invoicing.create_invoice(service.client_id, lines, date=TODAY, due_date=TODAY,
                                    payment_method="card", admin=SYSTEM_ADMIN)


def world() -> dict:
    """A client with 20.00 credit, a service due today, its unpaid invoice of two lines
    (10.00 + 2.50) and a cancelled invoice of 7.00."""
    client = make.client(credit=D("20.00"))
    service = make.service(client_row=client, next_due_date=TODAY)
    invoice = unpaid_invoice(service, "10.00", "2.50")
    cancelled = invoicing.create_invoice(
        client.id, [LineSpec(kind=LineKind.CUSTOM, description="Setup", amount=D("7.00"))],
        date=TODAY, due_date=TODAY, payment_method="card", admin=SYSTEM_ADMIN)
    invoicing.cancel_invoice(cancelled.id, SYSTEM_ADMIN)
    extra_line = InvoiceLine.get((InvoiceLine.invoice == invoice.id)
                                 & (InvoiceLine.kind == LineKind.CUSTOM))
    return {"client": client, "service": service, "invoice": invoice, "cancelled": cancelled,
            "extra_line": extra_line}


def state() -> dict:
    """Everything an invoice action may write, read straight from the database."""
    return {
        "invoices": [(i.id, i.status, i.total, i.amount_paid, i.paid_date, i.version)
                     for i in Invoice.select().order_by(Invoice.id)],
        "lines": [(line.id, line.cancelled, line.applied_at)
                  for line in InvoiceLine.select().order_by(InvoiceLine.id)],
        "clients": [(c.id, c.credit, c.version) for c in Client.select().order_by(Client.id)],
        "services": [(s.id, s.next_due_date, s.version) for s in Service.select()],
        "rows": {model.__name__: model.select().count()
                 for model in (Payment, CreditEntry, ActivityLog, EmailOutbox, ModuleJob)},
    }


def _paid(w):
    invoice = Invoice.get_by_id(w["invoice"].id)
    assert (invoice.status, invoice.amount_paid) == ("paid", D("12.50"))
    assert Service.get_by_id(w["service"].id).next_due_date == NEXT


def _paid_from_credit(w):
    _paid(w)
    assert Client.get_by_id(w["client"].id).credit == D("7.50")


def _credited(w):
    assert Client.get_by_id(w["client"].id).credit == D("25.00")
    assert CreditEntry.get(CreditEntry.amount == D("5.00")).description == "goodwill"


def _cancelled(w):
    assert Invoice.get_by_id(w["invoice"].id).status == "cancelled"
    assert not invoicing.live_lines(w["invoice"].id)


def _reopened(w):
    invoice = Invoice.get_by_id(w["cancelled"].id)
    assert (invoice.status, invoice.total) == ("unpaid", D("7.00"))


def _line_removed(w):
    assert InvoiceLine.get_by_id(w["extra_line"].id).cancelled
    assert Invoice.get_by_id(w["invoice"].id).total == D("10.00")


# name: (the action as `login` on the world, what it did when allowed)
ACTIONS = {
    "record_payment": (lambda login, w: invoicing.record_payment(
        w["invoice"].id, "12.50", date=TODAY, method="card", transaction_ref="TX-1",
        admin=as_login(login)), _paid),
    "apply_credit": (lambda login, w: invoicing.apply_credit(
        w["invoice"].id, "12.50", admin=as_login(login), today=TODAY), _paid_from_credit),
    "add_credit": (lambda login, w: invoicing.add_credit(
        w["client"].id, "5.00", "goodwill", as_login(login)), _credited),
    "cancel_invoice": (lambda login, w: invoicing.cancel_invoice(w["invoice"].id, as_login(login)),
                       _cancelled),
    "reopen_invoice": (lambda login, w: invoicing.reopen_invoice(w["cancelled"].id, as_login(login)),
                       _reopened),
    "remove_line": (lambda login, w: invoicing.remove_line(w["extra_line"].id, as_login(login)),
                    _line_removed),
}


def refused_without_a_trace(action, login: str, setting: dict) -> PermissionDenied:
    before = state()
    with pytest.raises(PermissionDenied) as refused:
        action(login, setting)
    assert state() == before
    return refused.value


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_an_admin_without_manage_invoices_is_refused_and_nothing_is_written(db, name):
    setting = world()
    action, _ = ACTIONS[name]
    refusal = refused_without_a_trace(action, "support-admin", setting)
    assert refusal.permission == MANAGE_INVOICES
    assert str(refusal) == "support-admin lacks the permission 'manage invoices'"


@pytest.mark.parametrize("login", ["nobody", "gone-admin"])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_unknown_and_deactivated_logins_are_refused(db, name, login):
    setting = world()
    action, _ = ACTIONS[name]
    refusal = refused_without_a_trace(action, login, setting)
    assert refusal.permission == MANAGE_INVOICES


@pytest.mark.parametrize("login", ["sales-admin", "full-admin", SYSTEM_LOGIN])
@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_sales_full_and_the_daily_run_may_manage_invoices(db, name, login):
    setting = world()
    action, did = ACTIONS[name]
    logged = ActivityLog.select().where(ActivityLog.admin_login == login).count()
    action(login, setting)
    did(setting)
    assert ActivityLog.select().where(ActivityLog.admin_login == login).count() > logged


def test_the_permission_is_checked_before_the_input(db):
    """A refused admin learns nothing about the invoices: not even whether one exists."""
    with pytest.raises(PermissionDenied):
        invoicing.record_payment(999_999, "abc", date=TODAY, method="", admin=as_login("support-admin"))
    with pytest.raises(PermissionDenied):
        invoicing.remove_line(999_999, as_login("support-admin"))


def support_files_a_cancellation(setting):
    """A support admin's immediate cancellation: the request and the renewal line it cancelled."""
    request = request_cancellation(setting["service"].id, "immediate", "leaving",
                                   admin=find_admin("support-admin"))
    renewal = InvoiceLine.get((InvoiceLine.invoice == setting["invoice"].id)
                              & (InvoiceLine.kind == LineKind.RENEWAL))
    assert InvoiceLine.get_by_id(renewal.id).cancelled
    return request, renewal


def test_rules_acting_under_their_own_permission_still_change_invoices(db):
    """Support manages cancellation requests: filing one cancels the service's unpaid lines,
    and the building blocks other rules use (`cancel_lines`, `reopen_lines`,
    `credit_client`) take no "manage invoices"."""
    setting = world()
    request, renewal = support_files_a_cancellation(setting)
    assert renewal.id in json.loads(request.cancelled_line_ids)

    invoicing.reopen_lines(setting["invoice"].id, [renewal.id], as_login("support-admin"))
    assert not InvoiceLine.get_by_id(renewal.id).cancelled
    invoicing.credit_client(setting["client"].id, "1.00", "downgrade", as_login("support-admin"))
    assert Client.get_by_id(setting["client"].id).credit == D("21.00")


def test_support_deleting_a_cancellation_request_revives_its_invoice_lines(db):
    """Deleting a request is "manage cancellation requests": reopening the lines it cancelled
    is part of it, not a separate invoice action support would be refused."""
    from hostdesk.models.cancellations import delete_request

    request, renewal = support_files_a_cancellation(world())
    delete_request(request.id, find_admin("support-admin"), reopen_invoices=True)
    assert not InvoiceLine.get_by_id(renewal.id).cancelled
