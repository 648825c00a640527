"""The Dropdown (a Select drawn as one line, its list made on the first open): it behaves as
the Select it replaces, by keys and by mouse, and is one widget until it is opened."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

from hostdesk.tui.widgets.dropdown import Dropdown
from tests.tui.conftest import run, screen_text

CHOICES = [("Monthly", "monthly"), ("Quarterly", "quarterly"), ("Annually", "annually")]


class DropdownApp(App):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs
        self.changes: list = []

    def compose(self):
        yield Dropdown(CHOICES, id="cycle", compact=True, **self.kwargs)
        yield Select([("x", 1)], id="after", compact=True)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "cycle":
            self.changes.append(event.value)


def test_keys_open_the_list_type_to_find_and_choose():
    async def scenario():
        app = DropdownApp(prompt="choose")
        async with app.run_test(size=(40, 8)) as pilot:
            dropdown = app.query_one("#cycle", Dropdown)
            assert not dropdown.query(SelectOverlay)  # no list until it is opened
            assert not list(dropdown.walk_children())  # one widget: it draws its line itself
            assert "choose" in screen_text(app).splitlines()[0]
            dropdown.focus()
            await pilot.press("enter", *"ann", "enter")
            await pilot.pause()
            assert dropdown.value == "annually"
            assert app.changes == ["annually"]
            assert screen_text(app).splitlines()[0].startswith("Annually")
            await pilot.press("enter", "up", "enter")  # the list opens on the chosen one
            await pilot.pause()
            assert dropdown.value == "quarterly"
            assert app.changes == ["annually", "quarterly"]

    run(scenario())


KEYS = [("enter", "down", "down", "enter"), ("enter", "down", "enter"), ("enter", "up", "enter"),
        ("enter", *"mon", "enter"), ("enter", "escape"), ("enter", "end", "enter"),
        ("enter", "down", "down", "down", "enter")]


def test_the_same_keys_choose_what_they_choose_on_a_select():
    class Both(App):
        def compose(self):
            yield Dropdown(CHOICES, id="dropdown", prompt="none", compact=True)
            yield Select(CHOICES, id="select", prompt="none", compact=True)

    async def scenario():
        app = Both()
        async with app.run_test(size=(40, 8)) as pilot:
            for keys in KEYS:
                values = []
                for widget_id in ("dropdown", "select"):
                    widget = app.query_one(f"#{widget_id}", Select)
                    widget.focus()
                    await pilot.pause()
                    await pilot.press(*keys)
                    await pilot.pause()
                    values.append(widget.value)
                assert values[0] == values[1], keys

    run(scenario())


def test_a_click_opens_the_list_and_a_click_on_a_choice_takes_it():
    async def scenario():
        app = DropdownApp(value="monthly", allow_blank=False)
        async with app.run_test(size=(40, 8)) as pilot:
            dropdown = app.query_one("#cycle", Dropdown)
            await pilot.click("#cycle")
            await pilot.pause()
            assert dropdown.expanded and dropdown.query(SelectOverlay)
            assert "▲" in screen_text(app).splitlines()[0]
            await pilot.click(SelectOverlay, offset=(2, 2))  # the third choice
            await pilot.pause()
            assert not dropdown.expanded
            assert dropdown.value == "annually"

    run(scenario())


def test_new_choices_and_prompt_before_and_after_the_list_is_made():
    async def scenario():
        app = DropdownApp(prompt="choose")
        async with app.run_test(size=(40, 8)) as pilot:
            dropdown = app.query_one("#cycle", Dropdown)
            dropdown.set_options([("Biennially", "biennially")])
            dropdown.prompt = "shortest: Biennially"
            await pilot.pause()
            assert screen_text(app).splitlines()[0].startswith("shortest: Biennially")
            dropdown.focus()
            await pilot.press("enter", "down", "enter")
            await pilot.pause()
            assert dropdown.value == "biennially"
            dropdown.set_options(CHOICES)  # the list exists now: it is refilled
            await pilot.pause()
            assert dropdown.value == Select.NULL
            await pilot.press("enter", *"qu", "enter")
            await pilot.pause()
            assert dropdown.value == "quarterly"

    run(scenario())


def test_a_long_choice_is_cut_with_an_ellipsis_on_its_one_line():
    async def scenario():
        app = DropdownApp(value="monthly", allow_blank=False)
        async with app.run_test(size=(12, 6)) as pilot:
            dropdown = app.query_one("#cycle", Dropdown)
            dropdown.set_options([("A very long product name", "long")])
            await pilot.pause()
            first = screen_text(app).splitlines()[0]
            assert first.rstrip().endswith("▼") and "…" in first

    run(scenario())
