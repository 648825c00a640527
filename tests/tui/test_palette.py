"""The command palette lists the current screen's commands (with their keys, greyed ones with
why), every area and quit, and runs what it lists: Terminate on a service page terminates it
through the module, as the `t` key does."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette

from hostdesk.models.permissions import SERVER_OPERATIONS
from hostdesk.models.schema import Admin, ServiceAddon
from hostdesk.tui.palette import app_commands, screen_commands
from hostdesk.tui.screens.areas import EVERY_PLACE
from hostdesk.tui.widgets.dialogs import TypedConfirmDialog
from tests import factories as make
from tests.tui.test_service_screen import (  # noqa: F401 - fixtures of the service page tests
    SIZE,
    app_for,
    dialog,
    endpoint,
    open_service,
    received,
    settle,
    setup,
    state_line,
    stored,
    webhook_service,
)


def test_the_palette_runs_terminate_on_a_service_page(db_url, endpoint):  # noqa: F811
    service = webhook_service(endpoint.url, status="active")
    addon = make.addon(service)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            commands = {c.title: c.help for c in screen_commands(screen)}
            assert commands["Terminate"] == "t"
            assert commands["Save"].startswith("^s")
            assert commands["Create"].startswith("c · greyed: ")  # already active

            await pilot.press("ctrl+p")
            await settle(pilot, until=lambda: isinstance(app.screen, CommandPalette))
            await pilot.press(*"term")
            await settle(pilot)
            await pilot.press("enter")
            confirm = await dialog(app, pilot, TypedConfirmDialog)
            assert confirm is app.screen
            await pilot.press(*str(service.id), "enter")
            await settle(pilot, until=lambda: stored(service).status == "terminated", seconds=5)
            await settle(pilot)
            assert app.screen is screen

    asyncio.run(scenario())
    assert received(endpoint)["command"] == "terminate"
    assert ServiceAddon.get_by_id(addon.id).status == "cancelled"


def test_a_greyed_command_in_the_palette_says_why_and_areas_and_quit_are_listed(
        db_url, endpoint):  # noqa: F811
    Admin.create(login="reader", role="sales")  # no server operations
    service = webhook_service(endpoint.url, status="active")

    async def scenario():
        app = app_for(db_url, login="reader")
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_service(app, pilot, service.id)
            commands = {c.title: c for c in screen_commands(screen)}
            terminate = commands["Terminate"]
            assert terminate.help.startswith("t · greyed: ")
            assert SERVER_OPERATIONS in terminate.help

            # The key says the same in the status line, and nothing runs.
            await pilot.press("t")
            await settle(pilot)
            assert app.screen is screen
            assert state_line(screen) == f"Terminate: {terminate.help.split('greyed: ')[1]}"

            everywhere = [c.title for c in app_commands(app)]
            assert [f"Go to {area.title}" for area in EVERY_PLACE] == everywhere[:len(EVERY_PLACE)]
            assert "Quit" in everywhere and "Search everything" in everywhere

    asyncio.run(scenario())
    assert stored(service).status == "active"
    assert len(endpoint.requests) == 0
