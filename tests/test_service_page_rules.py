"""The service page's save (hostdesk.models.service_page / hostdesk.models.services) on both engines: issue 14
bugs 3 (next due date), 4 (status set by hand), 8 (promotion and quantity) and 13 (password
change logged)."""

import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import secrets, service_page
from hostdesk.models.clock import Clock
from hostdesk.models.errors import ConfirmationNeeded, ValidationError, ValidationErrors
from hostdesk.models.invoicing import LineSpec, create_invoice
from hostdesk.models.renewals import generate_due_invoices
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    InvoiceLine,
    LineKind,
    ModuleJob,
    Promotion,
    Service,
    ServiceAddon,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

D = Decimal
TODAY = pendulum.date(2026, 5, 10)
CLOCK = Clock("UTC", TODAY)
SETTINGS = Settings()


@pytest.fixture
def admin(db):
    secrets.configure("test")
    make.ensure_template("invoice_created")
    return Admin.create(login="ada", role="full")


def save(service, admin, confirm_far_ndd=False, **form):
    return service_page.save_service_page(
        service.id, service.version, {k: str(v) for k, v in form.items()}, admin, clock=CLOCK,
        settings=SETTINGS, confirm_far_ndd=confirm_far_ndd)


def refused_field(call) -> str:
    with pytest.raises((ValidationError, ValidationErrors)) as error:
        call()
    if isinstance(error.value, ValidationErrors):
        return ",".join(sorted(e.field for e in error.value.errors))
    return error.value.field


def unchanged(service):
    assert Service.get_by_id(service.id).version == service.version
    assert not ActivityLog.select().where(ActivityLog.action == "service.edit").exists()


# --- bug 3: the next due date -----------------------------------------------------------------


@pytest.mark.parametrize("status", ["active", "suspended"])
def test_an_active_or_suspended_service_cannot_lose_its_next_due_date(admin, status):
    service = make.service(status=status, next_due_date=pendulum.date(2026, 6, 1))
    assert refused_field(lambda: save(service, admin, next_due_date="")) == "next_due_date"
    unchanged(service)


def test_a_billable_status_needs_a_next_due_date_too(admin):
    service = make.service(status="pending", next_due_date=None)
    assert refused_field(lambda: save(service, admin, status="active")) == "next_due_date"
    unchanged(service)


def test_a_next_due_date_before_the_registration_is_refused(admin):
    service = make.service(next_due_date=pendulum.date(2026, 6, 1),
                           registration_date=pendulum.date(2025, 6, 1))
    assert refused_field(lambda: save(service, admin, next_due_date="1900-01-01")) \
        == "next_due_date"
    assert refused_field(lambda: save(service, admin, next_due_date="2025-05-31")) \
        == "next_due_date"
    unchanged(service)
    # nothing billed for 1900 and nothing terminated on the next run
    generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    assert not InvoiceLine.select().where(InvoiceLine.item_id == service.id).exists()
    assert Service.get_by_id(service.id).status == "active"


def test_a_far_next_due_date_is_asked_before_it_is_saved(admin):
    service = make.service(next_due_date=pendulum.date(2026, 6, 1),
                           registration_date=pendulum.date(2020, 6, 1))
    for far in ("2026-09-11", "2021-01-01"):  # more than 3 monthly cycles ahead / back
        with pytest.raises(ConfirmationNeeded) as asked:
            save(service, admin, next_due_date=far)
        assert asked.value.field == "next_due_date" and "3 Monthly cycles" in asked.value.message
        unchanged(service)
    saved = save(service, admin, confirm_far_ndd=True, next_due_date="2026-09-11")
    assert saved.service.next_due_date == pendulum.date(2026, 9, 11)
    near = save(saved.service, admin, next_due_date="2026-08-01")  # within 3 cycles: no question
    assert near.service.next_due_date == pendulum.date(2026, 8, 1)


# --- bug 4: status set by hand ---------------------------------------------------------------


def _renewal(item_type, item, start, end, amount="10.00"):
    return LineSpec(kind=LineKind.RENEWAL, description=f"{item_type} {item.id} {start}",
                    amount=D(amount), item_type=item_type, item_id=item.id, period_start=start,
                    period_end=end)


@pytest.mark.parametrize("status", ["cancelled", "terminated", "fraud"])
def test_ending_a_service_by_hand_ends_its_addons_and_future_lines(admin, status):
    service = make.service(next_due_date=pendulum.date(2026, 5, 20))
    addon = make.addon(service, next_due_date=pendulum.date(2026, 5, 20))
    gone = make.addon(service, name="Old", status="cancelled",
                      termination_date=pendulum.date(2026, 1, 1))
    started = create_invoice(service.client_id, [_renewal(
        "service", service, pendulum.date(2026, 4, 20), pendulum.date(2026, 5, 20))],
        date=TODAY, due_date=pendulum.date(2026, 4, 20), payment_method="card",
        admin=as_login("ada"))
    future = create_invoice(service.client_id, [
        _renewal("service", service, pendulum.date(2026, 5, 20), pendulum.date(2026, 6, 20)),
        _renewal("addon", addon, pendulum.date(2026, 5, 20), pendulum.date(2026, 6, 20), "2.00")],
        date=TODAY, due_date=pendulum.date(2026, 5, 20), payment_method="card",
        admin=as_login("ada"))

    saved = save(service, admin, status=status)

    assert saved.service.status == status and saved.service.termination_date == TODAY
    addon, gone = ServiceAddon.get_by_id(addon.id), ServiceAddon.get_by_id(gone.id)
    assert (addon.status, addon.termination_date) == (status, TODAY)
    assert (gone.status, gone.termination_date) == ("cancelled", pendulum.date(2026, 1, 1))
    lines = {line.invoice_id: line.cancelled for line in InvoiceLine.select()}
    assert lines == {started.id: False, future.id: True}  # the period already begun stays billed
    assert sorted(invoice for _, invoice, _ in saved.cancelled_lines) == [future.id, future.id]
    assert f"invoice #{future.id}" in saved.text
    assert "module was not called" in saved.text
    assert not ModuleJob.select().exists()
    log = ActivityLog.get(ActivityLog.action == "service.ended_by_hand")
    assert "module was not called" in log.description
    assert json.loads(log.after)["addons"] == [addon.id]


def test_a_status_that_does_not_end_the_service_touches_nothing_else(admin):
    service = make.service(next_due_date=pendulum.date(2026, 5, 20))
    addon = make.addon(service)
    saved = save(service, admin, status="suspended")
    assert saved.service.termination_date is None
    assert ServiceAddon.get_by_id(addon.id).status == "active"
    assert "module" not in saved.text


# --- bug 8: promotion and quantity, as the order form checks them ----------------------------


def test_the_service_page_refuses_the_promotions_the_order_form_refuses(admin):
    product = make.product(prices={"monthly": "10.00"})
    other = make.product(prices={"monthly": "10.00"})
    service = make.service(product_row=product, next_due_date=pendulum.date(2026, 6, 1))
    Promotion.create(code="OLD", type="percentage", value=D("10"),
                     expiry_date=pendulum.date(2026, 5, 9))
    Promotion.create(code="FULL", type="percentage", value=D("10"), max_uses=2, uses=2)
    Promotion.create(code="YEARLY", type="percentage", value=D("10"), cycles="annually")
    elsewhere = Promotion.create(code="OTHER", type="percentage", value=D("10"))
    elsewhere.product_links.model.create(promotion=elsewhere, product=other)
    for code in ("OLD", "FULL", "YEARLY", "OTHER", "NOPE"):
        assert refused_field(lambda: save(service, admin, promotion=code)) == "promotion", code
    unchanged(service)
    good = Promotion.create(code="GOOD", type="percentage", value=D("10"), max_uses=1)
    saved = save(service, admin, promotion="good")  # codes are matched as the order form does
    assert saved.service.promotion_id == good.id
    assert Promotion.get_by_id(good.id).uses == 1  # the page takes a use, like an order


def test_the_service_page_refuses_a_quantity_the_product_does_not_allow(admin):
    single = make.product(allows_quantity=False)
    service = make.service(product_row=single)
    assert refused_field(lambda: save(service, admin, quantity="2")) == "quantity"
    unchanged(service)
    many = make.product(allows_quantity=True)
    service = make.service(product_row=many)
    saved = save(service, admin, quantity="2").service
    assert saved.quantity == 2
    # moving two of them to a product sold one at a time is refused the same way
    assert refused_field(lambda: save(saved, admin, product=str(single.id))) == "quantity"


# --- bug 13: a password change is logged, never its value ------------------------------------


def test_a_password_change_is_logged_without_its_value(admin):
    service = make.service(password=secrets.encrypt("old-one"))
    saved = save(service, admin, password="n3w-Secret")
    assert secrets.decrypt(saved.service.password) == "n3w-Secret"
    assert "password changed" in saved.text
    log = ActivityLog.get(ActivityLog.action == "service.edit")
    assert log.description == "edited password"
    assert json.loads(log.after) == {"password": "changed"}
    for text in (log.before, log.after, log.description):
        assert "n3w-Secret" not in text and "old-one" not in text and "enc:" not in text
