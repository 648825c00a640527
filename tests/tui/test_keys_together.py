"""Keys that reach the app together, as a paste or a fast hand over a slow SSH link delivers
them: a dialog answers once, and the screen beneath it stays where it was."""

from __future__ import annotations

from textual import events

from hostdesk.tui.screens.chord import GoChordScreen
from hostdesk.tui.screens.dashboard import DashboardScreen
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.dialogs import PromptDialog
from tests.tui.conftest import run, screen_text, settle


def typed_together(app, *keys: str) -> None:
    """Queue every key before the app handles the first (the terminal read them at once)."""
    for key in keys:
        app.post_message(events.Key(key, "\r" if key == "enter" else key))


def test_g_then_two_keys_that_name_no_area_leaves_the_screen_as_it_was(demo, app_for):
    """`g 1 0` typed fast: `1` cancels the chord; `0` used to answer it again, closing the
    dashboard beneath it and ending the app with an error."""
    app = app_for()

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("g")
            await settle(pilot, until=lambda: isinstance(app.screen, GoChordScreen))
            typed_together(app, "1", "0")
            await settle(pilot)
            assert isinstance(app.screen, DashboardScreen)
            assert app.return_code is None  # still running
            await pilot.press("g", "s")  # and the chord still works
            await settle(pilot)
            assert isinstance(app.screen, ListScreen) and app.screen.area.key == "services"
            assert "hostdesk · Services" in screen_text(app)

    run(scenario())


def test_enter_twice_on_a_prompt_answers_once_and_keeps_the_screen_beneath(demo, app_for):
    app = app_for()
    answers = []

    async def scenario():
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            services = app.screen
            app.push_screen(PromptDialog("Note", "", "note"), answers.append)
            await settle(pilot, until=lambda: isinstance(app.screen, PromptDialog))
            await pilot.press("o", "k")
            typed_together(app, "enter", "enter")
            await settle(pilot)
            assert app.screen is services
            assert answers == ["ok"]

    run(scenario())


def test_every_modal_screen_answers_once():
    """A new dialog that forgets `AnswersOnce` fails here, not in an admin's hands."""
    import importlib
    import pkgutil

    from textual.screen import ModalScreen

    import hostdesk.tui
    from hostdesk.tui.widgets.dialogs import AnswersOnce

    for module in pkgutil.walk_packages(hostdesk.tui.__path__, "hostdesk.tui."):
        importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = {cls for cls in subclasses(ModalScreen) if cls.__module__.startswith("hostdesk.tui.")}
    assert len(ours) >= 14
    assert sorted(cls.__name__ for cls in ours if not issubclass(cls, AnswersOnce)) == []
