"""F1 / `?`: the keys of the screen you are on, starting with what has focus."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from hostdesk.tui.keys import bind
from hostdesk.tui.screens.areas import DASHBOARD, EVERY_PLACE
from hostdesk.tui.widgets.dialogs import AnswersOnce


def _group_of(node, screen: Screen) -> str:
    if node is screen.app:
        return "Everywhere"
    if node is screen:
        return "This screen"
    return f"In {getattr(node, 'HELP_NAME', type(node).__name__)} (has focus)"


def describe_bindings(screen: Screen) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(keys, what it does)]) for the bindings active on `screen` right now."""
    app = screen.app
    grouped: dict[str, dict[str, list[str]]] = {}
    active: dict[str, ActiveBinding] = screen.active_bindings
    for key, (node, binding, enabled, _tooltip) in active.items():
        if not binding.description or binding.system:
            continue
        what = binding.description
        if binding.tooltip:
            what = f"{what} — {binding.tooltip}"
        if not enabled:
            what = f"{what} (not available here)"
        keys = grouped.setdefault(_group_of(node, screen), {}).setdefault(what, [])
        keys.append(app.get_key_display(Binding(key, binding.action)))
    order = {"In": 0, "This": 1, "Everywhere": 2}
    return [(group, [(" / ".join(keys), what) for what, keys in entries.items()])
            for group, entries in sorted(grouped.items(), key=lambda g: order[g[0].split()[0]])]


def help_content(screen: Screen) -> Content:
    parts: list = []
    focused = screen.focused
    for text in (getattr(focused, "HELP", ""), getattr(screen, "HELP", "")):
        if text:
            parts += [text, "\n\n"]
    for group, entries in describe_bindings(screen):
        parts += [(group, "bold underline"), "\n"]
        width = max(len(keys) for keys, _ in entries)
        for keys, what in entries:
            parts += [(f"  {keys:<{width}}", "bold $accent"), f"  {what}\n"]
        parts.append("\n")
    parts += [("Areas", "bold underline"), "\n"]
    for area in EVERY_PLACE:
        parts += [(f"  g {area.letter}", "bold $accent"), f"  {area.title}\n"]
    return Content.assemble(*parts)


class HelpScreen(AnswersOnce, ModalScreen[None], inherit_bindings=False):
    """The keys of `for_screen`, grouped by where they work."""

    CHANGES_NOTHING = True  # the screen below need not re-read when this goes

    BINDINGS = [
        bind("help", "close", "Close help", also="escape,question_mark,q", id="help.close"),
        Binding("j,down", "scroll('down')", "Scroll down", show=False, id="help.down"),
        Binding("k,up", "scroll('up')", "Scroll up", show=False, id="help.up"),
    ]

    def __init__(self, for_screen: Screen) -> None:
        super().__init__()
        self.for_screen = for_screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-panel"):
            yield Static(Content.assemble((f"Help · {self._screen_name()}", "bold")),
                         id="help-title")
            yield Static(help_content(self.for_screen), id="help-body")
            yield Static("escape, F1 or ? closes this help", classes="status-line")

    def _screen_name(self) -> str:
        area = getattr(self.for_screen, "area", None)
        if area is not None:
            return area.title
        heading = getattr(self.for_screen, "heading", None)
        return heading or DASHBOARD.title

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scroll(self, direction: str) -> None:
        panel = self.query_one("#help-panel", VerticalScroll)
        if direction == "down":
            panel.scroll_down(animate=False)
        else:
            panel.scroll_up(animate=False)
