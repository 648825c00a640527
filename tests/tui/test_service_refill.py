"""Issue 17: the service page is kept built once closed and refilled with the next service
opened (from a list, search, anywhere `open_record` goes). The refilled page is the next
service's page in everything: its values, its version for the save, nothing typed or said
about the one before, and no late answer about the one before reaches it."""

from __future__ import annotations

import asyncio

from textual.screen import Screen
from textual.widgets import Input

from hostdesk.models.schema import Service
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.widgets.command_bar import CommandBar
from hostdesk.tui.widgets.dialogs import ConfirmDialog, TypedConfirmDialog
from tests import factories as make
from tests.tui.conftest import settle, toasts
# `setup` (autouse): the service screen tests' key and admin, used here as there
from tests.tui.test_service_screen import (  # noqa: F401
    SIZE,
    app_for,
    endpoint,
    setup,
    webhook_service,
)


async def open_page(app, pilot, service_id: int) -> ServiceScreen:
    """Open a service the way every route does, and wait until its page is on top."""
    app.open_record("services", service_id)
    await settle(pilot, until=lambda: isinstance(app.screen, ServiceScreen)
                 and app.screen.service_id == service_id and app.screen.view is not None)
    await settle(pilot)
    return app.screen


async def type_into(pilot, screen, field: str, text: str) -> None:
    """tab from the command bar to the field, then type at its end."""
    for _ in range(30):
        if screen.focused is not None and screen.focused.id == f"field-{field}":
            break
        await pilot.press("tab")
    assert screen.focused.id == f"field-{field}"
    await pilot.press("end", *text)


def header(screen) -> str:
    return str(screen.query_one("#service-header").render())


def test_a_refilled_page_shows_and_saves_the_next_service(db_url):
    client = make.client()
    a = make.service(client, domain="alpha.example")
    b = make.service(client, domain="bravo.example", recurring_amount="12.00")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            first = await open_page(app, pilot, a.id)
            await type_into(pilot, first, "domain", "-typed")
            assert first.dirty
            await pilot.press("escape", "escape")  # out of the field, then leave: asked
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")  # discard them
            await settle(pilot, until=lambda: not isinstance(app.screen, (ServiceScreen,
                                                                          ConfirmDialog)))

            page = await open_page(app, pilot, b.id)
            assert page is first  # the kept page, refilled
            assert page.query_one("#field-domain", Input).value == "bravo.example"
            assert page.query_one("#field-recurring_amount", Input).value == "12.00"
            assert "bravo.example" in header(page) and "alpha" not in header(page)
            assert f"Service #{b.id}" in page.query_one("TitleBar").title
            assert not page.dirty and page.changed_fields() == {}
            assert page.version == Service.get_by_id(b.id).version
            assert isinstance(page.focused, CommandBar)  # as a page just opened
            assert page.query_one("#service-body").scroll_y == 0

            await type_into(pilot, page, "domain", "-new")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert f"Service #{b.id} saved" in toasts(app), toasts(app)

    asyncio.run(scenario())
    assert Service.get_by_id(b.id).domain == "bravo.example-new"
    assert Service.get_by_id(a.id).domain == "alpha.example"  # discarded, never written


def test_a_late_answer_about_the_service_before_is_dropped(db_url, endpoint):
    a = webhook_service(endpoint.url, status="active", domain="alpha.example")
    b = make.service(make.client(), domain="bravo.example")
    gate = endpoint.hold()  # the module of A answers when the test says so

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            page = await open_page(app, pilot, a.id)
            await pilot.press("t")  # terminate A
            await settle(pilot, until=lambda: isinstance(app.screen, TypedConfirmDialog)
                         and app.screen.focused is not None)
            await pilot.press(*str(a.id), "enter")
            await settle(pilot, until=lambda: page.running == "terminate")
            await pilot.press("escape")  # left while it runs
            await settle(pilot, until=lambda: not isinstance(app.screen, ServiceScreen))

            assert await open_page(app, pilot, b.id) is page
            bar = page.query_one(CommandBar)
            assert page.running is None and "(running…)" not in bar.plain()
            assert str(page.query_one("#service-state").render()) == ""

            gate.set()  # A's answer arrives while B is shown
            await settle(pilot, until=lambda: Service.get_by_id(a.id).status == "terminated")
            await settle(pilot)
            assert app.screen is page and page.service_id == b.id
            assert page.view.service.id == b.id and "bravo.example" in header(page)
            assert page.query_one("#field-domain", Input).value == "bravo.example"
            assert "Terminate" not in toasts(app), toasts(app)

    asyncio.run(scenario())
    assert Service.get_by_id(b.id).status == "active"


def test_a_refilled_page_is_restyled_only_after_a_theme_change(db_url, monkeypatch):
    """Its widgets were styled when it was built: pushed again it is not restyled whole,
    unless the stylesheet changed while it was closed."""
    client = make.client()
    ids = [make.service(client, domain=f"s{n}.example").id for n in range(3)]
    restyled = []
    textuals = Screen._on_screen_resume

    def seen(screen, event):
        if isinstance(screen, ServiceScreen):
            restyled.append(event.refresh_styles)
        return textuals(screen, event)

    monkeypatch.setattr(Screen, "_on_screen_resume", seen)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            for index, service_id in enumerate(ids):
                if index == 2:
                    app.theme = "textual-light" if app.theme != "textual-light" else "nord"
                    await settle(pilot)
                await open_page(app, pilot, service_id)
                await pilot.press("escape")
                await settle(pilot, until=lambda: not isinstance(app.screen, ServiceScreen))

    asyncio.run(scenario())
    assert restyled == [False, False, True]
