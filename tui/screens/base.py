"""What every hostdesk screen shares: the title bar, `escape` back, tab between fields."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Label


class TitleBar(Horizontal):
    """One line: where you are on the left, who you are on the right."""

    def __init__(self, title: str, who: str = "") -> None:
        super().__init__(classes="title-bar")
        self._title = title
        self._who = who

    def compose(self) -> ComposeResult:
        yield Label(f"hostdesk · {self._title}", classes="title-bar--title")
        yield Label(self._who, classes="title-bar--who")


class HostdeskScreen(Screen, inherit_bindings=False):
    """Base of the full screens. `HELP` is shown first by F1."""

    HELP = ""
    BINDINGS = [
        Binding("escape", "back", "Back", id="screen.back"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="screen.focus_next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                id="screen.focus_previous"),
    ]

    _covered_by_a_glance = False

    def on_screen_suspend(self) -> None:
        # By the time this runs, the screen now on top is on the stack.
        self._covered_by_a_glance = getattr(self.app.screen, "CHANGES_NOTHING", False)

    def on_screen_resume(self) -> None:
        # Shown first, or come back to: the database's truth. Not after a glance at a screen
        # that changes nothing (the `g` chord, help): re-reading then is a wasted query, and
        # on a big list it competes with the list the chord is about to open.
        if self._covered_by_a_glance:
            self._covered_by_a_glance = False
            return
        self.reread()

    def reread(self) -> None:
        """Re-read what the screen shows from the database (when it comes back on top)."""

    def title_bar(self, title: str) -> TitleBar:
        return TitleBar(title, self.app.who)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "back":
            return self.app.screen_stack.index(self) > 0 if self in self.app.screen_stack else True
        return True

    def action_back(self) -> None:
        self.app.action_back()
