"""An order line with configurable options and catalog addons (rules §6, §9): validated, priced
by models.pricing, written with the service, billed on the first invoice and renewed."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import lifecycle, products
from hostdesk.models.catalog_addons import add_catalog_addon
from hostdesk.models.errors import ValidationError
from hostdesk.models.orders import LineRequest, OrderRequest, place_order, quote_order
from hostdesk.models.pricing import product_options
from hostdesk.models.promotion_setup import add_promotion
from hostdesk.models.schema import (
    Admin,
    InvoiceLine,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 3, 15)
MODULES = ("none",)


@pytest.fixture
def setup(db):
    admin = Admin.create(login="owner", role="full")
    client = make.client(email="ada@example.com", default_payment_method="banktransfer")
    product = products.add_product(
        {"name": "Cloud", "type": "vps", "module": "none", "auto_setup": "never",
         "prices": {"monthly": ("10.00", "5.00"), "annually": ("100.00", "0.00")}},
        admin=as_login("owner"), modules=MODULES)
    products.add_config_option(product.id, product.version, {
        "name": "RAM", "option_type": "dropdown",
        "choices": [{"name": "1 GB", "prices": {"monthly": "0.00", "annually": "0.00"}},
                    {"name": "4 GB", "prices": {"monthly": ("6.00", "2.00"),
                                                "annually": "60.00"}}]},
        admin=as_login("owner"))
    other = products.add_product({"name": "Other", "type": "other", "module": "none",
                                  "prices": {"monthly": "1.00"}},
                                 admin=as_login("owner"), modules=MODULES)
    monitoring = add_catalog_addon({"name": "Monitoring", "prices": {
        "monthly": ("1.50", "0.50"), "annually": "15.00"}, "products": ["Cloud"]},
        admin=as_login("owner"), modules=MODULES)
    backup = add_catalog_addon({"name": "Backup", "prices": {"quarterly": "4.00"}},
                               admin=as_login("owner"), modules=MODULES)
    only_other = add_catalog_addon({"name": "Other only", "prices": {"monthly": "1.00"},
                                    "products": ["Other"]}, admin=as_login("owner"), modules=MODULES)
    ram = product_options(product.id)[0]
    return dict(admin=admin, client=client, product=product, other=other, ram=ram,
                four_gb=ram.choices[1][0], one_gb=ram.choices[0][0], monitoring=monitoring,
                backup=backup, only_other=only_other)


def order(s, **line):
    return OrderRequest(client_id=s["client"].id, lines=[LineRequest(product=s["product"].id,
                                                                     **line)])


def test_options_and_addons_are_written_billed_and_quoted(db, setup):
    s = setup
    request = order(s, cycle="monthly", config_options={s["ram"].id: s["four_gb"]},
                    addons=[s["monitoring"].id, s["backup"].id])
    quote = quote_order(request, TODAY)
    # 10.00 + 6.00 RAM, setup 5.00 + 2.00; Monitoring 1.50 + 0.50 setup; Backup (only sold
    # quarterly) 4.00
    assert quote.first_payment == D("29.00")
    assert quote.recurring == {"monthly": D("17.50"), "quarterly": D("4.00")}

    result = place_order(request, s["admin"], TODAY, Settings())
    assert result.invoice.total == D("29.00")
    service = Service.get_by_id(result.service_ids[0])
    assert service.recurring_amount == D("16.00")
    assert service.first_payment_amount == D("23.00")
    assert [(r.option_id, r.choice_id) for r in ServiceConfigOption.select()] == \
        [(s["ram"].id, s["four_gb"])]
    addons = list(ServiceAddon.select().order_by(ServiceAddon.name))
    assert [(a.name, a.billing_cycle, a.recurring_amount, a.setup_fee, a.status,
             a.next_due_date, a.service_id) for a in addons] == [
        ("Backup", "quarterly", D("4.00"), D("0.00"), "pending", TODAY, service.id),
        ("Monitoring", "monthly", D("1.50"), D("0.50"), "pending", TODAY, service.id)]
    lines = [(line.kind, line.item_type, line.amount) for line in InvoiceLine.select()
             .where(InvoiceLine.invoice == result.invoice.id).order_by(InvoiceLine.sort_order)]
    assert lines == [("first", "service", D("16.00")), ("setup", "service", D("7.00")),
                     ("renewal", "addon", D("1.50")), ("setup", "addon", D("0.50")),
                     ("renewal", "addon", D("4.00"))]
    assert "RAM: 4 GB" in InvoiceLine.get(InvoiceLine.kind == "first").description

    # The addons follow their service when it is set up.
    lifecycle.activate(service.id, as_login("owner"), settings=Settings(), send_email=False)
    assert {a.status for a in ServiceAddon.select()} == {"active"}


def test_default_choice_and_the_addons_shortest_cycle(db, setup):
    s = setup
    result = place_order(order(s, cycle="annually", addons=[s["monitoring"].id]), s["admin"],
                         TODAY, Settings())
    assert ServiceConfigOption.get().choice_id == s["one_gb"]
    assert result.invoice.total == D("115.00")  # 100.00 + Monitoring's annual 15.00
    assert ServiceAddon.get().billing_cycle == "annually"
    assert Service.get().recurring_amount == D("100.00")


def test_promotion_discounts_the_options_too(db, setup):
    s = setup
    add_promotion({"code": "TWENTY", "type": "percentage", "value": "20", "recurring": "always",
                   "products": "Cloud", "cycles": "annually"}, admin=as_login("owner"))
    result = place_order(OrderRequest(
        client_id=s["client"].id, promo_code="TWENTY", lines=[LineRequest(
            product=s["product"].id, cycle="annually",
            config_options={s["ram"].id: s["four_gb"]})]), s["admin"], TODAY, Settings())
    assert result.invoice.total == D("128.00")  # (100.00 + 60.00) - 20%
    assert Service.get().recurring_amount == D("128.00")


@pytest.mark.parametrize("line, field", [
    (lambda s: dict(config_options={999: 1}), "line1.config_options"),
    (lambda s: dict(config_options={s["ram"].id: 999}), "line1.config_options"),
    (lambda s: dict(addons=[s["only_other"].id]), "line1.addons"),
    (lambda s: dict(addons=[999]), "line1.addons"),
])
def test_foreign_options_and_addons_are_refused_and_nothing_written(db, setup, line, field):
    s = setup
    with pytest.raises(ValidationError) as refused:
        place_order(order(s, **line(s)), s["admin"], TODAY, Settings())
    assert refused.value.field == field
    assert Service.select().count() == 0
    assert ServiceAddon.select().count() == ServiceConfigOption.select().count() == 0


def test_a_payment_method_outside_the_managed_list_is_refused(db, setup):
    s = setup
    request = order(s, cycle="monthly")
    request.payment_method = "paypla"
    with pytest.raises(ValidationError) as refused:
        place_order(request, s["admin"], TODAY, Settings())
    assert refused.value.field == "payment_method"
    assert Service.select().count() == 0
