"""The `g` chord: after `g`, the next letter picks an area. The footer shows the choices."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from hostdesk.tui.screens.areas import BY_LETTER, EVERY_PLACE
from hostdesk.tui.widgets.dialogs import AnswersOnce


def chord_prompt() -> Content:
    parts: list = [("g", "bold $accent"), " then  "]
    for area in EVERY_PLACE:
        parts += [(area.letter, "bold $accent"), f" {area.title.lower()}  "]
    parts += [("esc", "bold $accent"), " cancel"]
    return Content.assemble(*parts)


class GoChordScreen(AnswersOnce, ModalScreen[str | None], inherit_bindings=False):
    """Waits for the second key of `g <letter>` and returns the area's key (None: cancelled)."""

    HELP = "`g` was pressed: the next letter goes to an area, escape cancels."
    CHANGES_NOTHING = True  # the screen below need not re-read when this goes
    KEYS_ANSWER_A_QUESTION = True  # its letters pick an area, not the key table's commands

    BINDINGS = [
        *(Binding(area.letter, f"pick('{area.key}')", area.title, show=False,
                  id=f"go.{area.key}") for area in EVERY_PLACE),
        Binding("escape", "pick(None)", "Cancel", show=False, id="go.cancel"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(chord_prompt(), id="chord-bar")

    def on_key(self, event: events.Key) -> None:
        if event.key in BY_LETTER or event.key == "escape":
            return  # a binding handles it
        event.stop()
        event.prevent_default()
        self.notify(f"g {event.character or event.key}: no such area "
                    f"(press g then one of {' '.join(BY_LETTER)})", severity="warning")
        self.dismiss(None)

    def action_pick(self, area_key: str | None) -> None:
        self.dismiss(area_key)
