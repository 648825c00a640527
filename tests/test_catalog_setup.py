"""Setting up a catalog from zero (issue 15): products with pricing tables and options,
catalog addons, promotions, TLDs, servers, payment methods and email templates. Each bad
input names its field and writes nothing; each edit is versioned and logged; the
permission 'manage catalog' is required."""

import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import catalog, domains, emails, massupdate, products, services
from hostdesk.models.catalog_addons import add_catalog_addon, edit_catalog_addon
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied, StaleRecordError, ValidationError, ValidationErrors
from hostdesk.models.invoicing import record_payment
from hostdesk.models.orders import DomainRequest, LineRequest, OrderRequest, place_order
from hostdesk.models.payment_methods import add_payment_method, check_method, list_payment_methods
from hostdesk.models.promotion_setup import add_promotion, edit_promotion
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CatalogAddon,
    ConfigOption,
    Product,
    ProductPrice,
    Promotion,
    Server,
    Tld,
    TldPrice,
)
from hostdesk.models.tlds import add_tld, edit_tld
from tests import factories as make
from tests.factories import as_login

MODULES = ("none", "webhook")
TODAY = pendulum.date(2026, 5, 1)
PRODUCT = {"name": "VPS One", "group_name": "VPS", "type": "vps", "module": "none",
           "auto_setup": "on_payment", "welcome_email": "welcome_vps",
           "upgrade_email": "upgrade_confirmation", "allows_quantity": "yes",
           "description": "2 vCPU\n2 GB RAM",
           "prices": {"monthly": {"price": "10.00", "setup_fee": "5.00"},
                      "quarterly": ("27.00", "0"), "annually": "100.00", "biennially": ""}}


@pytest.fixture
def admins(db):
    for role in ("full", "sales", "support"):
        Admin.create(login=role, role=role)
    make.ensure_template("invoice_created")
    make.ensure_template("order_confirmation")


def _nothing_logged(action: str) -> bool:
    return not ActivityLog.select().where(ActivityLog.action == action).exists()


# --- products ------------------------------------------------------------------------------


def test_a_product_is_added_with_its_pricing_table_and_a_builtin_welcome_email(admins):
    detail = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    assert detail.prices == {"monthly": {"price": "10.00", "setup_fee": "5.00"},
                             "quarterly": {"price": "27.00", "setup_fee": "0.00"},
                             "annually": {"price": "100.00", "setup_fee": "0.00"}}
    row = Product.get_by_id(detail.id)
    assert (row.welcome_email, row.allows_quantity, row.description) == (
        "welcome_vps", True, "2 vCPU\n2 GB RAM")
    assert not _nothing_logged("product.add") and not _nothing_logged("product.prices")


def test_the_settings_form_saves_a_product_with_a_builtin_template(admins):
    """The bug of issue 15: 'there is no email template welcome_vps'."""
    product = make.product(type="vps")
    form = catalog.product_form(product.id)
    saved = catalog.save_product(
        catalog.Form(form.record_id, form.version, {**form.values, "welcome_email": "welcome_vps"}),
        admin=find_admin("full"), modules=MODULES)
    assert saved.welcome_email == "welcome_vps"


@pytest.mark.parametrize("field,value", [
    ("name", ""), ("name", "x" * 201), ("type", "castle"), ("module", "cpanel"),
    ("auto_setup", "sometimes"), ("welcome_email", "welcome_nothing"),
    ("auto_terminate_days", "-3"), ("allows_quantity", "maybe"), ("server", "nowhere"),
    ("prices", {"monthly": "-1.00"}), ("prices", {"monthly": "ten"}),
    ("prices", {"weekly": "1.00"}), ("prices", {"free": "3.00"}),
    ("prices", {"monthly": {"price": "", "setup_fee": "2.00"}}),
    ("prices", {"monthly": 1.5}),
])
def test_each_bad_product_field_is_named_and_nothing_written(admins, field, value):
    with pytest.raises(ValidationError) as refused:
        products.add_product({**PRODUCT, field: value}, admin=as_login("full"), modules=MODULES)
    assert refused.value.field.split(".")[0] == field
    assert Product.select().count() == 0 and ProductPrice.select().count() == 0
    assert _nothing_logged("product.add")


def test_a_duplicate_product_name_is_refused(admins):
    products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    with pytest.raises(ValidationError) as refused:
        products.add_product({**PRODUCT, "name": "vps one"}, admin=as_login("full"), modules=MODULES)
    assert refused.value.field == "name" and Product.select().count() == 1


def test_editing_replaces_prices_is_versioned_and_logged(admins):
    detail = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    saved = products.edit_product(detail.id, detail.version,
                                  {"name": "VPS Uno", "prices": {"monthly": "12.00"}},
                                  admin=as_login("full"), modules=MODULES)
    assert saved.values["name"] == "VPS Uno" and list(saved.prices) == ["monthly"]
    log = ActivityLog.select().where(ActivityLog.action == "product.prices").order_by(
        ActivityLog.id.desc()).get()
    assert json.loads(log.after) == {"monthly": {"price": "12.00", "setup_fee": "0.00"}}
    assert "annually" in json.loads(log.before)
    with pytest.raises(StaleRecordError):
        products.edit_product(detail.id, detail.version, {"name": "Late"}, admin=as_login("full"),
                              modules=MODULES)
    assert Product.get_by_id(detail.id).name == "VPS Uno"


def test_configurable_options_are_priced_per_cycle_and_versioned_with_the_product(admins):
    detail = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    with_option = products.add_config_option(detail.id, detail.version, {
        "name": "Memory", "option_type": "dropdown", "choices": [
            {"name": "Standard", "prices": {"monthly": "0.00"}},
            {"name": "+2 GB", "sort_order": "1", "prices": {"monthly": "4.00",
                                                            "annually": "40.00"}}]},
        admin=as_login("full"))
    option = with_option.options[0]
    assert [c.name for c in option.choices] == ["Standard", "+2 GB"]
    assert option.choices[1].prices["annually"] == {"price": "40.00", "setup_fee": "0.00"}
    assert with_option.version == detail.version + 1
    with pytest.raises(StaleRecordError):
        products.add_config_option(detail.id, detail.version, {
            "name": "Disk", "choices": [{"name": "x", "prices": {}}]}, admin=as_login("full"))
    with pytest.raises(ValidationError) as refused:
        products.add_config_option(detail.id, with_option.version, {
            "name": "memory", "choices": [{"name": "x"}]}, admin=as_login("full"))
    assert refused.value.field == "name"
    with pytest.raises(ValidationError) as refused:
        products.add_config_option(detail.id, with_option.version, {
            "name": "Disk", "choices": [{"name": "x", "prices": {"monthly": "-2"}}]},
            admin=as_login("full"))
    assert refused.value.field == "choices.1.prices.monthly.price"
    edited = products.edit_config_option(option.id, with_option.version, {
        "name": "RAM", "choices": [{"id": option.choices[1].id, "prices": {"monthly": "5.00"}},
                                   {"name": "+6 GB", "sort_order": "2", "prices": {"monthly": "9.00"}}]},
        admin=as_login("full"))
    assert edited.options[0].name == "RAM"
    assert [c.prices.get("monthly", {}).get("price") for c in edited.options[0].choices] == [
        "0.00", "5.00", "9.00"]
    assert ConfigOption.select().count() == 1


def test_a_product_with_services_is_retired_never_deleted(admins):
    detail = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    make.service(product_row=Product.get_by_id(detail.id))
    with pytest.raises(ValidationError) as refused:
        products.delete_product(detail.id, detail.version, admin=as_login("full"))
    assert "retire" in refused.value.message and Product.select().count() == 1
    retired = products.retire_product(detail.id, detail.version, admin=as_login("full"))
    assert retired.retired
    client = make.client()
    with pytest.raises(ValidationError) as refused:
        place_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=detail.id)]),
                    Admin.get(Admin.login == "full"), TODAY)
    assert refused.value.field == "line1.product"
    empty = products.add_product({**PRODUCT, "name": "Unsold"}, admin=as_login("full"),
                                 modules=MODULES)
    products.delete_product(empty.id, empty.version, admin=as_login("full"))
    assert Product.get_or_none(Product.id == empty.id) is None
    assert json.loads(ActivityLog.get(ActivityLog.action == "product.delete").before)[
        "product"]["name"] == "Unsold"


@pytest.mark.parametrize("role", ["sales", "support"])
def test_only_managers_of_the_catalog_change_it(admins, role):
    calls = [
        lambda: products.add_product(PRODUCT, admin=as_login(role), modules=MODULES),
        lambda: add_catalog_addon({"name": "Backups", "prices": {"monthly": "2"}},
                                  admin=as_login(role), modules=MODULES),
        lambda: add_promotion({"code": "X", "type": "fixed", "value": "1"}, admin=as_login(role)),
        lambda: add_tld({"name": ".com", "register_price": "1", "transfer_price": "1",
                         "renew_price": "1"}, admin=as_login(role)),
        lambda: catalog.add_server({"name": "web9"}, admin=as_login(role), modules=MODULES),
        lambda: add_payment_method({"name": "stripe"}, admin=as_login(role)),
        lambda: emails.save_template("invoice_created", "Hi", "Body", as_login(role), 0),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied) as refused:
            call()
        assert refused.value.permission == "manage catalog"
    assert ActivityLog.select().count() == 0


# --- catalog addons ------------------------------------------------------------------------


def test_catalog_addons_have_prices_products_and_refuse_bad_input(admins):
    product = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    addon = add_catalog_addon({"name": "Backups", "prices": {"monthly": "2.00",
                                                             "annually": ("20.00", "1.00")},
                               "products": ["VPS One"], "auto_setup": "on_order"},
                              admin=as_login("full"), modules=MODULES)
    assert addon.products == ("VPS One",) and addon.prices["annually"]["setup_fee"] == "1.00"
    for bad, field in (({"name": "backups"}, "name"), ({"prices": {}}, "prices"),
                       ({"products": "Nope"}, "products"), ({"auto_setup": "x"}, "auto_setup"),
                       ({"prices": {"monthly": "-2"}}, "prices.monthly.price")):
        with pytest.raises(ValidationError) as refused:
            add_catalog_addon({"name": "Other", "prices": {"monthly": "1"}, **bad},
                              admin=as_login("full"), modules=MODULES)
        assert refused.value.field == field
    assert CatalogAddon.select().count() == 1
    saved = edit_catalog_addon(addon.id, addon.version, {"products": [], "prices": {
        "monthly": "3.00"}}, admin=as_login("full"), modules=MODULES)
    assert saved.products == () and list(saved.prices) == ["monthly"]
    with pytest.raises(StaleRecordError):
        edit_catalog_addon(addon.id, addon.version, {"name": "B"}, admin=as_login("full"),
                           modules=MODULES)
    assert product.id


# --- promotions ----------------------------------------------------------------------------


@pytest.mark.parametrize("values,field", [
    ({"value": "101"}, "value"), ({"value": "-5"}, "value"), ({"value": "abc"}, "value"),
    ({"start_date": "2026-06-01", "expiry_date": "2026-05-01"}, "expiry_date"),
    ({"code": "has space"}, "code"), ({"code": ""}, "code"), ({"type": "bogo"}, "type"),
    ({"recurring": "sometimes"}, "recurring"), ({"cycles": "weekly"}, "cycles"),
    ({"products": "Nope"}, "products"), ({"max_uses": "-1"}, "max_uses"),
])
def test_bad_promotions_are_refused_with_the_field(admins, values, field):
    with pytest.raises(ValidationError) as refused:
        add_promotion({"code": "SPRING", "type": "percentage", "value": "20", **values},
                      admin=as_login("full"))
    assert refused.value.field == field
    assert Promotion.select().count() == 0 and _nothing_logged("promotion.add")


def test_a_promotion_is_added_edited_and_used_once_per_client(admins):
    product = products.add_product(PRODUCT, admin=as_login("full"), modules=MODULES)
    promo = add_promotion({"code": "ONCE", "type": "fixed", "value": "2.50",
                           "recurring": "3", "products": "VPS One", "cycles": "monthly",
                           "once_per_client": "yes", "max_uses": "10"}, admin=as_login("full"))
    row = Promotion.get_by_id(promo.id)
    assert (row.recurring, row.recur_for, row.cycles, row.once_per_client) == (
        True, 3, "monthly", True)
    assert promo.summary == "2.50 off, first invoice and 3 renewals"
    with pytest.raises(ValidationError) as refused:
        add_promotion({"code": "once", "type": "fixed", "value": "1"}, admin=as_login("full"))
    assert refused.value.field == "code"
    client = make.client()
    admin = Admin.get(Admin.login == "full")
    order = OrderRequest(client_id=client.id, promo_code="ONCE",
                         lines=[LineRequest(product=product.id, cycle="monthly")])
    result = place_order(order, admin, TODAY)
    assert result.invoice.total == Decimal("12.50")  # 10.00 + 5.00 setup - 2.50
    with pytest.raises(ValidationError) as refused:
        place_order(order, admin, TODAY)
    assert refused.value.field == "promo_code"
    edited = edit_promotion(promo.id, Promotion.get_by_id(promo.id).version,
                            {"recurring": "always"}, admin=as_login("full"))
    assert edited.values["recurring"] == "always" and edited.uses == 1


# --- TLDs ----------------------------------------------------------------------------------


def test_tlds_are_typed_with_their_dot_and_priced_per_year_count(admins):
    for bad, field in (({"name": "com"}, "name"), ({"name": ".c_m"}, "name"),
                       ({"register_price": "-1"}, "register_price"),
                       ({"max_years": "11"}, "max_years"),
                       ({"years": {"12": {"register": "1"}}}, "years.12")):
        with pytest.raises(ValidationError) as refused:
            add_tld({"name": ".com", "register_price": "10.00", "transfer_price": "9.00",
                     "renew_price": "12.00", **bad}, admin=as_login("full"))
        assert refused.value.field == field
    assert Tld.select().count() == 0
    tld = add_tld({"name": ".COM", "register_price": "10.00", "transfer_price": "9.00",
                   "renew_price": "12.00", "epp_required": "yes", "dns_management_price": "1.00",
                   "years": {"2": {"register": "18.00", "renew": "22.00"}}}, admin=as_login("full"))
    assert Tld.get_by_id(tld.id).name == "com" and tld.values["name"] == ".com"
    assert tld.years == {2: {"register": "18.00", "transfer": "", "renew": "22.00"}}
    with pytest.raises(ValidationError) as refused:
        add_tld({"name": ".com", "register_price": "1", "transfer_price": "1",
                 "renew_price": "1"}, admin=as_login("full"))
    assert refused.value.field == "name"
    row = Tld.get_by_id(tld.id)
    two = domains.domain_price(row, "register", 2, domains.DomainAddons(dns_management=True))
    assert (two.base_first, two.base_recurring, two.first) == (
        Decimal("18.00"), Decimal("22.00"), Decimal("20.00"))
    three = domains.domain_price(row, "transfer", 3)
    assert (three.base_first, three.base_recurring) == (Decimal("27.00"), Decimal("36.00"))
    client = make.client()
    result = place_order(OrderRequest(client_id=client.id, domain=DomainRequest(
        action="register", name="example.com", years="2")), Admin.get(Admin.login == "full"),
        TODAY)
    assert result.invoice.total == Decimal("18.00")
    saved = edit_tld(tld.id, tld.version, {"years": {}}, admin=as_login("full"))
    assert saved.years == {} and TldPrice.select().count() == 0
    with pytest.raises(StaleRecordError):
        edit_tld(tld.id, tld.version, {"renew_price": "1.00"}, admin=as_login("full"))


# --- servers -------------------------------------------------------------------------------


def test_servers_are_added_with_secrets_encrypted_and_retired(admins):
    view = catalog.add_server({"name": "web9", "hostname": "web9.example.net",
                               "ip_address": "192.0.2.9", "module": "webhook",
                               "settings": {"url": "https://x.example", "secret": "hush"},
                               "max_accounts": "300"}, admin=as_login("full"), modules=MODULES)
    assert view.settings == {"secret": "[secret]", "url": "https://x.example"}
    assert "hush" not in Server.get_by_id(view.id).settings
    for bad, field in (({"name": "WEB9"}, "name"), ({"hostname": "bad host"}, "hostname"),
                       ({"ip_address": "999.1.1.1"}, "ip_address"),
                       ({"max_accounts": "-1"}, "max_accounts")):
        with pytest.raises(ValidationError) as refused:
            catalog.add_server({"name": "web10", **bad}, admin=as_login("full"), modules=MODULES)
        assert refused.value.field == field
    retired = catalog.retire_server(view.id, view.version, admin=as_login("full"))
    assert not retired.active
    with pytest.raises(StaleRecordError):
        catalog.retire_server(view.id, view.version, admin=as_login("full"))


# --- payment methods -----------------------------------------------------------------------


def test_a_method_not_in_the_list_is_refused_everywhere(admins):
    admin = Admin.get(Admin.login == "full")
    assert [m.name for m in list_payment_methods()] == ["banktransfer", "card", "paypal"]
    product = make.product()
    client = make.client()
    with pytest.raises(ValidationError) as refused:
        place_order(OrderRequest(client_id=client.id, payment_method="paypla",
                                 lines=[LineRequest(product=product.id)]), admin, TODAY)
    assert refused.value.field == "payment_method"
    service = make.service(client_row=client, product_row=product)
    with pytest.raises(ValidationError) as refused:
        services.save_service(service.id, service.version,
                              services.parse_service_form({"payment_method": "paypla"}), admin,
                              clock=Clock("UTC", TODAY))
    assert refused.value.field == "payment_method"
    with pytest.raises(ValidationErrors) as refused:
        massupdate.parse_mass_change({"payment_method": "paypla"})
    assert refused.value.errors[0].field == "payment_method"
    order = place_order(OrderRequest(client_id=client.id, payment_method="PayPal",
                                     lines=[LineRequest(product=product.id)]), admin, TODAY)
    assert order.order.payment_method == "paypal"
    with pytest.raises(ValidationError) as refused:
        record_payment(order.invoice.id, "10.00", date=TODAY, method="paypla",
                       admin=as_login("full"))
    assert refused.value.field == "method"
    assert record_payment(order.invoice.id, "10.00", date=TODAY, method="card",
                          admin=as_login("full")).payment is not None
    with pytest.raises(ValidationError) as refused:
        add_payment_method({"name": "Card"}, admin=as_login("full"))
    assert refused.value.field == "name"
    assert check_method("card") == "card"


# --- email templates -----------------------------------------------------------------------


def test_a_template_previews_against_a_real_record_and_bad_text_is_refused(admins):
    admin = Admin.get(Admin.login == "full")
    product = make.product(name="Gold")
    client = make.client(first_name="Grace")
    service = make.service(client_row=client, product_row=product, domain="grace.example")
    subject, body = emails.preview_template(
        "welcome_shared", "Ready: {{ service.domain }}", "Hi {{ client.first_name }}",
        record_id=service.id)
    assert (subject, body) == ("Ready: grace.example", "Hi Grace")
    order = place_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=product.id)]),
                        admin, TODAY)
    subject, _ = emails.preview_template("invoice_created", "Invoice {{ invoice.total }}", "x",
                                         record_id=order.invoice.id)
    assert subject == "Invoice $10.00"
    for subject, body, field in (("{{ service.nope }}", "b", "subject"),
                                 ("ok", "{% if %}", "body")):
        with pytest.raises(ValidationError) as refused:
            emails.preview_template("welcome_shared", subject, body, record_id=service.id)
        assert refused.value.field == field
        with pytest.raises(ValidationError):
            emails.save_template("welcome_shared", subject, body, as_login("full"), 0)
    with pytest.raises(ValidationError) as refused:
        emails.preview_template("welcome_shared", "s", "b", record_id=999999)
    assert refused.value.field == "record_id"
    saved = emails.save_template("welcome_shared", "Hello {{ client.first_name }}", "b", as_login("full"), 0)
    assert saved.customised
    assert emails.reset_template("welcome_shared", as_login("full"), saved.version).customised is False
