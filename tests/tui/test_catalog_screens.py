"""The product and server settings screens (issue 4), driven by keys: the module shipped by
the installed test package (`example`, an entry point) is offered, saved, and then runs."""

import json

from hostdesk.automation.provisioning.runner import run_command
from hostdesk.models import secrets
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import ActivityLog, Admin, Product, Server, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import CLOCK, run, settle, toasts
from hostdesk.tui.screens.catalog import (
    ProductListScreen,
    ProductSettingsScreen,
    ServerListScreen,
    ServerSettingsScreen,
)


def text_of(screen, selector) -> str:
    return str(screen.query_one(selector).render())


def test_choose_the_example_module_for_a_product_save_and_run_it(db, app_for):
    Admin.create(login="boss", role="full")
    server = make.server(name="web1")
    product = make.product(name="Example Hosting", module="none")
    make.product(name="Other")
    service = make.service(product_row=product, status="pending", username="ada01",
                           domain="ada.example")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.push_screen(ProductListScreen())
            await settle(pilot)
            await pilot.press("down", "enter")  # the list is newest first: Other, then ours
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ProductSettingsScreen) and screen.record_id == product.id
            options = [value for _, value in screen.query_one("#field-module")._options]
            assert "example" in options  # found through the entry point of the test package
            module = screen.query_one("#field-module")
            module.focus()
            await pilot.press("enter")  # the list opens on the current choice, `none`
            steps = options.index("example") - options.index("none")
            await pilot.press(*(["down"] * steps if steps > 0 else ["up"] * -steps), "enter")
            assert module.value == "example"
            await pilot.press("tab", "enter", "down", "enter")  # the server: web1
            settings = screen.query_one("#field-module_settings")
            settings.text = "plan=gold\napi_token=abc123"
            app.save_screenshot("product-settings-120x36.svg", path="/tmp")
            await pilot.press("ctrl+s")
            await settle(pilot)
            saved = Product.get_by_id(product.id)
            assert (saved.module, saved.server_id, saved.version) == ("example", server.id, 2)
            stored = json.loads(saved.module_settings)
            assert stored["plan"] == "gold" and secrets.decrypt(stored["api_token"]) == "abc123"
            assert ActivityLog.get(ActivityLog.action == "product.edit").admin_login == "boss"
            assert "api_token=[secret]" in screen.query_one("#field-module_settings").text

            # A bad value is shown under its field and nothing is written.
            screen.query_one("#field-auto_terminate_days").value = "soon"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "whole number" in text_of(screen, "#error-auto_terminate_days")
            assert Product.get_by_id(product.id).version == 2

    run(scenario())
    # The saved module now runs the product's services: create on the pretend panel.
    result = run_command(service.id, "create", admin=find_admin("boss"), clock=CLOCK,
                         settings=Settings())
    assert result.success and "account ada01 created" in result.message
    assert Service.get_by_id(service.id).status == "active"
    reboot = run_command(service.id, "reboot", admin=find_admin("boss"), clock=CLOCK,
                         settings=Settings())
    assert reboot.success and "rebooted" in reboot.message


def test_server_settings_save_and_test_connection(db, app_for):
    Admin.create(login="boss", role="full")
    server = make.server(name="web1", module="none")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(ServerListScreen())
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ServerSettingsScreen)
            screen.query_one("#field-ip_address").value = "not-an-ip"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "is not an IP address" in text_of(screen, "#error-ip_address")
            screen.query_one("#field-ip_address").value = "192.0.2.10"
            screen.query_one("#field-settings").text = "user=root\npassword=hunter2"
            await pilot.press("ctrl+s")
            await settle(pilot)
            row = Server.get_by_id(server.id)
            assert row.ip_address == "192.0.2.10" and row.version == 2
            assert secrets.decrypt(json.loads(row.settings)["password"]) == "hunter2"
            app.save_screenshot("server-settings-80x24.svg", path="/tmp")
            screen.query_one("#field-module").focus()
            await pilot.press("t")
            await settle(pilot)
            assert "Test connection succeeded: Nothing to connect to" in toasts(app)
            assert text_of(screen, "#settings-state") == ""  # said once
            log = ActivityLog.select().where(ActivityLog.action == "server.test_connection")
            assert log.count() == 1

    run(scenario())
