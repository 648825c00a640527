"""The client summary: details, the client's lists paged from the database, and invoicing
ticked items early from the keyboard (rules §4, "invoice selected items")."""

from __future__ import annotations

import asyncio
import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.models.clock import Clock
from hostdesk.models.schema import Admin, Invoice, InvoiceLine
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import screen_text, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.invoices import InvoiceScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.widgets.biglist import BigList
from hostdesk.tui.widgets.dialogs import MessageDialog
from hostdesk.models.permissions import SYSTEM_ADMIN

D = Decimal
TODAY = pendulum.date(2026, 3, 17)
SIZE = (120, 36)
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture(autouse=True)
def setup(db):
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")
    Admin.create(login="sam", role="support")


def app_for(db_url, login="boss"):
    config = Config(settings=Settings(), database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", TODAY))



async def open_summary(app, pilot, client_id) -> ClientSummaryScreen:
    await app.push_screen(ClientSummaryScreen(client_id))
    await settle(pilot)
    return app.screen


@pytest.fixture
def world(db):
    """Ada: two services due 04-01, one due 05-01 with an addon, one terminated, a domain due
    05-01, an unpaid invoice; and Alan, whose service must never show on Ada's page."""
    ada = make.client(first_name="Ada", last_name="Lovelace", email="ada@example.com",
                      phone="+44 1", city="London")
    april, may = pendulum.date(2026, 4, 1), pendulum.date(2026, 5, 1)
    product = make.product(name="Starter", prices={"monthly": "10.00"})
    first = make.service(ada, product, domain="one.example", next_due_date=april)
    second = make.service(ada, product, domain="two.example", next_due_date=april,
                          recurring_amount=D("15.00"))
    third = make.service(ada, product, domain="three.example", next_due_date=may)
    addon = make.addon(third, name="Backups", recurring_amount=D("2.00"))
    gone = make.service(ada, product, domain="gone.example", status="terminated",
                        next_due_date=april)
    domain = make.domain(ada, name="ada.example", next_due_date=may,
                         recurring_amount=D("12.00"))
    make.service(make.client(first_name="Alan"), product, domain="alan.example")
    Invoice.create(client=ada, date=TODAY, due_date=pendulum.date(2026, 3, 1),
                   payment_method="banktransfer", total=D("9.99"))
    return dict(ada=ada, first=first, second=second, third=third, addon=addon, gone=gone,
                domain=domain)


def test_details_and_lists_are_the_clients_own(db_url, world):
    ada = world["ada"]

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_summary(app, pilot, ada.id)
            text = screen_text(app)
            assert f"#{ada.id} Ada Lovelace  ACTIVE" in text
            assert "ada@example.com · +44 1 · London" in text
            assert "Services: 3 active · 1 terminated" in text
            assert "Unpaid invoices 1 ($9.99), 1 overdue" in text
            services = screen.biglist("services")
            assert services.total == 4
            assert [row["domain"] for row in services.visible_rows()] == [
                "gone.example", "three.example", "two.example", "one.example"]
            assert "1–4 of 4" in text
            await pilot.press("2")
            await settle(pilot)
            assert [r["name"] for r in screen.biglist("addons").visible_rows()] == ["Backups"]
            assert screen.biglist("addons").visible_rows()[0]["service"] == \
                f"#{world['third'].id} three.example"
            await pilot.press("3")
            await settle(pilot)
            assert screen.biglist("domains").total == 1
            await pilot.press("4")
            await settle(pilot)
            assert screen.biglist("invoices").total == 1
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, InvoiceScreen)
            await pilot.press("escape", "1")
            await settle(pilot)
            await pilot.press("down", "enter")  # three.example
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen)
            assert app.screen.service_id == world["third"].id
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            await pilot.press("2", "enter")  # an addon opens its service
            await settle(pilot)
            assert app.screen.service_id == world["third"].id

    asyncio.run(scenario())


def test_a_tab_is_read_when_first_shown_then_with_the_others(db_url, world):
    """Opening the summary reads the services only; the addons are read when their tab is
    first shown, and from then on again with the services when the summary is shown again."""
    ada = world["ada"]

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_summary(app, pilot, ada.id)
            assert screen.biglist("services").total == 4
            # The other tabs' lists are not even made until their tab is shown.
            assert [screen.made_list(key) for key in ("addons", "domains", "invoices")] \
                == [None, None, None]
            await pilot.press("2")
            await settle(pilot)
            assert [r["name"] for r in screen.biglist("addons").visible_rows()] == ["Backups"]
            make.addon(world["first"], name="Mail")  # meanwhile, someone adds one
            await pilot.press("1", "enter")
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            assert screen.biglist("addons").total == 2  # read again, though not shown
            assert screen.made_list("domains") is None  # still never shown

    asyncio.run(scenario())


def test_tick_three_items_with_two_due_dates_and_press_I(db_url, world):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_summary(app, pilot, world["ada"].id)
            assert screen.check_action("invoice_ticked", ()) is None  # nothing ticked yet
            # Services, newest first: gone, three, two, one. Tick gone, skip three, tick two, one.
            await pilot.press("space", "down", "space", "space")
            await pilot.press("3", "space")  # the domain
            await settle(pilot, until=lambda: "ticked: 3 services, 1 domains" in screen_text(app))
            assert "ticked: 3 services, 1 domains (I invoices them)" in screen_text(app)
            app.save_screenshot("client_summary_ticked.svg", str(SCREENSHOTS))
            await pilot.press("I")
            await settle(pilot, until=lambda: isinstance(app.screen, MessageDialog))
            body = str(app.screen.query_one("#message-body").render())
            app.save_screenshot("client_summary_invoiced.svg", str(SCREENSHOTS))
            await pilot.press("enter")
            # the page reads its lists again, without the ticks, in a worker
            await settle(pilot, until=lambda: not screen.ticked_items(), workers=True)
            return body

    body = asyncio.run(scenario())
    invoices = list(Invoice.select().where(Invoice.id > 1).order_by(Invoice.due_date))
    assert [(i.due_date, i.total) for i in invoices] == [
        (pendulum.date(2026, 4, 1), D("25.00")), (pendulum.date(2026, 5, 1), D("12.00"))]
    assert InvoiceLine.select().count() == 3
    assert "2 invoice(s) created:" in body
    assert f"#{invoices[0].id} due 2026-04-01 · $25.00 · banktransfer" in body
    assert f"#{invoices[1].id} due 2026-05-01 · $12.00" in body
    assert ("1 item(s) refused:\n  service #%d gone.example: is terminated; only pending, "
            "active or suspended items can be invoiced" % world["gone"].id) in body


def test_invoicing_the_same_period_twice_is_refused_with_the_reason(db_url, world):
    from hostdesk.models.permissions import SYSTEM_LOGIN
    from hostdesk.models.renewals import invoice_selected_items

    invoice_selected_items([("addon", world["addon"].id)], TODAY, Settings(),
                           admin=SYSTEM_ADMIN)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_summary(app, pilot, world["ada"].id)
            await pilot.press("2", "space", "I")
            await settle(pilot, until=lambda: isinstance(app.screen, MessageDialog))
            return str(app.screen.query_one("#message-body").render())

    body = asyncio.run(scenario())
    assert body.startswith("No invoice was created.")
    assert (f"addon #{world['addon'].id} Backups: the period from 2026-05-01 is already "
            "invoiced") in body


def test_without_the_permission_I_is_greyed(db_url, world):
    async def scenario():
        app = app_for(db_url, "sam")  # support: no "generate due invoices"
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_summary(app, pilot, world["ada"].id)
            await pilot.press("space", "I")
            await pilot.pause()
            assert screen.ticked_items() and screen.check_action("invoice_ticked", ()) is None
            assert app.screen is screen

    asyncio.run(scenario())
    assert Invoice.select().count() == 1


def test_a_long_list_is_paged_not_loaded(db_url, world):
    ada, product = world["ada"], world["first"].product
    rows = [dict(client=ada.id, product=product.id, domain=f"bulk-{n:04d}.example",
                 status="active", registration_date=TODAY, billing_cycle="monthly",
                 recurring_amount=D("1.00"), payment_method="banktransfer")
            for n in range(1500)]
    from hostdesk.models.schema import Service

    for start in range(0, len(rows), 500):
        Service.insert_many(rows[start:start + 500]).execute()

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_summary(app, pilot, ada.id)
            services = screen.biglist("services")
            assert services.total == 1504
            assert services.cached_rows < 200
            assert "of 1,504" in screen_text(app)
            app.save_screenshot("client_summary_80x24.svg", str(SCREENSHOTS))

    asyncio.run(scenario())


def test_a_click_on_a_tab_title_shows_its_list(db_url, world):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_summary(app, pilot, world["ada"].id)
            await pilot.click("#client-tabs", offset=(12, 0))  # " Services " then " Addons "
            await settle(pilot)
            assert screen.active_key == "addons"
            assert screen.biglist("addons").has_focus
            assert [r["name"] for r in screen.biglist("addons").visible_rows()] == ["Backups"]
            assert "Addons" in str(screen.query_one("#client-tabs").render()).split("\n")[0]

    asyncio.run(scenario())
