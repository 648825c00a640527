"""`ctrl+f` on a form: type part of a field's or a section's name, enter goes there.

The list is the form's own fields and sections (`FormScreen.finder_entries`), matched
anywhere in the name, the section or the field's id; the first match is highlighted, so
`ctrl+f`, a few letters and enter reach any field.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from hostdesk.tui.widgets.dialogs import AnswersOnce


@dataclass(frozen=True)
class FinderEntry:
    name: str          # what the admin reads: "Auto recalculate on save", "Billing"
    section: str       # the section it is in, or for a section "section · alt+b"
    target: str        # the id of the widget to focus
    also: str = ""     # other words it answers to (the field's id)
    is_section: bool = False

    def matches(self, words: list[str]) -> bool:
        haystack = f"{self.name} {self.section} {self.also}".lower()
        return all(word in haystack for word in words)

    def named(self, words: list[str]) -> bool:
        """Whether the words are in its own name (listed before a match on its section)."""
        return all(word in self.name.lower() for word in words)


class FieldFinder(AnswersOnce, ModalScreen[str | None], inherit_bindings=False):
    """Returns the id of the chosen widget, or None."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="finder.close"),
        Binding("down", "move(1)", "Next", show=False, id="finder.next"),
        Binding("up", "move(-1)", "Previous", show=False, id="finder.previous"),
    ]

    def __init__(self, heading: str, entries: list[FinderEntry]) -> None:
        super().__init__()
        self.heading = heading
        self.entries = entries
        self.shown: list[FinderEntry] = list(entries)

    def compose(self) -> ComposeResult:
        with Vertical(id="finder-panel"):
            yield Static(f"Go to a field of {self.heading}", id="finder-title")
            yield Input(placeholder="part of a field's or a section's name", id="finder-input")
            yield OptionList(id="finder-results")
            yield Static(Text.assemble(("enter", "bold"), " go there   ", ("↑↓", "bold"),
                                       " choose   ", ("escape", "bold"), " close"),
                         id="finder-keys", classes="status-line")

    def on_mount(self) -> None:
        self._show()
        self.query_one("#finder-input", Input).focus()

    @on(Input.Changed, "#finder-input")
    def _typed(self, event: Input.Changed) -> None:
        words = event.value.lower().split()
        found = [entry for entry in self.entries if entry.matches(words)]
        self.shown = sorted(found, key=lambda entry: not entry.named(words))
        self._show()

    def _show(self) -> None:
        results = self.query_one("#finder-results", OptionList)
        results.clear_options()
        results.add_options([Option(self._line(entry)) for entry in self.shown])
        results.highlighted = 0 if self.shown else None

    @staticmethod
    def _line(entry: FinderEntry) -> Text:
        line = Text(entry.name, style="bold" if entry.is_section else "")
        if entry.section:
            line.append(f"   {entry.section}", style="dim")
        return line

    def action_move(self, step: int) -> None:
        results = self.query_one("#finder-results", OptionList)
        if self.shown:
            now = results.highlighted if results.highlighted is not None else 0
            results.highlighted = max(0, min(len(self.shown) - 1, now + step))

    @on(Input.Submitted, "#finder-input")
    def _go(self) -> None:
        highlighted = self.query_one("#finder-results", OptionList).highlighted
        if self.shown and highlighted is not None:
            self.dismiss(self.shown[highlighted].target)

    @on(OptionList.OptionSelected, "#finder-results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.shown[event.option_index].target)

    def action_close(self) -> None:
        self.dismiss(None)
