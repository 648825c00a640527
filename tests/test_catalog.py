"""Product and server settings (issue 4): every field checked, secrets encrypted, one
transaction with the activity log, optimistic locking and the permission, on both engines."""

import json
from dataclasses import replace

import pytest

from hostdesk.models import catalog, secrets
from hostdesk.models.catalog import ProductSource, ServerSource, product_form, save_product, save_server
from hostdesk.models.errors import PermissionDenied, StaleRecordError, ValidationErrors
from hostdesk.models.listing import ListFilter
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import ActivityLog, Admin, Product, Server
from tests import factories as make

MODULES = ("example", "none", "webhook")


@pytest.fixture
def setup(db):
    Admin.create(login="boss", role="full")
    make.ensure_template("Hosting Welcome")
    return {"product": make.product(name="Shared Basic"), "server": make.server(name="web1")}


def edited(form, **values):
    return replace(form, values={**form.values, **values})


def test_saving_a_product_stores_every_field_encrypts_secrets_and_logs(setup):
    product, server = setup["product"], setup["server"]
    form = product_form(product.id)
    saved = save_product(edited(
        form, name="  Shared Plus ", type="reseller", module="example", server=str(server.id),
        auto_setup="on_order", welcome_email="Hosting Welcome", auto_terminate_days="30",
        allows_quantity="yes", module_settings="plan = gold\n# a comment\n\napi_token=s3cr3t"),
        admin=find_admin("boss"), modules=MODULES)
    row = Product.get_by_id(product.id)
    assert (row.name, row.type, row.module, row.server_id, row.auto_setup) == (
        "Shared Plus", "reseller", "example", server.id, "on_order")
    assert (row.welcome_email, row.auto_terminate_days, row.allows_quantity) == (
        "Hosting Welcome", 30, True)
    assert row.version == form.version + 1 == saved.version
    stored = json.loads(row.module_settings)
    assert stored["plan"] == "gold"
    assert stored["api_token"].startswith(secrets.PREFIX) and "s3cr3t" not in row.module_settings
    assert secrets.decrypt(stored["api_token"]) == "s3cr3t"
    log = ActivityLog.get(ActivityLog.action == "product.settings")
    assert (log.admin_login, log.object_id) == ("boss", product.id)
    assert json.loads(log.after)["module"] == "example" and "s3cr3t" not in log.after
    # Shown again masked; saving the mask keeps the stored secret.
    again = product_form(product.id)
    assert "api_token=[secret]" in again.values["module_settings"]
    save_product(again, admin=find_admin("boss"), modules=MODULES)
    assert json.loads(Product.get_by_id(product.id).module_settings)["api_token"] == stored["api_token"]


def test_every_bad_product_field_is_named_and_nothing_is_written(setup):
    product = setup["product"]
    form = product_form(product.id)
    with pytest.raises(ValidationErrors) as caught:
        save_product(edited(form, name=" ", type="castle", module="cpanel", server="999999",
                            auto_setup="sometimes", welcome_email="No Such Template",
                            auto_terminate_days="-1", allows_quantity="maybe",
                            module_settings="just words"),
                     admin=find_admin("boss"), modules=MODULES)
    assert [e.field for e in caught.value.errors] == [
        "name", "type", "module", "server", "auto_setup", "welcome_email",
        "auto_terminate_days", "allows_quantity", "module_settings"]
    row = Product.get_by_id(product.id)
    assert (row.name, row.version) == ("Shared Basic", form.version)
    assert not ActivityLog.select().where(ActivityLog.action == "product.settings").exists()
    with pytest.raises(ValidationErrors) as caught:
        save_product(edited(form, module_settings="a=1\na=2"), admin=find_admin("boss"),
                     modules=MODULES)
    assert "given twice" in str(caught.value)


def test_a_stale_form_and_a_missing_permission_are_refused(setup):
    product = setup["product"]
    form = product_form(product.id)
    save_product(edited(form, name="First"), admin=find_admin("boss"), modules=MODULES)
    with pytest.raises(StaleRecordError):
        save_product(edited(form, name="Second"), admin=find_admin("boss"), modules=MODULES)
    with pytest.raises(PermissionDenied):
        save_product(edited(product_form(product.id), name="Third"), admin=find_admin("nobody"),
                     modules=MODULES)
    assert Product.get_by_id(product.id).name == "First"
    assert ActivityLog.select().where(ActivityLog.action == "product.settings").count() == 1


def test_saving_a_server_checks_name_host_ip_and_encrypts_its_password(setup):
    server, other = setup["server"], make.server(name="web2")
    form = catalog.server_form(server.id)
    with pytest.raises(ValidationErrors) as caught:
        save_server(edited(form, name="web2", hostname="bad host!", ip_address="300.1.1.1",
                           module="nope", active="perhaps"), admin=find_admin("boss"), modules=MODULES)
    assert [e.field for e in caught.value.errors] == [
        "name", "hostname", "ip_address", "module", "active"]
    save_server(edited(form, name="web1b", hostname="Web1.Example.NET", ip_address="192.0.2.7",
                       module="example", settings="user=root\npassword=hunter2", active="no"),
                admin=find_admin("boss"), modules=MODULES)
    row = Server.get_by_id(server.id)
    assert (row.name, row.hostname, row.ip_address, row.module, row.active) == (
        "web1b", "web1.example.net", "192.0.2.7", "example", False)
    stored = json.loads(row.settings)
    assert stored["user"] == "root" and secrets.decrypt(stored["password"]) == "hunter2"
    assert ActivityLog.get(ActivityLog.action == "server.settings").object_id == server.id
    assert Server.get_by_id(other.id).name == "web2"


def test_the_lists_page_and_search_products_and_servers(setup):
    make.product(name="VPS Large", server=setup["server"])
    products = ProductSource()
    assert products.count() == 2
    rows = products.page(None, 10)
    assert [r["name"] for r in rows] == ["VPS Large", "Shared Basic"]
    assert (rows[0]["server"], rows[1]["server"]) == ("web1", "—")
    assert [r["name"] for r in products.page(None, 10, ListFilter("vps"))] == ["VPS Large"]
    servers = ServerSource()
    assert [r["name"] for r in servers.page(None, 10, ListFilter("WEB"))] == ["web1"]
    assert catalog.server_choices() == [("web1", setup["server"].id)]


# --- issue 19: secrets a module declares, and who may change where passwords go -----------


def test_settings_a_module_declares_secret_are_encrypted_and_masked(setup):
    from hostdesk.automation.provisioning.registry import secret_settings

    installed = secret_settings()
    assert installed["webhook"] == {"secret"}  # the built-in webhook declares its secret
    modules = {**installed, "example": frozenset({"pin"})}
    server = setup["server"]
    save_server(edited(catalog.server_form(server.id), module="example",
                       settings="pin=4711\naccesshash=AbC\npasswd=pw\napi_key=k1\nregion=eu"),
                admin=find_admin("boss"), modules=modules)
    stored = json.loads(Server.get_by_id(server.id).settings)
    assert stored["region"] == "eu"
    for key, plain in (("pin", "4711"), ("accesshash", "AbC"), ("passwd", "pw"),
                       ("api_key", "k1")):
        assert stored[key].startswith(secrets.PREFIX) and secrets.decrypt(stored[key]) == plain
    shown = catalog.server_form(server.id, modules).values["settings"]
    assert "4711" not in shown and "AbC" not in shown and "k1" not in shown
    assert "pin=[secret]" in shown and "region=eu" in shown
    log = ActivityLog.get(ActivityLog.action == "server.settings")
    assert "4711" not in log.after and "AbC" not in log.after


def test_clear_secrets_saved_earlier_are_encrypted_on_upgrade(setup):
    server = make.server(name="old", module="webhook",
                         settings=json.dumps({"url": "https://hooks.example.net",
                                              "secret": "clear-shared-secret",
                                              "accesshash": "clear-hash"}))
    assert catalog.encrypt_clear_secrets({"webhook": frozenset({"secret"})}) == 1
    stored = json.loads(Server.get_by_id(server.id).settings)
    assert stored["url"] == "https://hooks.example.net"
    assert secrets.decrypt(stored["secret"]) == "clear-shared-secret"
    assert secrets.decrypt(stored["accesshash"]) == "clear-hash"
    assert catalog.encrypt_clear_secrets({"webhook": frozenset({"secret"})}) == 0


@pytest.mark.parametrize("role", ["sales", "support"])
def test_only_manage_catalog_may_point_a_server_elsewhere(setup, role):
    server = setup["server"]
    Admin.create(login=role, role=role)
    before = Server.get_by_id(server.id)
    with pytest.raises(PermissionDenied, match="manage catalog"):
        save_server(edited(catalog.server_form(server.id), hostname="evil.example.org",
                           settings="url=https://evil.example.org/hook"),
                    admin=find_admin(role), modules=MODULES)
    after = Server.get_by_id(server.id)
    assert (after.hostname, after.settings, after.version) == (
        before.hostname, before.settings, before.version)
    assert not ActivityLog.select().where(ActivityLog.action == "server.settings").exists()
