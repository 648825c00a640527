"""Walking the whole app with the keyboard alone: g-chords, palette, help, search, escape."""

from __future__ import annotations

import re

import pytest

from hostdesk.models.listing import SOURCES
from hostdesk.models.schema import Client
from hostdesk.tui.screens.areas import AREAS
from hostdesk.tui.screens.chord import GoChordScreen
from hostdesk.tui.screens.dashboard import DashboardScreen
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.help import HelpScreen
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.screens.no_access import NoAccessScreen
from hostdesk.tui.screens.search import GlobalSearchScreen
from hostdesk.tui.widgets.biglist import BigList
from tests.tui.conftest import run, screen_text, settle


def newest_id(source) -> int | None:
    model = source.model
    return model.select(model.id).order_by(model.id.desc()).scalar()


def test_every_area_by_g_chord_then_back(demo, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            text = screen_text(app)
            for area in AREAS:
                assert f"g {area.letter}  {area.title}" in text
            active_clients = Client.select().where(Client.status == "active").count()
            assert f"{active_clients:,} active" in text

            for area in AREAS:
                await pilot.press("g")
                await pilot.pause()
                assert isinstance(app.screen, GoChordScreen)
                assert "g then" in screen_text(app)  # the pending chord, in the footer
                await pilot.press(area.letter)
                await settle(pilot)
                screen = app.screen
                assert isinstance(screen, ListScreen) and screen.area is area
                biglist = screen.query_one(BigList)
                source = screen.source
                total = source.count()
                assert biglist.total == total
                text = screen_text(app)
                assert f"hostdesk · {area.title}" in text
                if total:
                    shown = min(total, biglist.rows_height)
                    assert f"1–{shown:,} of {total:,}" in text
                    assert biglist.row_at(0)["id"] == newest_id(source)
                    first_rows = text.splitlines()[2:8]  # below the title (and any filter bar)
                    assert any(re.search(rf"^\s+{newest_id(source)} ", line) for line in first_rows)
                else:
                    assert "0 of 0" in text
                await pilot.press("escape")
                await settle(pilot)
                assert isinstance(app.screen, DashboardScreen)

    run(scenario())


def test_chord_goes_from_area_to_area_and_escape_returns_to_main_screen(demo, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            await pilot.press("g", "i")
            await settle(pilot)
            assert app.screen.area.key == "invoices"
            assert len(app.screen_stack) == 2  # areas replace each other above the main screen
            await pilot.press("g", "z")  # no such area: cancelled, said so, nothing moves
            await pilot.pause()
            assert app.screen.area.key == "invoices"
            await pilot.press("g", "d")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            await pilot.press("escape")  # the main screen is the bottom: escape stays
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)

    run(scenario())


def test_a_glance_at_the_chord_or_help_does_not_re_read_the_screen_below(demo, app_for,
                                                                          monkeypatch):
    """Coming back from a screen that can change something re-reads; from the `g` chord or
    help (which change nothing) it does not: on a big list that query would compete with
    the list the chord is about to open."""
    from hostdesk.tui.screens import dashboard

    dashboard_reads = []
    view = dashboard.dashboard_view
    monkeypatch.setattr(dashboard, "dashboard_view",
                        lambda today, now: dashboard_reads.append(today) or view(today, now))
    app = app_for()

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert len(dashboard_reads) == 1
            await pilot.press("g", "s")
            await settle(pilot)
            assert len(dashboard_reads) == 1  # not re-read when the chord went away
            screen = app.screen
            list_reads = []
            page = screen.source.page
            screen.source.page = lambda *a, **k: list_reads.append(a) or page(*a, **k)
            for keys in (("g", "escape"), ("f1", "escape")):
                await pilot.press(*keys)
                await settle(pilot)
                assert app.screen is screen and list_reads == []
            await pilot.press("enter")  # a service's page: it can change anything
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen and len(list_reads) == 1
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen) and len(dashboard_reads) == 2

    run(scenario())


def test_the_footer_is_one_widget_redrawn_only_when_its_keys_change(demo, app_for):
    from hostdesk.tui.widgets.key_footer import KeyFooter

    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            footer = app.screen.query_one(KeyFooter)
            assert not footer.children  # drawn by itself, not a widget per key
            shown = footer.shown
            assert "space Tick" in footer.plain()
            for keys in (("g", "escape"), ("f1", "escape"), ("j",)):
                await pilot.press(*keys)
                await settle(pilot)
                assert footer.shown is shown  # the same keys: not drawn again
            await pilot.press("f")  # into the filter bar: the list's keys are gone
            await settle(pilot)
            assert footer.shown is not shown and "Tick" not in footer.plain()
            await pilot.press("escape")
            await settle(pilot)

    run(scenario())


def test_a_click_on_a_footer_key_presses_it(demo, app_for):
    from hostdesk.tui.screens.help import HelpScreen
    from hostdesk.tui.widgets.key_footer import KeyFooter

    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            footer = app.screen.query_one(KeyFooter)
            column = next(x for x, entry in footer._placed() if entry.key == "f1")
            await pilot.click(KeyFooter, offset=(column + 1, 0))
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)

    run(scenario())


def test_main_screen_opens_an_area_with_arrows_and_enter(demo, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("down", "down", "enter")  # third line: orders
            await settle(pilot)
            assert app.screen.area.key == "orders"

    run(scenario())


def test_command_palette_by_ctrl_p_and_colon_goes_to_areas(demo, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for palette_key, words, area_key in (("ctrl+p", "module queue", "module_queue"),
                                                 ("colon", "invoices", "invoices")):
                await pilot.press(palette_key)
                await pilot.pause()
                await pilot.press(*words)
                await settle(pilot)
                await pilot.press("enter")
                await settle(pilot)
                assert isinstance(app.screen, ListScreen)
                assert app.screen.area.key == area_key
                assert app.screen.query_one(BigList).total == SOURCES[area_key]().count()

    run(scenario())


def test_help_by_f1_and_question_mark_lists_the_keys_of_the_focused_screen(demo, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            for help_key in ("f1", "question_mark"):
                await pilot.press(help_key)
                await pilot.pause()
                assert isinstance(app.screen, HelpScreen)
                assert "Help · Services" in screen_text(app)
                body = str(app.screen.query_one("#help-body").content)
                for words in ("In the list (has focus)", "space", "Tick", "Invert ticks",
                              "This screen", "Search", "Everywhere", "Go to", "g x"):
                    assert words in body, words
                await pilot.press("escape")
                await pilot.pause()
                assert isinstance(app.screen, ListScreen)
            await pilot.press("escape", "f1")  # the main screen's own help
            await pilot.pause()
            body = str(app.screen.query_one("#help-body").content)
            assert "The main screen." in body and "In the list" not in body

    run(scenario())


def test_global_search_finds_a_client_and_opens_it(catalog, app_for):
    app = app_for()
    ada = catalog["clients"][0]

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            await pilot.press("ctrl+k")
            await pilot.pause()
            assert isinstance(app.screen, GlobalSearchScreen)
            await pilot.press(*"lovel")
            await pilot.pause(0.3)
            await settle(pilot)
            text = screen_text(app)
            assert "#1  Ada Lovelace (Analyti" in text
            assert app.screen.hits[0].kind == "client" and app.screen.hits[0].id == ada.id
            assert f"{len(app.screen.hits)} found for “lovel”" in text, text
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ClientSummaryScreen) and app.screen.client_id == ada.id
            assert "ada@analytical.example" in screen_text(app)
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.area.key == "services"  # back where the search started

    run(scenario())


def test_global_search_by_id_and_by_domain_then_escape(catalog, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+k", *"site-12")
            await pilot.pause(0.3)
            await settle(pilot)
            hits = app.screen.hits
            assert [h.title for h in hits[:8]] == [f"site-{n}.example" for n in range(129, 121, -1)]
            await pilot.press("down", "down", "enter")  # into the results, second hit
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen)
            assert "site-128.example" in screen_text(app)
            await pilot.press("escape", "ctrl+k", *"#1")
            await pilot.pause(0.3)
            await settle(pilot)
            kinds = {h.kind for h in app.screen.hits}
            assert kinds == {"client", "service", "invoice"}  # id 1 of each
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)

    run(scenario())


def test_a_global_search_replaced_by_newer_typing_is_stopped_mid_statement(catalog, app_for,
                                                                           monkeypatch):
    import time

    import hostdesk.tui.screens.search as search_screen
    from hostdesk.models.db import database

    real_search, slow = search_screen.search_everything, {}

    def search_everything(term, *, limit):
        if term == "site":  # the first term runs a statement that would last minutes
            started = time.monotonic()
            try:
                database.execute_sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                     "FROM n WHERE i < 1e10) SELECT COUNT(*) FROM n")
            finally:
                slow["seconds"] = time.monotonic() - started
        return real_search(term, limit=limit)

    monkeypatch.setattr(search_screen, "search_everything", search_everything)
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("ctrl+k", *"site")
            await pilot.pause(0.6)  # the typing pause is over: "site" is being read
            assert "seconds" not in slow
            await pilot.press(*"-12")
            await pilot.pause(0.3)
            await settle(pilot, until=lambda: "seconds" in slow and app.screen.hits)
            assert slow["seconds"] < 5  # stopped, not left to run behind the newer search
            assert app.screen.term == "site-12"
            assert app.screen.hits[0].title == "site-129.example"
            assert "search failed" not in screen_text(app)

    run(scenario())


@pytest.mark.parametrize("login,why", [("nobody", "is not an admin"), ("gone", "is deactivated")])
def test_a_login_without_access_sees_who_can_add_it_and_nothing_else(catalog, app_for,
                                                                     login, why):
    app = app_for(login)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, NoAccessScreen)
            text = screen_text(app)
            assert f"“{login}” {why}" in text
            assert "boss, tester" in text  # the active admins who may manage admins
            for keys in (("g", "s"), ("ctrl+k",), ("ctrl+p",), ("colon",)):
                await pilot.press(*keys)
                await settle(pilot)
                assert isinstance(app.screen, NoAccessScreen), keys
                assert len(app.screen_stack) == 1

    run(scenario())


def test_the_app_leaves_when_its_terminal_is_gone(catalog, app_for, monkeypatch):
    import hostdesk.tui.app

    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            monkeypatch.setattr(hostdesk.tui.app, "terminal_alive", lambda: True)
            app.check_terminal()  # the periodic check, with the terminal still there
            await pilot.pause()
            assert app.return_code is None and isinstance(app.screen, DashboardScreen)
            monkeypatch.setattr(hostdesk.tui.app, "terminal_alive", lambda: False)
            app.check_terminal()
            await pilot.pause()

    run(scenario())
    assert app.return_code == hostdesk.tui.app.EXIT_TERMINAL_LOST
