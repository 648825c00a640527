"""The acting admin, one way (issue 14): the daily run acts as `SYSTEM_ADMIN`, an unsaved
admin holding the reserved login, and every permission check takes an `Admin`."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.cron import run_daily
from hostdesk.models import invoicing
from hostdesk.models.admins import Identity, acting_admin
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied
from hostdesk.models.permissions import (
    ALL_PERMISSIONS,
    MANAGE_INVOICES,
    SYSTEM_ADMIN,
    SYSTEM_LOGIN,
    has_permission,
)
from hostdesk.models.schema import ActivityLog, Admin, Invoice, Payment
from hostdesk.models.settings import Settings
from tests import factories as make

NDD = pendulum.date(2026, 3, 15)
SETTINGS = Settings(smtp_port=1)  # no mail server: emails stay queued


def billed_by_the_daily_run() -> Invoice:
    service = make.service(next_due_date=NDD, recurring_amount=Decimal("10.00"))
    report = run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14)))
    assert report.tasks["invoices"]["done"] == 1
    return Invoice.get(Invoice.client == service.client_id)


def test_the_daily_run_acts_as_the_system_admin_which_is_never_saved(db):
    assert all(has_permission(SYSTEM_ADMIN, permission) for permission in ALL_PERMISSIONS)
    invoice = billed_by_the_daily_run()

    created = ActivityLog.get((ActivityLog.action == "invoice.create")
                              & (ActivityLog.object_id == invoice.id))
    assert created.admin_login == SYSTEM_LOGIN
    assert SYSTEM_ADMIN.id is None
    assert not Admin.select().where(Admin.login == SYSTEM_LOGIN).exists()


def test_a_support_admin_is_refused_invoice_actions_the_daily_run_may_take(db):
    invoice = billed_by_the_daily_run()
    support = make.admin("helpdesk", role="support")
    payments, log_rows = Payment.select().count(), ActivityLog.select().count()

    with pytest.raises(PermissionDenied) as refused:
        invoicing.record_payment(invoice.id, "10.00", date=NDD, method="card", admin=support)
    assert refused.value.permission == MANAGE_INVOICES and refused.value.login == "helpdesk"
    with pytest.raises(PermissionDenied):
        invoicing.cancel_invoice(invoice.id, support)
    assert (Payment.select().count(), ActivityLog.select().count()) == (payments, log_rows)
    assert Invoice.get_by_id(invoice.id).status == "unpaid"

    invoicing.cancel_invoice(invoice.id, SYSTEM_ADMIN)
    assert Invoice.get_by_id(invoice.id).status == "cancelled"


def test_the_acting_admin_of_a_command_is_the_stored_admin_or_one_refused_everything(db):
    boss = make.admin("boss", role="full")
    assert acting_admin(Identity("boss", "boss")).id == boss.id
    for stranger in ("nobody", SYSTEM_LOGIN):  # the reserved login is never a stored admin
        admin = acting_admin(Identity(stranger, stranger))
        assert not any(has_permission(admin, p) for p in ALL_PERMISSIONS)
        with pytest.raises(PermissionDenied) as refused:
            invoicing.cancel_invoice(1, admin)
        assert f"{stranger} (not an admin)" in str(refused.value)
    assert not Admin.select().where(Admin.login.in_(("nobody", SYSTEM_LOGIN))).exists()
