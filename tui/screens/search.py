"""ctrl+k: one search box over clients, services, domains and invoices."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from hostdesk.models.errors import ValidationError
from hostdesk.models.listing import Interruptible
from hostdesk.models.parsing import clean_search_text
from hostdesk.models.search import SearchHit, hint
from hostdesk.models.search import search as search_everything
from hostdesk.tui.background import run_in_background
from hostdesk.tui.widgets.cells import fit, status_look
from hostdesk.tui.widgets.dialogs import AnswersOnce

SEARCH_DELAY = 0.2


def hit_prompt(hit: SearchHit, width: int = 100) -> Content:
    """One line per hit: kind, id, title, detail and status, fitted to `width` cells."""
    look = status_look(hit.status)
    fixed = 8 + 8 + 2 + 2 + 10  # kind, #id, gaps, status
    detail_width = 22 if width >= 90 else (16 if width >= 70 else 0)
    title_width = max(10, width - fixed - (detail_width + 2 if detail_width else 0))
    parts: list = [(f"{hit.kind:<8}", "$text-muted"),
                   f"{'#' + str(hit.id):>8}  ", fit(hit.title, title_width), "  "]
    if detail_width:
        parts += [(fit(hit.subtitle, detail_width), "$text-muted"), "  "]
    parts.append((fit(hit.status.replace("_", " "), 10),
                   f"$status-{look}" if look else "$text-muted"))
    return Content.assemble(*parts)


class GlobalSearchScreen(AnswersOnce, ModalScreen[SearchHit | None], inherit_bindings=False):
    """Type a name, email, domain, username or #id; enter opens the highlighted hit."""

    HELP = ("Names, emails, phones, domains, usernames and IPs match anywhere from 3 "
            "characters (“xampl” finds example.com); 1–2 characters match the start of a domain "
            "or email; a number also finds the client, service, domain and invoice with that id; "
            "#12 finds ids only. Down moves into the results, enter opens one, escape closes.")

    BINDINGS = [
        Binding("escape", "close", "Close", id="search.close"),
        Binding("down", "to_results", "Results", show=False, id="search.results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._reads = Interruptible()  # the running search, stopped by a newer one
        self.hits: list[SearchHit] = []
        self.term = ""

    heading = "Search everything"

    def compose(self) -> ComposeResult:
        with Vertical(id="search-panel"):
            yield Static("Search clients, services, domains and invoices", id="search-title")
            yield Input(placeholder="name, email, phone, domain, username, ip or #id", id="search-input")
            yield OptionList(id="search-results")
            yield Static("type at least one character", id="search-state",
                         classes="status-line")

    def on_mount(self) -> None:
        self.query_one("#search-input", Input).focus()

    @on(Input.Changed, "#search-input")
    def search_soon(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(SEARCH_DELAY, self.run_search)

    @on(Input.Submitted, "#search-input")
    def open_first(self) -> None:
        if self.hits and self.term == self.query_one("#search-input", Input).value.strip():
            self.dismiss(self.hits[0])
        else:
            self.run_search()

    def run_search(self) -> None:
        state = self.query_one("#search-state", Static)
        try:
            term = clean_search_text(self.query_one("#search-input", Input).value)
        except ValidationError as problem:
            self._show("", [])
            state.update(Text(str(problem)))
            return
        if not term:
            self._show(term, [])
            return
        state.update("searching…")
        self.search(term)

    def search(self, term: str) -> None:
        self._reads.stop()  # what older typing still reads is not wanted any more
        reads = self._reads = Interruptible()

        def read() -> list[SearchHit]:
            with reads.running():
                return search_everything(term, limit=20)

        def failed(error: Exception) -> None:
            if not reads.stopped:  # said in the state line, never a stuck "searching…"
                self._results(term, [], f"the search failed: {error}")

        run_in_background(self, read, lambda hits: self._results(term, hits), failed,
                          group="global-search")

    def _results(self, term: str, hits: list[SearchHit], error: str = "") -> None:
        if term != self.query_one("#search-input", Input).value.strip():
            return  # an answer to older typing
        self._show(term, hits)
        if error:
            self.query_one("#search-state", Static).update(Text(error))

    def _show(self, term: str, hits: list[SearchHit]) -> None:
        self.term, self.hits = term, hits
        results = self.query_one("#search-results", OptionList)
        results.clear_options()
        width = max(40, results.scrollable_content_region.width - 2)  # room for the scrollbar
        results.add_options([Option(hit_prompt(hit, width), id=f"{hit.kind}:{hit.id}")
                             for hit in hits])
        if hits:
            results.highlighted = 0
        state = self.query_one("#search-state", Static)
        advice = hint(term)
        if not term:
            state.update(advice or "type at least one character")
        elif hits:
            state.update(f"{len(hits)} found for “{term}” · enter opens the first, "
                         "down moves into the list" + (f" · {advice}" if advice else ""))
        else:
            state.update(advice or f"nothing found for “{term}”")

    @on(OptionList.OptionSelected, "#search-results")
    def open_hit(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.hits[event.option_index])

    def action_to_results(self) -> None:
        if self.hits:
            self.query_one("#search-results", OptionList).focus()

    def action_close(self) -> None:
        self.dismiss(None)
