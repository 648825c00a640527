"""The key table (tui/keys.py, README "Keys") holds on every screen: a common command has the
table's key, and a key of the table means nothing else anywhere."""

from __future__ import annotations

import importlib
import pkgutil
import re

from textual.screen import Screen
from textual.widget import Widget

import hostdesk.tui.screens as screens_package
import hostdesk.tui.widgets as widgets_package
from hostdesk.tui.app import HostdeskApp
from hostdesk.tui.keymap import every_subclass
from hostdesk.tui.keys import ALSO, APP_KEYS, BOUND, KEYS, table_keys


def _import_all(package) -> None:
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def our_classes() -> list[type]:
    """Every Screen of tui/screens and tui/widgets, and every widget of tui/widgets and
    tui/screens (a widget's keys work on the screen that shows it)."""
    _import_all(screens_package)
    _import_all(widgets_package)
    ours = [cls for cls in every_subclass(Widget) | every_subclass(Screen)
            if cls.__module__.startswith(("hostdesk.tui.screens", "hostdesk.tui.widgets"))]
    assert len([cls for cls in ours if issubclass(cls, Screen)]) > 30  # every screen was found
    return [HostdeskApp, *sorted(ours, key=lambda cls: (cls.__module__, cls.__qualname__))]


# An action named like a common command must be bound as one (`keys.bind`).
COMMON_LOOKING = re.compile(r"(new|edit|delete|remove|reload|save)(_|$)")


def bindings_of(cls: type):
    """(key, binding) for every binding the class has, its inherited ones included."""
    for key, bindings in cls._merge_bindings().key_to_bindings.items():
        for binding in bindings:
            yield key, binding


def problems_of(cls: type) -> list[str]:
    meanings = table_keys()
    app_keys = {entry.key for entry in APP_KEYS} | {"colon", "question_mark"}
    where = f"{cls.__module__}.{cls.__qualname__}"
    problems = []
    common_on_screen: dict[str, str] = {}
    for key, binding in bindings_of(cls):
        common = BOUND.get(binding.id or "")
        if common is not None:
            entry = KEYS[common]
            if key not in {entry.key, entry.form_key} | ALSO.get(binding.id, set()):
                problems.append(f"{where}: {binding.id} ({common}) is on {key}, the table says "
                                f"{entry.key}")
            common_on_screen.setdefault(key, common)
            if common_on_screen[key] != common:
                problems.append(f"{where}: {key} means both {common_on_screen[key]} and {common}")
            continue
        if getattr(cls, "KEYS_ANSWER_A_QUESTION", False):
            continue  # a question's own answers (y/n, the letter after g)
        if COMMON_LOOKING.match(binding.action.rpartition(".")[2]):
            problems.append(f"{where}: {binding.id} ({binding.action}) looks like a common "
                            f"command: build it with keys.bind(...)")
        if key in meanings and cls is not HostdeskApp:
            if key in app_keys and key != "escape":
                problems.append(f"{where}: {binding.id} takes {key}, an app key")
            elif key == "escape":
                continue  # back, cancel, close: leaving what is on top, everywhere
            else:
                problems.append(f"{where}: {binding.id} ({binding.action}) is on {key}, which "
                                f"the table gives to {' / '.join(sorted(meanings[key]))}: "
                                f"build it with keys.bind(...) or pick another key")
    return problems


def test_every_common_command_has_the_table_key_and_no_key_means_two_things():
    problems = [problem for cls in our_classes() for problem in problems_of(cls)]
    assert problems == []


def test_the_common_commands_of_issue_17_are_bound_where_they_exist():
    our_classes()
    bound = {}
    for binding_id, common in BOUND.items():
        bound.setdefault(common, set()).add(binding_id)
    # new order on the orders list and on a client: `n`, no longer `N` and `o`
    assert {"list-screen.new_record", "client.new_order"} <= bound["new"]
    assert {"list-screen.reload", "client.reload", "invoice.reload"} <= bound["reload"]
    assert "order.remove_line" in bound["delete"]  # no longer ctrl+r
    assert {"list.tick_none", "checklist.tick_none"} <= bound["untick_all"]
    assert "list-screen.export" in bound["export"] and "client.edit" in bound["edit"]


def test_the_check_finds_a_key_that_means_something_else():
    from textual.binding import Binding

    from hostdesk.tui.screens.base import HostdeskScreen
    from hostdesk.tui.keys import bind

    class Clashing(HostdeskScreen):
        BINDINGS = [Binding("ctrl+r", "remove_line", "Remove line", id="test.remove"),
                    bind("new", "new_thing", "New", id="test.new")]

    class WrongKey(HostdeskScreen):
        BINDINGS = [Binding("N", "new_order", "New order", id="test.new_order")]

    try:
        assert any("ctrl+r" in p and "reload" in p for p in problems_of(Clashing))
        assert any("N" in p and "untick_all" in p for p in problems_of(WrongKey))
    finally:
        BOUND.pop("test.new", None)


def test_the_readme_shows_the_table():
    from pathlib import Path

    from hostdesk.tui.keys import COMMON_KEYS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    keys = readme.split("### Keys", 1)[1].split("\n### ", 1)[0]
    for entry in COMMON_KEYS:
        assert f"| `{entry.key}` |" in keys, entry.name
