"""The service page's rules (rules §6) on both engines."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import secrets, services
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied, StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CatalogAddonPrice,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    Service,
    ServiceAddon,
)
from tests import factories as make
from hostdesk.models.permissions import SYSTEM_ADMIN

D = Decimal
TODAY = pendulum.date(2026, 5, 10)
CLOCK = Clock("UTC", TODAY)


@pytest.fixture
def admin(db):
    secrets.configure("test")
    make.ensure_template("invoice_created")
    return Admin.create(login="ada", role="full")


def form_save(service, admin, **form):
    edit = services.parse_service_form({k: str(v) for k, v in form.items()})
    return services.save_service(service.id, service.version, edit, admin, clock=CLOCK).service


def test_save_writes_every_field_and_the_activity_log(admin):
    service = make.service(next_due_date=pendulum.date(2026, 6, 1))
    other = make.product(prices={"annually": "99.00"})
    saved = form_save(service, admin, domain="new.example.com", recurring_amount="12.50",
                      next_due_date="2026-06-30", billing_cycle="annually", product=other.id,
                      override_suspend_until="never", admin_notes="VIP", password="s3cret!")
    assert (saved.domain, saved.recurring_amount, saved.next_due_date, saved.anchor_day) == (
        "new.example.com", D("12.50"), pendulum.date(2026, 6, 30), 30)
    assert (saved.billing_cycle, saved.product_id, saved.override_suspend,
            saved.override_suspend_until) == ("annually", other.id, True, None)
    assert saved.password.startswith("enc:") and secrets.decrypt(saved.password) == "s3cret!"
    assert saved.version == service.version + 1
    log = ActivityLog.get(ActivityLog.action == "service.edit")
    assert '"recurring_amount": "12.50"' in log.after and '"10.00"' in log.before
    assert "s3cret" not in log.after and "enc:" not in log.after


def test_override_accepts_00_00_0000_and_dates_and_clear(admin):
    service = make.service()
    assert form_save(service, admin, override_suspend_until="00/00/0000").override_suspend is True
    service = Service.get_by_id(service.id)
    saved = form_save(service, admin, override_suspend_until="2026-07-01")
    assert (saved.override_suspend, saved.override_suspend_until) == (True, pendulum.date(2026, 7, 1))
    saved = form_save(saved, admin, override_suspend_until="")
    assert (saved.override_suspend, saved.override_suspend_until) == (False, None)


def test_stale_save_is_refused_and_the_first_save_is_kept(admin):
    service = make.service()
    opened_by_a = Service.get_by_id(service.id)
    opened_by_b = Service.get_by_id(service.id)
    form_save(opened_by_a, admin, recurring_amount="20.00")
    with pytest.raises(StaleRecordError, match="changed by someone else"):
        form_save(opened_by_b, admin, recurring_amount="30.00")
    assert Service.get_by_id(service.id).recurring_amount == D("20.00")


def test_bad_input_names_every_field_and_writes_nothing(admin):
    service = make.service()
    with pytest.raises(ValidationErrors) as error:
        form_save(service, admin, next_due_date="2026-02-30", recurring_amount="-5",
                  promotion="NOPE", quantity="abc", status="sleeping")
    fields = sorted(e.field for e in error.value.errors)
    assert fields == ["next_due_date", "promotion", "quantity", "recurring_amount", "status"]
    assert "2026-02-30 is not a date" in str(error.value)
    assert Service.get_by_id(service.id).version == service.version
    assert ActivityLog.select().count() == 0


def test_auto_recalculate_uses_the_product_price_for_the_cycle(admin):
    product = make.product(prices={"monthly": "7.00", "annually": "70.00"})
    service = make.service(product_row=product, recurring_amount=D("5.00"))
    edit = services.parse_service_form({"billing_cycle": "annually"})
    saved = services.save_service(service.id, service.version, edit, admin, clock=CLOCK,
                                  auto_recalculate=True).service
    assert saved.recurring_amount == D("70.00")
    kept = services.save_service(saved.id, saved.version,
                                 services.parse_service_form({"admin_notes": "x"}), admin,
                                 clock=CLOCK).service
    assert kept.recurring_amount == D("70.00")  # custom prices are not touched without the tick
    with pytest.raises(ValidationError, match="no Quarterly price") as error:
        services.save_service(saved.id, saved.version,
                              services.parse_service_form({"billing_cycle": "quarterly"}), admin,
                              clock=CLOCK, auto_recalculate=True)
    assert error.value.field == "billing_cycle"


def test_permissions_are_checked(admin):
    support = Admin.create(login="sam", role="support")
    sales = Admin.create(login="sid", role="sales")
    service = make.service()
    with pytest.raises(PermissionDenied, match="delete products/services"):
        services.delete_service(service.id, sales)
    with pytest.raises(PermissionDenied, match="delete products/services"):
        services.delete_service(service.id, support)
    assert Service.select().count() == 1


def test_move_to_another_client(admin):
    service = make.service(next_due_date=TODAY)
    from hostdesk.models.renewals import generate_due_invoices
    from hostdesk.models.settings import Settings

    generate_due_invoices(TODAY, Settings(), admin=SYSTEM_ADMIN)
    old_client, new_client = service.client_id, make.client()
    closed = make.client(status="closed")
    with pytest.raises(ValidationError, match="already belongs"):
        services.move_service(service.id, old_client, admin)
    with pytest.raises(ValidationError, match="closed"):
        services.move_service(service.id, closed.id, admin)
    moved = services.move_service(service.id, new_client.id, admin, cancel_old_unpaid=True)
    assert moved.client_id == new_client.id
    assert Invoice.get().client_id == old_client and Invoice.get().status == "cancelled"
    # the period can now be invoiced to the new owner
    generate_due_invoices(TODAY, Settings(), admin=SYSTEM_ADMIN)
    assert Invoice.select().where(Invoice.client == new_client.id).count() == 1


def test_delete_keeps_the_whole_record_in_the_log(admin):
    service = make.service(domain="gone.example.com")
    make.addon(service, name="Backups")
    snapshot = services.delete_service(service.id, admin)
    assert Service.select().count() == 0 and ServiceAddon.select().count() == 0
    restored = services.deleted_service_snapshot(service.id)
    assert restored == snapshot
    assert restored["service"]["domain"] == "gone.example.com"
    assert restored["addons"][0]["name"] == "Backups"


def test_addons_predefined_and_custom_with_first_invoice(admin):
    service = make.service()
    catalog = make.catalog_addon(name="Daily backups")
    CatalogAddonPrice.create(addon=catalog, cycle="monthly", price=D("3.00"), setup_fee=D("1.00"))
    predefined = services.add_addon(service.id, admin, TODAY, catalog_addon_id=catalog.id)
    assert (predefined.name, predefined.recurring_amount, predefined.billing_cycle) == (
        "Daily backups", D("3.00"), "monthly")
    invoice = Invoice.get()
    assert invoice.total == D("4.00")
    assert InvoiceLine.select().where(InvoiceLine.kind == "renewal").get().period_end == \
        pendulum.date(2026, 6, 10)
    custom = services.add_addon(service.id, admin, TODAY, name="Extra IP", price="2.50",
                                cycle="annually", generate_invoice=False)
    assert (custom.recurring_amount, custom.billing_cycle) == (D("2.50"), "annually")
    assert Invoice.select().count() == 1
    with pytest.raises(ValidationError, match="price"):
        services.add_addon(service.id, admin, TODAY, name="Bad", price="-1", cycle="monthly")


def test_addon_termination_date_only_when_terminated(admin):
    addon = make.addon(make.service())
    with pytest.raises(ValidationError, match="terminated or cancelled"):
        services.edit_addon(addon.id, addon.version, {"termination_date": "2026-05-01"}, admin)
    edited = services.edit_addon(addon.id, addon.version,
                                 {"status": "cancelled", "termination_date": "2026-05-01"}, admin)
    assert (edited.status, edited.termination_date) == ("cancelled", pendulum.date(2026, 5, 1))


def test_resend_welcome_queues_the_product_email(admin):
    product = make.product(type="vps")
    service = make.service(product_row=product, password=secrets.encrypt("pw-9f3"))
    services.resend_welcome(service.id, admin)
    email = EmailOutbox.get()
    assert email.template == "welcome_vps" and email.related_id == service.id
    # The password travels in the email, but is kept encrypted in the outbox.
    assert email.body_encrypted and "pw-9f3" not in email.body
    assert "pw-9f3" in secrets.decrypt(email.body)
    no_password = make.service(product_row=product, password="")
    services.resend_welcome(no_password.id, admin)
    assert EmailOutbox.select().count() == 2
    assert not EmailOutbox.get(EmailOutbox.related_id == no_password.id).body_encrypted
