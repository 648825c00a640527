"""Issue 17: a screen opened from a list is drawn once, with its data: from the moment it is on
top and mounted it holds the record's values (no empty form, no "loading…" choices first)."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from hostdesk.models.schema import Client, Invoice, Service
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.invoices import InvoiceScreen
from hostdesk.tui.screens.order_form import OrderFormScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.upgrade import UpgradeScreen
from tests.tui.conftest import run, screen_text, settle

SIZE = (120, 40)


async def _first_moment_on_top(app, screen_class, seconds: float = 20.0):
    """The screen as soon as it is on top and mounted (checked at every turn of the loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        screen = app.screen
        if isinstance(screen, screen_class) and screen.is_mounted:
            return screen
        await asyncio.sleep(0)
    raise AssertionError(f"{screen_class.__name__} was not opened")


async def _open_list(app, pilot, keys: str) -> None:
    await settle(pilot)
    await pilot.press("g", keys)
    await settle(pilot)


def test_the_service_page_is_composed_with_the_service(catalog, app_for):
    """Its fields are built holding the service's values: each field takes its value once
    (none is shown empty, then filled)."""
    changes = {}  # each change of a field's value, once (the hook sees it at every node
    # it bubbles through: the field, its row, its section... up to the app)

    def watch(message) -> None:
        if isinstance(message, Input.Changed) and (message.input.id or "").startswith("field-"):
            changes[id(message)] = (message.input.id, message.value, message)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE, message_hook=watch) as pilot:
            await _open_list(app, pilot, "s")
            await pilot.press("enter")
            screen = await _first_moment_on_top(app, ServiceScreen)
            service = Service.get_by_id(screen.service_id)
            assert screen.query_one("#field-domain").value == service.domain
            assert screen.query_one("#field-recurring_amount").value == \
                str(service.recurring_amount)
            assert screen.query_one("#field-product").value == service.product_id
            assert screen.query_one("#field-status").value == service.status
            assert not screen.dirty
            await settle(pilot)
            text = screen_text(app)
            assert service.domain in text and "loading" not in text
            # Nothing was typed: a save has nothing to write.
            assert screen.changed_fields() == {}
            filled = [field for field, _value, _message in changes.values()]
            assert len(filled) == len(set(filled)), sorted(filled)
            # and each with the service's value, never empty first
            assert ("field-domain", service.domain) in [c[:2] for c in changes.values()]

    run(scenario())


def test_the_invoice_page_and_the_client_summary_open_with_their_data(catalog, app_for):
    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "i")
            await pilot.press("enter")
            screen = await _first_moment_on_top(app, InvoiceScreen)
            invoice = Invoice.get_by_id(screen.invoice_id)
            assert screen.view is not None and screen.view.invoice.id == invoice.id
            assert "loading" not in str(screen.query_one("#invoice-summary").render())
            await settle(pilot)
            await pilot.press("escape")
            await _open_list(app, pilot, "c")
            await pilot.press("enter")
            summary = await _first_moment_on_top(app, ClientSummaryScreen)
            client = Client.get_by_id(summary.client_id)
            details = str(summary.query_one("#client-details").render())
            assert client.display_name in details and "loading" not in details
            await settle(pilot)

    run(scenario())


def test_the_upgrade_screen_and_the_order_form_open_with_the_catalog(catalog, app_for):
    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "s")
            await pilot.press("enter")
            await _first_moment_on_top(app, ServiceScreen)
            await settle(pilot)
            await pilot.press("U")
            upgrade = await _first_moment_on_top(app, UpgradeScreen)
            service = Service.get_by_id(upgrade.service_id)
            product = upgrade.query_one("#new-product")
            assert product.value == service.product_id
            assert "loading" not in str(upgrade.query_one("#upgrade-current").render())
            assert "loading" not in screen_text(app)  # the product has no price: "no price"
            await settle(pilot)
            await pilot.press("escape", "escape")
            await _open_list(app, pilot, "c")
            await pilot.press("enter")
            await _first_moment_on_top(app, ClientSummaryScreen)
            await settle(pilot)
            await pilot.press("n")  # a new order for this client (the key table's "new")
            form = await _first_moment_on_top(app, OrderFormScreen)
            assert [p.name for p in form.catalog] == ["Shared Basic"]
            assert "loading" not in str(form.query_one("#order-total").render())
            await settle(pilot)
            await settle(pilot, until=lambda: form._pristine is not None)

    run(scenario())


def test_a_screen_or_dialog_just_opened_is_not_restyled_whole(catalog, app_for, monkeypatch):
    """Every widget of a screen or dialog just pushed was styled as it mounted: the restyle of
    the whole screen Textual asks for on a push is skipped then (issue 17)."""
    from textual.screen import Screen

    from hostdesk.tui.widgets.dialogs import TypedConfirmDialog

    resumed = []
    textuals = Screen._on_screen_resume

    def seen(screen, event):
        resumed.append((type(screen).__name__, event.refresh_styles))
        return textuals(screen, event)

    monkeypatch.setattr(Screen, "_on_screen_resume", seen)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "s")
            await pilot.press("enter")
            await settle(pilot, until=lambda: isinstance(app.screen, ServiceScreen))
            await settle(pilot)
            await pilot.press("d")
            await settle(pilot, until=lambda: isinstance(app.screen, TypedConfirmDialog))
            await pilot.press("escape")
            await settle(pilot, until=lambda: isinstance(app.screen, ServiceScreen))
            await settle(pilot)

    run(scenario())
    shown = [(name, restyled) for name, restyled in resumed
             if name in ("ServiceScreen", "TypedConfirmDialog")]
    assert shown[:2] == [("ServiceScreen", False), ("TypedConfirmDialog", False)]
    assert len(shown) == 3  # and the service page came back on top



def test_the_order_form_and_mass_update_are_laid_out_once(catalog, app_for, monkeypatch):
    """Opening a form lays it out once: the layouts Textual asks for as its widgets mount and
    take their size are the one it just did (issue 17). The mass update's checklist, longer
    than it shows, has its scrollbar before that layout (found by it, it would ask for
    another). A change after it (a line added) is laid out as before."""
    from textual.screen import Screen

    from hostdesk.tui.screens.mass_update import MassUpdateScreen
    from hostdesk.tui.widgets.order_line import OrderLineRow

    layouts = []
    scrollbars = []  # the checklist's scrollbar before and after each layout of its screen
    textuals = Screen._refresh_layout

    def counted(screen, size=None, scroll=False):
        if scroll:
            return textuals(screen, size, scroll)
        layouts.append(type(screen).__name__)
        if isinstance(screen, MassUpdateScreen):
            before = screen.checklist.show_vertical_scrollbar
            textuals(screen, size, scroll)
            scrollbars.append((before, screen.checklist.show_vertical_scrollbar))
            return None
        return textuals(screen, size, scroll)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "s")
            await pilot.press("M")
            mass = await _first_moment_on_top(app, MassUpdateScreen)
            await settle(pilot)
            assert scrollbars[0] == (True, True)
            assert mass.checklist.visible_rows()  # drawn with its rows
            await pilot.press("escape")
            await _open_list(app, pilot, "o")
            await pilot.press("n")
            form = await _first_moment_on_top(app, OrderFormScreen)
            # Everything the opening asked for is done (the running total, which changes
            # what the form shows, waits QUOTE_DELAY of quiet first).
            await pilot.pause(0.1)
            assert layouts.count("OrderFormScreen") == 1
            await settle(pilot)
            await pilot.press("ctrl+n")  # a second line
            await settle(pilot)
            second = list(form.query(OrderLineRow))[1]
            assert second.region.height >= 1 and second.field("product").region.width > 0

    run(scenario())


def _counting_composes(monkeypatch, screen_class) -> list:
    """The screens of `screen_class` composed from now on."""
    composed = []
    compose = screen_class.compose

    def counted(screen):
        composed.append(screen)
        return compose(screen)

    monkeypatch.setattr(screen_class, "compose", counted)
    return composed


def test_the_first_new_order_of_a_session_is_built_ahead(catalog, app_for, monkeypatch):
    """Once the app is up, what a new order starts with (catalog, payment methods) is read and
    the form built with it, off the stack: the first order form of the session opens without
    being composed, as every later one does; a form is built again for the next order while
    the admin is back on the list; an opened form reads the catalog again once drawn, so a
    product added since the form was built is offered (issue 17)."""
    from tests import factories as make

    composed = _counting_composes(monkeypatch, OrderFormScreen)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, until=lambda: len(composed) == 1 and composed[0].is_mounted)
            built = composed[0]
            assert built not in app.screen_stack  # off the stack, not shown
            await _open_list(app, pilot, "o")
            make.product(name="Added since")
            await pilot.press("n")
            form = await _first_moment_on_top(app, OrderFormScreen)
            assert form is built and len(composed) == 1  # pushed as it was built
            assert "loading" not in str(form.query_one("#order-total").render())
            await settle(pilot, until=lambda: "Added since" in [p.name for p in form.catalog])
            await pilot.press("escape")
            await settle(pilot, until=lambda: len(composed) == 2 and composed[1].is_mounted)
            await pilot.press("n")
            second = await _first_moment_on_top(app, OrderFormScreen)
            assert second is composed[1] and second is not form and len(composed) == 2
            assert sorted(p.name for p in second.catalog) == ["Added since", "Shared Basic"]

    run(scenario())


def test_the_first_service_page_of_a_session_is_a_refill(catalog, app_for, monkeypatch):
    """Once the app is idle after start-up, the service page is built off the stack with a
    service read for it and kept: the first service opened in the session refills it, as
    every later one does, instead of composing the page (issue 17)."""
    composed = _counting_composes(monkeypatch, ServiceScreen)
    other = Service.get(Service.domain == "site-229.example")  # the list's second row

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, until=lambda: len(composed) == 1 and composed[0].is_mounted)
            built = composed[0]
            assert built not in app.screen_stack
            await _open_list(app, pilot, "s")
            await pilot.press("j", "enter")  # not the service it was built with (the newest)
            page = await _first_moment_on_top(app, ServiceScreen)
            assert page is built and len(composed) == 1
            await settle(pilot, until=lambda: page.view is not None)
            assert page.service_id == other.id and page.view.service.id == other.id
            assert page.query_one("#field-domain", Input).value == other.domain
            assert other.domain in screen_text(app)

    run(scenario())


def test_the_mass_update_is_built_ahead_and_opened_for_what_the_list_shows(
        catalog, app_for, monkeypatch):
    """Back on the services list, its mass update is built off the stack: `M` opens it without
    composing it, for the list's search and ticks, with the list's rows; back on the list,
    the next one is built (issue 17)."""
    from hostdesk.tui.screens.lists import ListScreen
    from hostdesk.tui.screens.mass_update import MassUpdateScreen

    composed = _counting_composes(monkeypatch, MassUpdateScreen)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "s")
            listed = app.screen
            assert isinstance(listed, ListScreen)
            await pilot.press("enter")
            await _first_moment_on_top(app, ServiceScreen)
            await settle(pilot)
            assert not composed  # (not while the list opens: it would delay it)
            await pilot.press("escape")  # back on the list: its mass update is built
            await settle(pilot, until=lambda: len(composed) == 1 and composed[0].is_mounted)
            assert composed[0] not in app.screen_stack
            await pilot.press("slash", *"site-22", "enter")
            await settle(pilot)
            await pilot.press("space")
            [ticked] = listed.biglist.ticked
            await pilot.press("M")
            mass = await _first_moment_on_top(app, MassUpdateScreen)
            assert mass is composed[0] and len(composed) == 1
            checklist = mass.checklist
            assert checklist.filter == listed.biglist.filter and checklist.filter.text == "site-22"
            assert ticked in checklist.ticks and checklist.ticked_count == 1
            assert "site-22" in mass.query_one("TitleBar").title
            await settle(pilot)
            shown = [row["domain"] for row in checklist.visible_rows()]
            assert shown == [row["domain"] for row in listed.biglist.visible_rows()]
            assert len(shown) == 10 and all(d.startswith("site-22") for d in shown)
            assert "1 ticked" in str(mass.query_one("#mass-status").render())
            await pilot.press("escape")
            await settle(pilot, until=lambda: len(composed) == 2 and composed[1].is_mounted)

    run(scenario())


def test_every_screen_opened_with_its_data_is_laid_out_once(catalog, app_for, monkeypatch):
    """A screen drawn with what it read before it was pushed (the service page, the upgrade
    screen, the invoice page, the client summary with its services) or shown again (a list)
    is laid out once as it opens: the layouts Textual asks for as its widgets mount and take their
    size are the one it just did (`HostdeskScreen`, issue 17)."""
    from textual.screen import Screen

    from hostdesk.models.schema import ProductPrice
    from hostdesk.tui.screens.lists import ListScreen

    # priced for the services' cycle: the upgrade screen opens with nothing to quote
    ProductPrice.create(product=catalog["product"], cycle="monthly", price="12.50")
    layouts: dict[int, int] = {}
    textuals = Screen._refresh_layout

    def counted(screen, size=None, scroll=False):
        if not scroll:
            layouts[id(screen)] = layouts.get(id(screen), 0) + 1
        return textuals(screen, size, scroll)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)

    async def laid_out(app, pilot, screen_class, *keys) -> int:
        """How many times the screen `keys` open is laid out until it is settled."""
        await settle(pilot)
        layouts.clear()  # (a kept screen, or one built ahead: from this open on)
        await pilot.press(*keys)
        screen = await _first_moment_on_top(app, screen_class)
        await settle(pilot)
        await pilot.pause(0.1)
        return layouts.get(id(screen), 0)

    async def scenario():
        app = app_for()
        async with app.run_test(size=SIZE) as pilot:
            await _open_list(app, pilot, "s")
            counts = {"service page": await laid_out(app, pilot, ServiceScreen, "enter"),
                      "upgrade screen": await laid_out(app, pilot, UpgradeScreen, "U")}
            await pilot.press("escape")
            counts["service page again"] = await laid_out(app, pilot, ServiceScreen,
                                                          "escape", "j", "enter")
            assert await laid_out(app, pilot, ListScreen, "escape") <= 1  # the list again
            await _open_list(app, pilot, "i")
            counts["invoice page"] = await laid_out(app, pilot, InvoiceScreen, "enter")
            await _open_list(app, pilot, "c")
            counts["client summary"] = await laid_out(app, pilot, ClientSummaryScreen, "enter")
            summary = app.screen
            assert summary.biglist("services").visible_rows()  # drawn with its services
            assert counts == {name: 1 for name in counts}, counts

    run(scenario())
