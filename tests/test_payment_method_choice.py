"""A disabled payment method (issue 15) is offered to and accepted for nothing new: a service,
a mass change or a payment naming it is refused with the field named, unless it is the
record's own method (a service keeps it; a payment on an invoice that names it is money
received). Nothing is written when refused."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import massupdate, services
from hostdesk.models.clock import Clock
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.invoicing import LineSpec, create_invoice, record_payment
from hostdesk.models.payment_methods import (
    edit_payment_method,
    enabled_methods,
    list_payment_methods,
)
from hostdesk.models.schema import Admin, LineKind, Payment, Service
from tests import factories as make
from tests.factories import as_login

TODAY = pendulum.date(2026, 5, 1)
CLOCK = Clock("UTC", TODAY)


@pytest.fixture
def boss(db):
    make.ensure_template("invoice_created")
    admin = Admin.create(login="boss", role="full")
    paypal = next(m for m in list_payment_methods() if m.name == "paypal")
    edit_payment_method(paypal.id, paypal.version, {"enabled": "no"}, admin=as_login("boss"))
    return admin


def test_the_offered_list_leaves_out_the_disabled_method(boss):
    assert enabled_methods() == ["banktransfer", "card"]


def test_a_service_keeps_its_disabled_method_but_no_other_service_takes_it(boss):
    keeps = make.service(payment_method="paypal")
    saved = services.save_service(keeps.id, keeps.version, services.parse_service_form(
        {"payment_method": "paypal", "domain": "kept.example"}), boss, clock=CLOCK)
    assert Service.get_by_id(saved.service.id).domain == "kept.example"
    other = make.service()
    with pytest.raises(ValidationError) as refused:
        services.save_service(other.id, other.version, services.parse_service_form(
            {"payment_method": "paypal"}), boss, clock=CLOCK)
    assert refused.value.field == "payment_method" and "disabled" in refused.value.message
    assert Service.get_by_id(other.id).payment_method == "banktransfer"
    with pytest.raises(ValidationErrors) as refused:
        massupdate.parse_mass_change({"payment_method": "paypal"})
    assert refused.value.errors[0].field == "payment_method"


def test_a_payment_names_the_invoice_method_or_an_enabled_one(boss):
    service = make.service()
    invoices = [create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=Decimal("10.00"),
                  item_type="service", item_id=service.id, period_start=start,
                  period_end=start.add(months=1))],
        date=TODAY, due_date=TODAY, payment_method=method, admin=as_login("boss"))
        for method, start in (("paypal", TODAY), ("card", TODAY.add(months=1)))]
    assert record_payment(invoices[0].id, "1.00", date=TODAY, method="paypal",
                          admin=as_login("boss")).payment.method == "paypal"
    with pytest.raises(ValidationError) as refused:
        record_payment(invoices[1].id, "1.00", date=TODAY, method="paypal", admin=as_login("boss"))
    assert refused.value.field == "method" and "disabled" in refused.value.message
    assert [p.invoice_id for p in Payment.select()] == [invoices[0].id]
