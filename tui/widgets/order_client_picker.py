"""The order form's client picker: type a name, company, email or #id; the matches appear
under the field; up/down move through them and enter takes one.

The search runs in a thread worker a moment after the last key (`models.listing`'s indexed
prefix search), so typing never waits for the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from hostdesk.models.listing import client_matches
from hostdesk.tui.background import run_in_background

SEARCH_DELAY = 0.2  # seconds of quiet typing before the search runs
MAX_MATCHES = 6


@dataclass(frozen=True)
class ClientChoice:
    id: int
    name: str
    email: str
    status: str
    payment_method: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} · {self.email} · #{self.id}"


def search_clients(term: str, limit: int = MAX_MATCHES) -> list[ClientChoice]:
    """Clients matching `term` (name, company or email prefix, or #id); newest first."""
    return [ClientChoice(row["id"], row["name"], row["email"], row["status"],
                         row["payment_method"]) for row in client_matches(term, limit)]


def load_client(client_id: int) -> ClientChoice | None:
    rows = search_clients(f"#{client_id}", limit=1)
    return rows[0] if rows else None


class ClientPicker(Vertical):
    """An input with a list of matches under it. `chosen` is the picked client (or None)."""

    BINDINGS = [
        Binding("down", "move(1)", "Next match", show=False, id="client_picker.down"),
        Binding("up", "move(-1)", "Previous match", show=False, id="client_picker.up"),
    ]

    class Chosen(Message):
        """The picked client changed (None: the admin is typing a new search)."""

        def __init__(self, picker: "ClientPicker", client: ClientChoice | None) -> None:
            super().__init__()
            self.picker = picker
            self.client = client

        @property
        def control(self) -> "ClientPicker":
            return self.picker

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chosen: ClientChoice | None = None
        self._matches: list[ClientChoice] = []
        self._timer: Timer | None = None
        self._showing_choice = False

    def compose(self) -> ComposeResult:
        self._input = Input(placeholder="name, company, email or #id", id="client-search",
                            compact=True)
        yield self._input
        # The list of matches is made on the first search (`_match_list`).

    def _match_list(self) -> OptionList:
        found = self.query_children("#client-matches")
        if found:
            return found.first(OptionList)
        matches = OptionList(id="client-matches", compact=True)
        matches.can_focus = False  # tab goes on to the next field; arrows move from the input
        self.mount(matches)
        return matches

    @property
    def input(self) -> Input:
        return self._input

    def choose(self, client: ClientChoice | None) -> None:
        """Show `client` as the pick (from a search, or preset by the screen)."""
        self.chosen = client
        self._hide_matches()
        if client is not None and self.input.value != client.label:
            self._showing_choice = True
            self.input.value = client.label
            self.input.cursor_position = len(self.input.value)
        self.post_message(self.Chosen(self, client))

    @on(Input.Changed, "#client-search")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self._showing_choice:  # our own update of the text, not the admin typing
            self._showing_choice = False
            return
        if self.chosen is not None:
            self.chosen = None
            self.post_message(self.Chosen(self, None))
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY, lambda: self._search(event.value))

    @on(Input.Submitted, "#client-search")
    def _take_highlighted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self._matches:
            return
        matches = self._match_list()
        if matches.highlighted is not None:
            self.choose(self._matches[matches.highlighted])

    def action_move(self, step: int) -> None:
        if not self._matches:
            return
        matches = self._match_list()
        current = matches.highlighted if matches.highlighted is not None else -step
        matches.highlighted = max(0, min(len(self._matches) - 1, current + step))

    def _search(self, term: str) -> None:
        run_in_background(self, lambda: search_clients(term),
                          lambda found: self._show_matches(term, found), group="client-search")

    def _show_matches(self, term: str, found: list[ClientChoice]) -> None:
        if term != self.input.value or self.chosen is not None:
            return  # the admin typed on, or picked one, meanwhile
        self._matches = found
        matches = self._match_list()
        matches.clear_options()
        if not term.strip():
            self._hide_matches()
            return
        if found:
            matches.add_options(Option(client.label + ("" if client.status == "active"
                                                       else f" ({client.status})"))
                                for client in found)
            matches.highlighted = 0
        else:
            matches.add_option(Option(f"no client matches “{term.strip()}”", disabled=True))
        self.add_class("-searching")

    def _hide_matches(self) -> None:
        self._matches = []
        self.remove_class("-searching")
