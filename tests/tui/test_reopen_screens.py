"""Any route to any screen is safe to repeat (issue 14 bug 12): a record opened again while it
is still open further back, a second mass update, a second upgrade screen or order form. The
app used to crash with DuplicateIds (exit 1) on the second copy."""

from __future__ import annotations

import pytest

from hostdesk.models.schema import Client, Invoice, Product, Server, Service
from tests.tui.conftest import run, settle
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.detail import DetailScreen
from hostdesk.tui.screens.invoices import InvoiceScreen
from hostdesk.tui.screens.mass_update import MassUpdateScreen
from hostdesk.tui.screens.order_form import OrderFormScreen
from hostdesk.tui.screens.search import GlobalSearchScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.upgrade import UpgradeScreen

SIZE = (120, 36)


async def search_and_open(pilot, text: str) -> None:
    """ctrl+k, type, enter on the first hit: what a person does."""
    await pilot.press("ctrl+k")
    await pilot.pause()
    assert isinstance(pilot.app.screen, GlobalSearchScreen)
    await pilot.press(*text)
    await pilot.pause(0.3)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)


def stack_of(app, kind) -> list:
    return [screen for screen in app.screen_stack if isinstance(screen, kind)]


def test_a_service_opened_again_by_ctrl_k_while_open_further_back(catalog, app_for):
    app = app_for()
    a = Service.get(Service.domain == "site-103.example")
    b = Service.get(Service.domain == "site-104.example")

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for domain in ("site-103.example", "site-104.example", "site-103.example"):
                await search_and_open(pilot, domain)
            assert [s.service_id for s in stack_of(app, ServiceScreen)] == [a.id, b.id, a.id]
            assert "site-103.example" in str(app.screen.query_one("#service-header").render())
            for expected in (b.id, a.id):  # escape walks back through both copies
                await pilot.press("escape")
                await settle(pilot)
                assert app.screen.service_id == expected

    run(scenario())
    assert app.return_code in (None, 0)


@pytest.mark.parametrize("kind,screen_type,model", [
    ("services", ServiceScreen, Service), ("invoices", InvoiceScreen, Invoice),
    ("clients", ClientSummaryScreen, Client), ("products", None, Product),
    ("servers", None, Server), ("orders", DetailScreen, None),
])
def test_every_record_kind_opened_twice_while_open_further_back(catalog, app_for, kind,
                                                                 screen_type, model):
    """`open_record` is the one way every route (search, lists, queues, client summary)
    opens a record."""
    from hostdesk.models.schema import Order

    model = model or Order
    if model is Server and not Server.select().exists():
        Server.create(name="web1", hostname="web1.example", module="none")
        Server.create(name="web2", hostname="web2.example", module="none")
    if model is Product and Product.select().count() < 2:
        Product.create(name="Second")
    if model is Order and Order.select().count() < 2:
        Order.create(number="2234567890", client=Client.get(), payment_method="banktransfer")
    ids = [row.id for row in model.select(model.id).order_by(model.id).limit(2)]
    app = app_for()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for record_id in (ids[0], ids[1], ids[0]):
                app.open_record(kind, record_id)
                await settle(pilot)
            depth = len(app.screen_stack)
            assert depth == 4
            if screen_type is not None:
                assert len(stack_of(app, screen_type)) == 3
            for _ in range(3):
                await pilot.press("escape")
                await settle(pilot)
            assert len(app.screen_stack) == 1

    run(scenario())


def test_a_service_opened_from_the_client_summary_while_open_further_back(catalog, app_for):
    app = app_for()
    ada = catalog["clients"][0]

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(2):
                await search_and_open(pilot, "lovel")  # Ada's summary
                assert isinstance(app.screen, ClientSummaryScreen)
                await pilot.press("1")  # the services tab
                await settle(pilot)
                app.screen.query_one("#list-services").focus()
                await pilot.pause()
                await pilot.press("home", "enter")
                await settle(pilot)
                assert isinstance(app.screen, ServiceScreen)
            first, second = stack_of(app, ServiceScreen)
            assert first.service_id == second.service_id
            assert Service.get_by_id(first.service_id).client_id == ada.id
            assert [type(s) for s in app.screen_stack[-4:]] == [
                ClientSummaryScreen, ServiceScreen, ClientSummaryScreen, ServiceScreen]

    run(scenario())


def test_a_second_mass_update_while_the_first_is_open_further_back(catalog, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            await pilot.press("M")
            await settle(pilot)
            assert isinstance(app.screen, MassUpdateScreen)
            await search_and_open(pilot, "lovel")
            await pilot.press("M")
            await settle(pilot)
            assert len(stack_of(app, MassUpdateScreen)) == 2
            assert isinstance(app.screen, MassUpdateScreen)

    run(scenario())
    assert app.return_code in (None, 0)


def test_a_second_upgrade_screen_and_order_form(catalog, app_for):
    app = app_for()
    service = Service.get(Service.domain == "site-101.example")  # active

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(2):
                await search_and_open(pilot, "site-101.example")
                await pilot.press("U")
                await settle(pilot)
                assert isinstance(app.screen, UpgradeScreen)
            assert len(stack_of(app, UpgradeScreen)) == 2
            for _ in range(2):
                await search_and_open(pilot, "lovel")
                await pilot.press("n")  # new order for this client
                await settle(pilot)
                assert isinstance(app.screen, OrderFormScreen)
            assert len(stack_of(app, OrderFormScreen)) == 2
            assert service.id == stack_of(app, UpgradeScreen)[0].service_id

    run(scenario())
    assert app.return_code in (None, 0)
