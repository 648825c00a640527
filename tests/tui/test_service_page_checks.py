"""The service page's save from the keyboard (issue 14 bugs 3, 4, 8, 13): what a person
types, what the page says, and what the database holds afterwards."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.models import secrets
from hostdesk.models.clock import Clock
from hostdesk.models.invoicing import LineSpec, create_invoice
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
from tests.tui.conftest import screen_text, settle, toasts
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.widgets.dialogs import ConfirmDialog
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 3, 17)
NDD = pendulum.date(2026, 4, 1)
SIZE = (120, 36)


@pytest.fixture(autouse=True)
def setup(db):
    secrets.configure("service-page-checks")
    Admin.create(login="boss", role="full")
    make.ensure_template("invoice_created")
    yield
    secrets.configure("")


def app_for(db_url):
    config = Config(settings=Settings(), database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, "boss", Clock("UTC", TODAY))




async def open_service(app, pilot, service_id) -> ServiceScreen:
    await app.push_screen(ServiceScreen(service_id))
    await settle(pilot)
    return app.screen


async def type_into(pilot, screen, name: str, text: str) -> None:
    field = screen.query_one(f"#field-{name}")
    field.focus()
    await pilot.pause()
    field.value = ""
    if text:
        await pilot.press(*text)


async def save(app, pilot) -> None:
    await pilot.press("ctrl+s")
    await settle(pilot)


def error_under(screen, name: str) -> str:
    return str(screen.query_one(f"#error-{name}").render())


def state(screen) -> str:
    return str(screen.query_one("#service-state").render())


def test_an_empty_or_early_next_due_date_is_refused_and_a_far_one_is_asked(db_url):
    service = make.service(next_due_date=NDD, registration_date=pendulum.date(2025, 4, 1))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await type_into(pilot, screen, "next_due_date", "")
            await save(app, pilot)
            assert "needs a next due date, or it is never billed again" in \
                error_under(screen, "next_due_date")
            await type_into(pilot, screen, "next_due_date", "1900-01-01")
            await save(app, pilot)
            assert "is before the registration date 2025-04-01" in \
                error_under(screen, "next_due_date")
            assert Service.get_by_id(service.id).next_due_date == NDD
            await type_into(pilot, screen, "next_due_date", "2027-04-01")
            await save(app, pilot)
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            assert "more than 3 Monthly cycles from today" in screen_text(app)
            await pilot.press("n")  # not this one
            await settle(pilot, until=lambda: app.screen is screen)
            assert Service.get_by_id(service.id).next_due_date == NDD
            assert "more than 3 Monthly cycles from today" in error_under(screen, "next_due_date")
            assert state(screen) == ""  # said once: under the field
            assert screen.query_one("#field-next_due_date").value == "2027-04-01"  # kept
            await save(app, pilot)
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await settle(pilot)
            assert f"Service #{service.id} saved" in toasts(app)

    asyncio.run(scenario())
    assert Service.get_by_id(service.id).next_due_date == pendulum.date(2027, 4, 1)


def test_setting_cancelled_by_hand_ends_addons_and_future_lines_and_says_so(db_url):
    service = make.service(next_due_date=NDD)
    addon = make.addon(service)
    started = create_invoice(service.client_id, [LineSpec(
        kind=LineKind.RENEWAL, description="Hosting March", amount=D("10.00"),
        item_type="service", item_id=service.id, period_start=pendulum.date(2026, 3, 1),
        period_end=NDD)], date=TODAY, due_date=pendulum.date(2026, 3, 1),
        payment_method="card", admin=as_login("boss"))
    future = create_invoice(service.client_id, [LineSpec(
        kind=LineKind.RENEWAL, description="Hosting April", amount=D("10.00"),
        item_type="service", item_id=service.id, period_start=NDD,
        period_end=pendulum.date(2026, 5, 1))], date=TODAY, due_date=NDD,
        payment_method="card", admin=as_login("boss"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            screen.query_one("#field-status").value = "cancelled"
            await save(app, pilot)
            said = toasts(app)
            assert state(screen) == ""  # a success is a toast, not repeated in the status line
            assert "1 addon(s) cancelled with it" in said
            assert f"“Hosting April” (invoice #{future.id})" in said
            assert "the module was not called" in said
            assert "CANCELLED" in str(screen.query_one("#service-header").render())

    asyncio.run(scenario())
    fresh = Service.get_by_id(service.id)
    assert (fresh.status, fresh.termination_date) == ("cancelled", TODAY)
    addon = ServiceAddon.get_by_id(addon.id)
    assert (addon.status, addon.termination_date) == ("cancelled", TODAY)
    cancelled = {line.invoice_id: line.cancelled for line in InvoiceLine.select()}
    assert cancelled == {started.id: False, future.id: True}
    assert not ModuleJob.select().exists()


def test_a_promotion_or_quantity_the_order_form_refuses_is_refused_here(db_url):
    service = make.service(next_due_date=NDD)
    Promotion.create(code="OLD", type="percentage", value=D("10"),
                     expiry_date=pendulum.date(2026, 3, 1))
    Promotion.create(code="GONE", type="percentage", value=D("10"), max_uses=1, uses=1)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await type_into(pilot, screen, "promotion", "OLD")
            await save(app, pilot)
            assert error_under(screen, "promotion") == "'OLD' expired on 2026-03-01"
            await type_into(pilot, screen, "promotion", "GONE")
            await save(app, pilot)
            assert "has been used its maximum of 1 times" in error_under(screen, "promotion")
            await type_into(pilot, screen, "promotion", "")
            await type_into(pilot, screen, "quantity", "2")
            await save(app, pilot)
            assert "does not allow quantities" in error_under(screen, "quantity")

    asyncio.run(scenario())
    fresh = Service.get_by_id(service.id)
    assert (fresh.promotion_id, fresh.quantity, fresh.version) == (None, 1, service.version)


def test_a_password_change_is_logged_as_changed_never_its_value(db_url):
    service = make.service(next_due_date=NDD, password=secrets.encrypt("old-Secret-1"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            await type_into(pilot, screen, "password", "new-Secret-2")
            await save(app, pilot)
            assert "password changed" in toasts(app)

    asyncio.run(scenario())
    assert secrets.decrypt(Service.get_by_id(service.id).password) == "new-Secret-2"
    log = ActivityLog.get(ActivityLog.action == "service.edit")
    assert log.description == "edited password"
    assert json.loads(log.after) == {"password": "changed"}
    assert "Secret" not in log.before + log.after
