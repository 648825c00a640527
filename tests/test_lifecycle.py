"""Service state changes after a module's success (rules §6, §8): status, log, email, addons.

The factories here are shared with the other provisioning tests.
"""

import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import lifecycle, secrets
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    Client,
    EmailOutbox,
    EmailTemplate,
    Product,
    Server,
    Service,
    ServiceAddon,
    ServiceStatus,
)
from hostdesk.models.settings import Settings
from tests.factories import as_login

TODAY = pendulum.date(2026, 3, 17)
SETTINGS = Settings(company_name="Example Hosting")
PASSWORD = "Tr1cky-pass"


@pytest.fixture(autouse=True)
def secret_key():
    """Service passwords and module credentials are stored encrypted with this key."""
    secrets.configure("provisioning-tests-key")
    yield
    secrets.configure("")


# --- factories (used by test_provisioning, test_webhook, test_module_queue) ----------------


def make_admin(login="alice", role="full") -> Admin:
    return Admin.create(login=login, name=login, role=role)


def make_client(**fields) -> Client:
    values = dict(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    values.update(fields)
    return Client.create(**values)


def make_server(module="webhook", settings=None, **fields) -> Server:
    values = dict(name="web1", hostname="web1.example.net", ip_address="192.0.2.10",
                  module=module, settings=json.dumps(settings or {}))
    values.update(fields)
    return Server.create(**values)


def make_product(module="none", type="shared", server=None, settings=None, **fields) -> Product:
    values = dict(name="Starter Hosting", module=module, type=type, server=server,
                  module_settings=json.dumps(settings or {}))
    values.update(fields)
    return Product.create(**values)


def make_service(status=ServiceStatus.PENDING, product=None, client=None, **fields) -> Service:
    product = product or make_product()
    values = dict(client=client or make_client(), product=product, server=product.server,
                  domain="example.com", username="adal", password=secrets.encrypt(PASSWORD),
                  status=status,
                  registration_date=pendulum.date(2026, 1, 31), billing_cycle="monthly",
                  next_due_date=pendulum.date(2026, 3, 31), anchor_day=31,
                  payment_method="banktransfer", recurring_amount=Decimal("10.00"))
    values.update(fields)
    return Service.create(**values)


def make_addon(service, status=ServiceStatus.ACTIVE, **fields) -> ServiceAddon:
    values = dict(service=service, name="Backups", billing_cycle="monthly", status=status,
                  registration_date=pendulum.date(2026, 1, 31),
                  recurring_amount=Decimal("2.00"))
    values.update(fields)
    return ServiceAddon.create(**values)


def reload(service) -> Service:
    return Service.get_by_id(service.id)


def log_rows(action, object_id=None) -> list[ActivityLog]:
    query = ActivityLog.select().where(ActivityLog.action == action)
    if object_id is not None:
        query = query.where(ActivityLog.object_id == object_id)
    return list(query.order_by(ActivityLog.id))


def emails_sent() -> list[EmailOutbox]:
    return list(EmailOutbox.select().order_by(EmailOutbox.id))


# --- which command applies to which status ----------------------------------------------------


@pytest.mark.parametrize("command, allowed", [
    ("create", {"pending", "terminated", "cancelled"}),
    ("suspend", {"active"}),
    ("unsuspend", {"suspended"}),
    ("terminate", {"active", "suspended"}),
    ("change_package", {"active", "suspended"}),
    ("change_password", {"active"}),
    ("renew", {"active", "suspended"}),
])
def test_each_command_applies_to_its_statuses_only(command, allowed):
    for status in ServiceStatus.ALL:
        ok, why = lifecycle.command_allowed(command, status)
        assert ok == (status in allowed), (command, status)
        assert (why == "") == ok
        if not ok:
            assert f"this one is {status}" in why


def test_refusal_reason_names_the_command_and_the_statuses_it_needs():
    assert lifecycle.command_allowed("terminate", "pending") == (
        False, "Terminate applies to active or suspended services; this one is pending")


def test_a_modules_custom_command_is_judged_by_the_module_not_the_status():
    assert lifecycle.command_allowed("reboot", "pending") == (True, "")


# --- state changes ------------------------------------------------------------------------------


def test_activate_makes_the_service_active_logs_it_and_queues_the_welcome_email(db):
    service = make_service(status=ServiceStatus.PENDING)

    lifecycle.activate(service.id, as_login("alice"), settings=SETTINGS, password=PASSWORD)

    assert reload(service).status == ServiceStatus.ACTIVE
    [row] = log_rows("service.activate", service.id)
    assert row.admin_login == "alice"
    assert json.loads(row.before)["status"] == "pending"
    assert json.loads(row.after)["status"] == "active"
    [email] = emails_sent()
    assert email.template == "welcome_shared"
    assert email.to_address == "ada@example.com"
    assert email.related_type == "service" and email.related_id == service.id
    # The welcome email carries the password, encrypted while it waits in the outbox.
    assert email.body_encrypted and PASSWORD not in email.body
    body = secrets.decrypt(email.body)
    assert PASSWORD in body
    assert "Example Hosting" in body


def test_activate_uses_the_welcome_email_of_the_product_type_or_the_products_own(db):
    vps = make_service(product=make_product(type="vps", name="VPS"))
    lifecycle.activate(vps.id, as_login("alice"), settings=SETTINGS)
    EmailTemplate.create(name="welcome_shared_gold", subject="Gold {{ service.domain }}",
                         body="Gold welcome {{ password }}")
    gold = make_service(product=make_product(name="Gold", welcome_email="welcome_shared_gold"),
                        client=vps.client)
    lifecycle.activate(gold.id, as_login("alice"), settings=SETTINGS, password="pw-1")

    assert [e.template for e in emails_sent()] == ["welcome_vps", "welcome_shared_gold"]
    assert emails_sent()[1].subject == "Gold example.com"


def test_activate_of_a_terminated_service_clears_its_termination_date(db):
    service = make_service(status=ServiceStatus.TERMINATED, termination_date=TODAY)
    lifecycle.activate(service.id, as_login("alice"), settings=SETTINGS, send_email=False)
    fresh = reload(service)
    assert (fresh.status, fresh.termination_date) == (ServiceStatus.ACTIVE, None)
    assert emails_sent() == []


def test_suspend_with_a_blank_reason_records_non_payment(db):
    service = make_service(status=ServiceStatus.ACTIVE)

    lifecycle.suspend(service.id, "  ", as_login("alice"), settings=SETTINGS)

    fresh = reload(service)
    assert fresh.status == ServiceStatus.SUSPENDED
    assert fresh.suspension_reason == "Overdue on payment"
    assert fresh.version == service.version + 1
    [email] = emails_sent()
    assert email.template == "service_suspended"
    assert "Overdue on payment" in email.body
    [row] = log_rows("service.suspend", service.id)
    assert json.loads(row.before) == {"status": "active", "suspension_reason": ""}
    assert json.loads(row.after) == {"status": "suspended",
                                     "suspension_reason": "Overdue on payment"}


def test_suspend_keeps_a_custom_reason(db):
    service = make_service(status=ServiceStatus.ACTIVE)
    lifecycle.suspend(service.id, "Broken Terms of Service", as_login("alice"), settings=SETTINGS)
    assert reload(service).suspension_reason == "Broken Terms of Service"


def test_suspend_refuses_an_overlong_reason_and_writes_nothing(db):
    service = make_service(status=ServiceStatus.ACTIVE)
    with pytest.raises(ValidationError) as refused:
        lifecycle.suspend(service.id, "x" * 501, as_login("alice"), settings=SETTINGS)
    assert refused.value.field == "reason"
    assert reload(service).status == ServiceStatus.ACTIVE
    assert ActivityLog.select().count() == 0


def test_unsuspend_makes_it_active_and_clears_the_reason(db):
    service = make_service(status=ServiceStatus.SUSPENDED, suspension_reason="Abuse")
    lifecycle.unsuspend(service.id, as_login("alice"), settings=SETTINGS)
    fresh = reload(service)
    assert (fresh.status, fresh.suspension_reason) == (ServiceStatus.ACTIVE, "")
    assert [e.template for e in emails_sent()] == ["service_unsuspended"]


def test_terminate_dates_the_service_and_cancels_its_live_addons_the_same_day(db):
    service = make_service(status=ServiceStatus.SUSPENDED)
    live = [make_addon(service, status=s) for s in ("active", "suspended", "pending")]
    gone = make_addon(service, status="terminated", termination_date=pendulum.date(2025, 1, 1))
    other = make_addon(make_service(status=ServiceStatus.ACTIVE, client=service.client))

    lifecycle.terminate(service.id, as_login("alice"), today=TODAY, settings=SETTINGS)

    fresh = reload(service)
    assert (fresh.status, fresh.termination_date) == (ServiceStatus.TERMINATED, TODAY)
    for addon in live:
        addon = ServiceAddon.get_by_id(addon.id)
        assert (addon.status, addon.termination_date) == ("cancelled", TODAY)
    gone = ServiceAddon.get_by_id(gone.id)
    assert (gone.status, gone.termination_date) == ("terminated", pendulum.date(2025, 1, 1))
    assert ServiceAddon.get_by_id(other.id).status == "active"
    addon_logs = log_rows("addon.cancel")
    assert sorted(r.object_id for r in addon_logs) == sorted(a.id for a in live)
    assert json.loads(addon_logs[0].after) == {"status": "cancelled",
                                               "termination_date": "2026-03-17"}
    assert [e.template for e in emails_sent()] == ["service_terminated"]
    assert "2026-03-17" in emails_sent()[0].body


def test_a_state_change_is_refused_when_the_status_does_not_allow_it(db):
    service = make_service(status=ServiceStatus.PENDING)
    with pytest.raises(RuleViolation, match="Suspend applies to active services; this one is "
                                            "pending"):
        lifecycle.suspend(service.id, "", as_login("alice"), settings=SETTINGS)
    assert reload(service).status == ServiceStatus.PENDING
    assert ActivityLog.select().count() == 0
    assert emails_sent() == []


def test_an_unknown_service_is_named_in_the_error(db):
    with pytest.raises(ValidationError, match="there is no service #999"):
        lifecycle.unsuspend(999, as_login("alice"), settings=SETTINGS)


def test_a_missing_email_template_is_logged_and_the_status_still_changes(db):
    service = make_service(product=make_product(welcome_email="welcome_nonexistent"))

    lifecycle.activate(service.id, as_login("alice"), settings=SETTINGS)

    assert reload(service).status == ServiceStatus.ACTIVE
    assert emails_sent() == []
    [row] = log_rows("email.not_queued", service.id)
    assert "welcome_nonexistent" in row.description


def test_change_password_stores_the_new_value_and_keeps_it_out_of_the_log(db):
    service = make_service(status=ServiceStatus.ACTIVE)
    lifecycle.change_password(service.id, "N3w-stored", as_login("alice"))
    assert reload(service).password == "N3w-stored"
    [row] = log_rows("service.change_password", service.id)
    assert "N3w-stored" not in row.after and service.password not in row.before
    assert json.loads(row.after) == {"password": "[secret]"}


def test_change_package_only_records_the_package_now_on_the_server(db):
    service = make_service(status=ServiceStatus.ACTIVE)
    lifecycle.change_package(service.id, as_login("alice"))
    fresh = reload(service)
    assert (fresh.status, fresh.version) == (ServiceStatus.ACTIVE, service.version)
    [row] = log_rows("service.change_package", service.id)
    assert json.loads(row.after) == {"product": service.product_id, "billing_cycle": "monthly",
                                     "recurring_amount": "10.00"}


@pytest.mark.parametrize("server", [True, False])
def test_a_state_change_returns_the_service_as_stored_with_its_product_client_and_server(db, server):
    """The row comes back with the UPDATE instead of a second read: the same values."""
    product = make_product(module="webhook", server=make_server() if server else None)
    service = make_service(status=ServiceStatus.ACTIVE, product=product)
    returned = lifecycle.terminate(service.id, as_login("alice"), today=TODAY, settings=SETTINGS)
    stored = reload(service)
    assert returned.__data__ == stored.__data__ and returned.version == service.version + 1
    assert (returned.product.name, returned.client.email) == (product.name, stored.client.email)
    assert (returned.server.name if returned.server_id else None) == (
        stored.server.name if stored.server_id else None)
