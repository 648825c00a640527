"""A host starts from an empty database (issue 15): every record is made through the setup
functions (no factory), an order uses them, the first invoice is paid and the daily run
reaches the first renewal; the amounts are checked to the cent."""

from decimal import Decimal

import pendulum

from hostdesk.automation.cron import run_daily
from hostdesk.models import clients, products, services
from hostdesk.models.catalog_addons import add_catalog_addon
from hostdesk.models.clock import Clock
from hostdesk.models.invoicing import record_payment
from hostdesk.models.orders import DomainRequest, LineRequest, OrderRequest, place_order
from hostdesk.models.payment_methods import add_payment_method
from hostdesk.models.promotion_setup import add_promotion
from hostdesk.models.schema import Admin, Invoice, InvoiceLine, LineKind, Service
from hostdesk.models.settings import Settings
from hostdesk.models.tlds import add_tld
from tests.factories import as_login

TODAY = pendulum.date(2026, 1, 10)
SETTINGS = Settings(smtp_port=1)
MODULES = ("none",)


def test_from_zero_to_the_first_renewal(db):
    admin = Admin.create(login="owner", role="full")
    group = clients.add_client_group({"name": "Agencies", "separate_invoices": "no"},
                                     admin=as_login("owner"))
    add_payment_method({"name": "wire", "sort_order": "0"}, admin=as_login("owner"))
    client = clients.add_client({"first_name": "Ada", "last_name": "Lovelace",
                                 "email": "ada@example.com", "country": "GB",
                                 "group": "Agencies", "default_payment_method": "wire"},
                                admin=as_login("owner"))
    assert client.group_id == group.id
    product = products.add_product(
        {"name": "Cloud S", "type": "vps", "module": "none", "auto_setup": "never",
         "welcome_email": "welcome_vps",
         "prices": {"monthly": ("10.00", "5.00"), "quarterly": ("27.00", "2.50"),
                    "annually": ("100.00", "0.00")}},
        admin=as_login("owner"), modules=MODULES)
    product = products.add_config_option(product.id, product.version, {
        "name": "Backups", "option_type": "yesno",
        "choices": [{"name": "Daily", "prices": {"monthly": "3.00"}}]}, admin=as_login("owner"))
    addon = add_catalog_addon({"name": "Monitoring", "prices": {"monthly": "1.50"},
                               "products": ["Cloud S"]}, admin=as_login("owner"), modules=MODULES)
    add_promotion({"code": "HELLO", "type": "percentage", "value": "20", "recurring": "1",
                   "products": "Cloud S", "cycles": "monthly"}, admin=as_login("owner"))
    add_tld({"name": ".dev", "register_price": "15.00", "transfer_price": "15.00",
             "renew_price": "16.00"}, admin=as_login("owner"))

    result = place_order(OrderRequest(
        client_id=client.id, promo_code="hello", status="active",
        lines=[LineRequest(product=product.id, cycle="monthly")],
        domain=DomainRequest(action="register", name="ada.dev", years="1")), admin, TODAY)
    # 10.00 + 5.00 setup - 20% of 10.00 + 15.00 domain
    assert result.invoice.total == Decimal("28.00")
    assert result.order.payment_method == "wire"
    service_id = result.service_ids[0]
    services.add_addon(service_id, admin, TODAY, catalog_addon_id=addon.id)
    assert record_payment(result.invoice.id, "28.00", date=TODAY, method="wire",
                          admin=as_login("owner")).invoice.status == "paid"

    renewal_day = pendulum.date(2026, 2, 10)
    run_daily(SETTINGS, Clock("UTC", renewal_day.subtract(days=14)), send_emails=False)
    renewal = (InvoiceLine.select().join(Invoice)
               .where(InvoiceLine.kind == LineKind.RENEWAL, InvoiceLine.item_id == service_id,
                      InvoiceLine.item_type == "service").get())
    assert renewal.period_start == renewal_day
    assert renewal.amount == Decimal("8.00")  # one discounted renewal: 20% off 10.00
    assert renewal.invoice.payment_method == "wire"
    assert renewal.invoice.due_date == renewal_day
    assert Service.get_by_id(service_id).promotion_uses == 1
