"""The service page driven from the keyboard (rules §6, §8): module commands against the
`webhook` module pointed at a real HTTP server on loopback, edits with optimistic locking,
addons, move, delete, resend welcome, and the messages for bad input."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.base import CommandResult
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.models import secrets
from hostdesk.models.clock import Clock
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CatalogAddonPrice,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Promotion,
    Service,
    ServiceAddon,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.test_webhook import Endpoint
from tests.tui.conftest import screen_text, settle, toasts
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.service_dialogs import (
    AddAddonDialog,
    EditAddonDialog,
    MoveDialog,
    PromotionPicker,
)
from hostdesk.tui.screens.upgrade import UpgradeScreen
from hostdesk.tui.widgets.command_bar import CommandBar
from hostdesk.tui.widgets.dialogs import ConfirmDialog, MessageDialog, PromptDialog, TypedConfirmDialog
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 3, 17)
SECRET = "whsec-screen-tests"
PASSWORD = "Old-pass-1"
SIZE = (120, 36)
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture(autouse=True)
def setup(db):
    secrets.configure("service-screen-tests")
    Admin.create(login="boss", role="full")
    yield
    secrets.configure("")


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def app_for(db_url, login="boss"):
    config = Config(settings=Settings(), database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", TODAY))


def webhook_service(url, status="active", timeout=None, **fields):
    settings = {"url": url, "secret": secrets.encrypt(SECRET),
                "allow_insecure_http": url.startswith("http://")}  # loopback, no TLS
    if timeout is not None:
        settings["timeout"] = timeout
    server = make.server(module="webhook", settings=json.dumps(settings), name="web1")
    product = make.product(name="Starter", prices={"monthly": "10.00", "annually": "100.00"},
                           module="webhook", server=server)
    values = dict(server=server, domain="example.com", username="ada", status=status,
                  password=secrets.encrypt(PASSWORD), next_due_date=pendulum.date(2026, 4, 1))
    values.update(fields)
    return make.service(make.client(first_name="Ada", last_name="Lovelace"), product, **values)


def signature(delivery_id: str, timestamp: str, body: bytes) -> str:
    """What a receiving endpoint computes (Standard Webhooks), independently of the module."""
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(SECRET.encode(), signed,
                                             hashlib.sha256).digest()).decode()


def received(endpoint) -> dict:
    """The last request: its payload, after checking its signature."""
    request = endpoint.requests[-1]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["webhook-signature"] == signature(headers["webhook-id"],
                                                     headers["webhook-timestamp"],
                                                     request["body"])
    return json.loads(request["body"])


def stored(service) -> Service:
    return Service.get_by_id(service.id)




async def dialog(app, pilot, kind):
    """The dialog of `kind` once it is on top and has focus (keys typed before are lost)."""
    await settle(pilot, until=lambda: isinstance(app.screen, kind) and app.screen.focused is not None)
    return app.screen


async def open_service(app, pilot, service_id) -> ServiceScreen:
    await app.push_screen(ServiceScreen(service_id))
    await settle(pilot)
    assert isinstance(app.screen, ServiceScreen)
    return app.screen


def state_line(screen) -> str:
    return str(screen.query_one("#service-state").render())


async def close_dialog(app, pilot) -> str:
    """The text of the message dialog on top, then close it."""
    assert isinstance(app.screen, MessageDialog), type(app.screen)
    text = str(app.screen.query_one("#message-body").render())
    await pilot.press("enter")
    await pilot.pause()
    return text


# --- module commands against a real endpoint ---------------------------------------------------


def test_every_module_command_from_the_keyboard(db_url, endpoint):
    service = webhook_service(endpoint.url, status="pending")
    addon = make.addon(service)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            bar = screen.query_one(CommandBar)
            assert bar.has_focus
            assert "Suspend: Suspend applies to active services; this one is pending" in screen.HELP

            await pilot.press("c")  # create
            await settle(pilot)
            payload = received(endpoint)
            assert payload["command"] == "create" and payload["service"]["id"] == service.id
            assert payload["service"]["password"] == PASSWORD
            assert stored(service).status == "active"
            assert "ACTIVE" in screen_text(app) and "Create succeeded" in toasts(app)
            assert state_line(screen) == ""  # said once: the toast

            await pilot.press("s")  # suspend asks a reason
            await dialog(app, pilot, PromptDialog)
            await pilot.press(*"abuse report", "enter")
            await settle(pilot)
            payload = received(endpoint)
            assert (payload["command"], payload["params"]) == ("suspend", {"reason": "abuse report"})
            assert (stored(service).status, stored(service).suspension_reason) == (
                "suspended", "abuse report")

            # Change Password applies to active services only: greyed, and the key does nothing.
            assert screen.check_action("module", ("change_password",)) is None
            assert ("Change Password", "Change Password applies to active services; this one "
                    "is suspended") in bar.reasons()
            requests = len(endpoint.requests)
            await pilot.press("w")
            await settle(pilot)
            assert app.screen is screen and len(endpoint.requests) == requests

            await pilot.press("u")  # unsuspend
            await settle(pilot)
            assert received(endpoint)["command"] == "unsuspend"
            assert stored(service).status == "active"

            await pilot.press("w")  # change password asks the new one
            await dialog(app, pilot, PromptDialog)
            await pilot.press(*"N3w-pass!", "enter")
            await settle(pilot)
            payload = received(endpoint)
            assert (payload["command"], payload["params"]) == (
                "change_password", {"new_password": "N3w-pass!"})
            assert secrets.decrypt(stored(service).password) == "N3w-pass!"

            await pilot.press("p")  # change package
            await settle(pilot)
            assert received(endpoint)["command"] == "change_package"

            await pilot.press("t")  # terminate: type the id or the domain
            await dialog(app, pilot, TypedConfirmDialog)
            assert "Starter · example.com of Ada Lovelace" in screen_text(app)
            await pilot.press(*"wrong", "enter")
            await pilot.pause()
            assert isinstance(app.screen, TypedConfirmDialog)
            assert "nothing was done" in screen_text(app)
            await pilot.press(*["backspace"] * 5, *"example.com", "enter")
            await settle(pilot)
            assert received(endpoint)["command"] == "terminate"
            assert stored(service).status == "terminated"
            assert ServiceAddon.get_by_id(addon.id).status == "cancelled"
            assert len(endpoint.requests) == 6
            assert screen.check_action("module", ("terminate",)) is None
            app.save_screenshot("service_terminated.svg", str(SCREENSHOTS))

    asyncio.run(scenario())


FAILURES = [
    ({"status": 500, "body": b'{"error": "disk full"}'}, "HTTP 500 Internal Server Error: disk full"),
    ({"status": 200, "body": b"<html>oops"}, "is not valid JSON"),
    ({"status": 200, "body": b'{"success": false, "error": "no such account"}'}, "no such account"),
    ({"status": 200, "body": b'{"success": true}', "delay": 3.0},
     "no complete reply within 1 s (timeout)"),
]


def test_a_failing_endpoint_leaves_the_service_as_it_was(db_url, endpoint):
    # The timeout leaves a loaded machine time to answer the replies that are not late.
    service = webhook_service(endpoint.url, status="active", timeout=1.0)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            for reply, says in FAILURES:
                endpoint.reply(**reply)
                await pilot.press("s")
                await settle(pilot, until=lambda: isinstance(app.screen, PromptDialog))
                await pilot.press("enter")  # blank reason: non-payment
                await settle(pilot, until=lambda: isinstance(app.screen, MessageDialog),
                             workers=True)
                assert received(endpoint)["params"] == {"reason": "Overdue on payment"}
                message = await close_dialog(app, pilot)
                assert says in message and "The service was not changed." in message
                assert says not in state_line(screen)  # said once: the dialog
                assert "ACTIVE" in screen_text(app)

    asyncio.run(scenario())
    after = stored(service)
    assert (after.status, after.suspension_reason, after.version) == ("active", "", service.version)
    failed = ActivityLog.select().where(ActivityLog.action == "module.suspend")
    assert [('"success": false' in row.after, row.admin_login) for row in failed] == [
        (True, "boss")] * len(FAILURES)
    assert ModuleJob.select().count() == 0  # an admin's command is not queued


def test_a_running_command_shows_it_and_ignores_its_key(db_url, endpoint):
    service = webhook_service(endpoint.url, status="active")
    gate = endpoint.hold()

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await pilot.press("t")
            await settle(pilot, until=lambda: isinstance(app.screen, TypedConfirmDialog)
                           and app.screen.focused is not None)
            await pilot.press(*str(service.id), "enter")
            await settle(pilot, until=lambda: screen.running == "terminate")

            bar = screen.query_one(CommandBar)
            assert "t Terminate (running…)" in bar.plain()
            assert "Terminate running…" in state_line(screen)
            assert screen.check_action("module", ("terminate",)) is None
            assert screen.check_action("delete", ()) is None
            await pilot.press("t")  # ignored while it runs: no second confirmation
            await pilot.pause()
            assert app.screen is screen
            gate.set()  # the module answers
            await settle(pilot, until=lambda: screen.running is None)
            await settle(pilot)
            assert "(running…)" not in bar.plain()

    asyncio.run(scenario())
    assert len(endpoint.requests) == 1
    assert stored(service).status == "terminated"


class RebootModule(NoneModule):
    def custom_commands(self):
        return {"reboot": "Reboot"}

    def run_custom(self, name, params):
        return CommandResult.ok(f"{params.domain} rebooted")


def test_custom_commands_get_number_keys_and_permissions_grey_everything(db, db_url, monkeypatch):
    monkeypatch.setattr(registry, "get_module", lambda name: RebootModule())
    Admin.create(login="sid", role="sales")
    service = make.service(domain="custom.example")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            assert "1 Reboot" in screen.query_one(CommandBar).plain()
            assert screen.check_action("custom", (1,)) is False  # no second custom command
            await pilot.press("1")
            await settle(pilot)
            assert "Reboot succeeded: custom.example rebooted" in toasts(app)
        sales = app_for(db_url, "sid")
        async with sales.run_test(size=SIZE) as pilot:
            screen = await open_service(sales, pilot, service.id)
            bar = screen.query_one(CommandBar)
            reasons = dict(bar.reasons())
            assert reasons["Suspend"] == "needs the permission 'perform server operations'"
            assert reasons["Delete"] == "needs the permission “delete products/services”"
            assert screen.check_action("module", ("suspend",)) is None
            await pilot.press("d")
            await pilot.pause()
            assert sales.screen is screen  # greyed: no confirmation, the reason instead
            assert state_line(screen) == "Delete: needs the permission “delete products/services”"

    asyncio.run(scenario())
    log = ActivityLog.get(ActivityLog.action == "module.reboot")
    assert "Module Reboot Successful" in log.description and log.admin_login == "boss"


# --- editing ---------------------------------------------------------------------------------


async def type_into(pilot, screen, name: str, text: str) -> None:
    field = screen.query_one(f"#field-{name}")
    field.focus()
    await pilot.pause()
    field.value = ""
    await pilot.press(*text)


def test_two_apps_edit_the_same_service_and_the_second_save_is_refused(db_url):
    service = make.service(recurring_amount=D("10.00"), admin_notes="")

    async def scenario():
        first, second = app_for(db_url), app_for(db_url)
        async with first.run_test(size=SIZE) as pilot_a, second.run_test(size=SIZE) as pilot_b:
            screen_a = await open_service(first, pilot_a, service.id)
            screen_b = await open_service(second, pilot_b, service.id)
            await type_into(pilot_a, screen_a, "recurring_amount", "20.00")
            await type_into(pilot_a, screen_a, "admin_notes", "first admin")
            await type_into(pilot_b, screen_b, "recurring_amount", "30.00")
            await pilot_a.press("ctrl+s")
            await settle(pilot_a)
            # (Two apps in one event loop: a screen's toast may land in the other app, so the
            # first save is checked in the database.)
            assert stored(service).recurring_amount == D("20.00")
            await pilot_b.press("ctrl+s")
            await settle(pilot_b)
            message = await close_dialog(second, pilot_b)
            assert "was changed by someone else since you opened it; nothing was saved" in message
            assert screen_b.query_one("#field-recurring_amount").value == "30.00"  # kept
            assert "Not saved" not in state_line(screen_b)  # said once: the dialog

    asyncio.run(scenario())
    after = stored(service)
    assert (after.recurring_amount, after.admin_notes) == (D("20.00"), "first admin")
    assert after.version == service.version + 1
    assert ActivityLog.select().where(ActivityLog.action == "service.edit").count() == 1


def test_bad_input_is_said_under_each_field_and_nothing_is_written(db_url):
    service = make.service()

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await type_into(pilot, screen, "next_due_date", "2026-02-30")
            await type_into(pilot, screen, "recurring_amount", "-5")
            await type_into(pilot, screen, "first_payment_amount", "ten")
            await type_into(pilot, screen, "promotion", "NOPE")
            await type_into(pilot, screen, "override_suspend_until", "tomorrow")
            await pilot.press("ctrl+s")
            await settle(pilot)
            errors = {name: str(screen.query_one(f"#error-{name}").render()) for name in (
                "next_due_date", "recurring_amount", "first_payment_amount", "promotion",
                "override_suspend_until")}
            assert errors == {
                "next_due_date": "2026-02-30 is not a date",
                "recurring_amount": "must not be negative",
                "first_payment_amount": "'ten' is not an amount (write it like 1234.50)",
                "promotion": "there is no promotion with the code 'NOPE'",
                "override_suspend_until": "'tomorrow' is not a date: enter YYYY-MM-DD, 'never', "
                                          "or leave it empty",
            }
            assert screen.query_one("#field-next_due_date").value == "2026-02-30"
            app.save_screenshot("service_bad_input.svg", str(SCREENSHOTS))
            await type_into(pilot, screen, "recurring_amount", "abc")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert str(screen.query_one("#error-recurring_amount").render()) == \
                "'abc' is not an amount (write it like 1234.50)"
            # escape leaves the field first, then asks before dropping the typing
            await pilot.press("escape")
            assert isinstance(screen.focused, CommandBar)
            await pilot.press("escape")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            assert "Your edits are not saved" in screen_text(app)
            await pilot.press("n")
            await settle(pilot, until=lambda: app.screen is screen)
            assert screen.query_one("#field-recurring_amount").value == "abc"

    asyncio.run(scenario())
    assert stored(service).version == service.version
    assert ActivityLog.select().count() == 0


def test_save_override_auto_terminate_promotion_and_recalculate(db_url):
    product = make.product(name="Plan", prices={"monthly": "8.00", "annually": "80.00"})
    service = make.service(product_row=product, recurring_amount=D("5.00"))
    unpaid = make.service(product_row=product)  # another service: its lines stay
    Promotion.create(code="HALF", type="percentage", value=D("50"), recurring=True)
    make.ensure_template("invoice_created")
    from hostdesk.models.renewals import invoice_selected_items
    invoice_selected_items([("service", service.id), ("service", unpaid.id)], TODAY, Settings(),
                           admin=as_login("boss"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            how = str(screen.query_one("#how-recurring_amount").render())
            assert how.startswith("custom price; the catalog gives $8.00 = product $8.00")
            await type_into(pilot, screen, "override_suspend_until", "00/00/0000")
            screen.query_one("#field-promotion").focus()
            await pilot.press("ctrl+o")  # the promotion picker
            picker = await dialog(app, pilot, PromotionPicker)
            await settle(pilot, until=lambda: picker.codes == ["", "HALF"])
            await pilot.press("down", "enter")
            await pilot.pause()
            assert screen.query_one("#field-promotion").value == "HALF"
            screen.query_one("#field-billing_cycle").value = "annually"
            screen.query_one("#field-auto_terminate_end_of_cycle").value = True
            await type_into(pilot, screen, "auto_terminate_reason", "closing the shop")
            screen.query_one("#auto-recalculate").value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.query_one("#field-recurring_amount").value == "40.00"  # re-read
            assert screen.query_one("#field-override_suspend_until").value == "never"
            assert "Auto-terminates on 2026-01-01" in screen_text(app)
            how = str(screen.query_one("#how-recurring_amount").render())
            assert how == "= product $80.00 (Annually) − promotion $40.00"

    asyncio.run(scenario())
    after = stored(service)
    assert (after.recurring_amount, after.billing_cycle, after.override_suspend,
            after.override_suspend_until) == (D("40.00"), "annually", True, None)
    assert (after.auto_terminate_end_of_cycle, after.auto_terminate_reason) == (
        True, "closing the shop")
    lines = {line.item_id: line.cancelled for line in InvoiceLine.select()}
    assert lines == {service.id: True, unpaid.id: False}  # auto-terminate cancelled its line
    actions = [a.action for a in ActivityLog.select().order_by(ActivityLog.id)]
    assert actions.index("service.edit") < actions.index("service.auto_terminate")


def test_a_new_due_date_with_prorata_ticked_becomes_an_invoice(db_url):
    make.ensure_template("invoice_created")
    product = make.product(prices={"monthly": "31.00"})
    service = make.service(product_row=product, recurring_amount=D("31.00"),
                           next_due_date=pendulum.date(2026, 1, 1))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await type_into(pilot, screen, "next_due_date", "2026-01-11")
            screen.query_one("#create-prorata").value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "prorata invoice #" in toasts(app)
            assert screen.query_one("#field-next_due_date").value == "2026-01-01"  # until paid
            await type_into(pilot, screen, "next_due_date", "2025-12-01")
            screen.query_one("#create-prorata").value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "is not after the current 2026-01-01" in str(
                screen.query_one("#error-next_due_date").render())

    asyncio.run(scenario())
    invoice = Invoice.get()
    assert invoice.total == D("10.00")  # 10 days × 31.00 / 31
    assert stored(service).next_due_date == pendulum.date(2026, 1, 1)


# --- addons, move, delete, welcome ---------------------------------------------------------------


def test_addons_add_custom_and_predefined_edit_and_delete(db_url):
    make.ensure_template("invoice_created")
    service = make.service()
    catalog = make.catalog_addon(name="Daily backups")
    CatalogAddonPrice.create(addon=catalog, cycle="monthly", price=D("3.00"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await pilot.press("a")
            form = await dialog(app, pilot, AddAddonDialog)
            assert form.query_one("#field-generate_invoice").value is True  # ticked by default
            form.query_one("#field-name").value = "Extra IP"
            form.query_one("#field-price").value = "-2"
            form.query_one("#field-cycle").value = "annually"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert str(form.query_one("#error-price").render()) == "must not be negative"
            form.query_one("#field-price").value = "2.50"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is screen
            assert "Addon “Extra IP” added (2.50 annually); invoice #" in toasts(app)

            await pilot.press("a")
            await dialog(app, pilot, AddAddonDialog)
            app.screen.query_one("#field-catalog").value = catalog.id
            app.screen.query_one("#field-generate_invoice").value = False
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "Addon “Daily backups” added (3.00 monthly); no invoice" in toasts(app)

            table = screen.query_one("#addons")
            assert table.row_count == 2
            table.focus()
            table.move_cursor(row=0)
            await pilot.press("enter")  # edit
            await dialog(app, pilot, EditAddonDialog)
            app.screen.query_one("#field-recurring_amount").value = "2.75"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "saved" in toasts(app)
            table.move_cursor(row=1)
            await pilot.press("d", "y")  # delete, confirmed
            await settle(pilot)
            assert table.row_count == 1

    asyncio.run(scenario())
    [addon] = ServiceAddon.select()
    assert (addon.name, addon.recurring_amount) == ("Extra IP", D("2.75"))
    assert Invoice.select().count() == 1 and Invoice.get().total == D("2.50")
    assert ActivityLog.select().where(ActivityLog.action == "addon.delete").count() == 1


def test_move_refuses_the_same_and_a_closed_client_then_moves(db_url):
    service = make.service()
    closed = make.client(first_name="Closed", status="closed")
    target = make.client(first_name="Grace", last_name="Hopper")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            for client_id, says in ((service.client_id, "already belongs to this client"),
                                    (closed.id, f"client #{closed.id} is closed")):
                await pilot.press("m")
                move = await dialog(app, pilot, MoveDialog)
                await pilot.press(*str(client_id))
                await pilot.press("ctrl+s")
                await settle(pilot)
                assert says in str(move.query_one("#error-client").render())
                await pilot.press("escape")
                await settle(pilot, until=lambda: app.screen is screen)
            await pilot.press("m")
            await dialog(app, pilot, MoveDialog)
            await pilot.press(*"#", *str(target.id))
            await settle(pilot, rounds=4)
            await pilot.press("enter")  # take the match
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is screen
            assert f"moved to Grace Hopper (#{target.id})" in toasts(app)
            assert f"Client #{target.id} Grace Hopper" in screen_text(app)

    asyncio.run(scenario())
    assert stored(service).client_id == target.id
    assert ActivityLog.select().where(ActivityLog.action == "service.move").count() == 1


def test_delete_says_the_server_is_untouched_and_keeps_the_record(db_url, endpoint):
    service = webhook_service(endpoint.url, domain="gone.example")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await pilot.press("d")
            await dialog(app, pilot, TypedConfirmDialog)
            text = screen_text(app)
            assert "The server account is NOT touched" in text
            await pilot.press(*str(service.id), "enter")
            # the page is gone with the service
            await settle(pilot, until=lambda: app.screen is not screen, workers=True)

    asyncio.run(scenario())
    assert Service.select().count() == 0
    assert endpoint.requests == []  # the module was never called
    log = ActivityLog.get(ActivityLog.action == "service.delete")
    assert json.loads(log.before)["service"]["domain"] == "gone.example"


def test_resend_welcome_queues_the_email(db_url):
    service = make.service(product_row=make.product(type="vps"), password=secrets.encrypt("pw"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await pilot.press("W")
            await settle(pilot)
            assert "Welcome email queued again for" in toasts(app)
            await pilot.press("U")
            await settle(pilot, until=lambda: isinstance(app.screen, UpgradeScreen))
            assert app.screen.service_id == service.id

    asyncio.run(scenario())
    email = EmailOutbox.get()
    assert (email.template, email.related_id) == ("welcome_vps", service.id)
