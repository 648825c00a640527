"""The all-services list (issue 4) with its filter bar: status, product, cycle, server, due
date range and client, on top of the generic list screen (search, ticks, `M` mass update).

The filter is `models.selection.ServiceFilter` over `FilteredServiceSource`, so a mass update
started here works on exactly the services the list shows.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label, Select, Static

from models.cycles import Cycle
from models.errors import ValidationErrors
from models.schema import ServiceStatus
from models.selection import FilteredServiceSource, ServiceFilter
from tui.screens.areas import BY_KEY
from tui.screens.lists import ListScreen
from tui.widgets.biglist import BigList

FILTER_DELAY = 0.3  # seconds of quiet typing before the list is filtered again
FILTER_INPUTS = "#filter-product, #filter-server, #filter-client, #filter-due-from, #filter-due-to"
FILTER_SELECTS = "#filter-status, #filter-cycle"
STATUS_CHOICES = [("Any status", ""), *((s.capitalize(), s) for s in ServiceStatus.ALL)]
CYCLE_CHOICES = [("Any cycle", ""), *((c.label, c.value) for c in Cycle)]


class ServiceListScreen(ListScreen):
    """Every service, newest first, narrowed by the filter bar."""

    HELP = ("Services, newest first. `f` moves to the filters (status, product #, cycle, "
            "server #, due from/to, client #); enter in a filter field goes back to the list. "
            "`/` searches by domain, username or #id; enter opens a service; space ticks; `M` "
            "mass-updates the ticked services, or every service the filters match.")

    DEFAULT_CSS = """
    ServiceListScreen .service-filters { height: 1; margin: 0 1; }
    ServiceListScreen .service-filters > Input { width: 1fr; }
    ServiceListScreen .service-filters > .filter-label { width: auto; margin: 0 1; color: $text-muted; }
    ServiceListScreen #filter-status { width: 16; }
    ServiceListScreen #filter-cycle { width: 17; }
    ServiceListScreen .service-filters > .id-filter { width: 8; }
    ServiceListScreen .field-error { color: $text-error; height: auto; padding: 0 1; }
    """
    BINDINGS = [Binding("f", "filters", "Filters", id="services.filters")]

    def __init__(self, *, client_id: int | None = None, product_id: int | None = None,
                 status: str = "") -> None:
        super().__init__(BY_KEY["services"], FilteredServiceSource())
        self.initial = ServiceFilter(client_id=client_id, product_id=product_id, status=status)
        self._filter_timer: Timer | None = None
        self._focus_list_when_loaded = False

    def compose_above_list(self) -> ComposeResult:
        start = self.initial
        with Horizontal(classes="service-filters", id="service-filters-1"):
            yield Select(STATUS_CHOICES, value=start.status, allow_blank=False,
                         id="filter-status", compact=True)
            yield Select(CYCLE_CHOICES, value="", allow_blank=False, id="filter-cycle",
                         compact=True)
            yield Label("product #", classes="filter-label")
            yield Input(str(start.product_id or ""), placeholder="any", id="filter-product",
                        classes="id-filter", compact=True)
            yield Label("server #", classes="filter-label")
            yield Input("", placeholder="any", id="filter-server", classes="id-filter",
                        compact=True)
        with Horizontal(classes="service-filters", id="service-filters-2"):
            yield Label("due", classes="filter-label")
            yield Input("", placeholder="from YYYY-MM-DD", id="filter-due-from", compact=True)
            yield Label("–", classes="filter-label")
            yield Input("", placeholder="to YYYY-MM-DD", id="filter-due-to", compact=True)
            yield Label("client #", classes="filter-label")
            yield Input(str(start.client_id or ""), placeholder="any", id="filter-client",
                        classes="id-filter", compact=True)
        yield Static("", id="filter-error", classes="field-error")

    def on_mount(self) -> None:
        super().on_mount()
        self.biglist.set_filter(self.initial)

    @property
    def current_filter(self) -> ServiceFilter:
        flt = self.biglist.filter
        return flt if isinstance(flt, ServiceFilter) else ServiceFilter(text=flt.text)

    def action_filters(self) -> None:
        self.query_one("#filter-status", Select).focus()

    @on(Select.Changed, FILTER_SELECTS)
    @on(Input.Changed, FILTER_INPUTS)
    def _filters_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.apply_filters)

    @on(Input.Submitted, FILTER_INPUTS)
    def _filters_submitted(self) -> None:
        # The list cannot take focus while it reloads; it does once the rows are in.
        self._focus_list_when_loaded = True
        self.apply_filters()
        self._focus_list_if_loaded()

    def _focus_list_if_loaded(self) -> None:
        if self._focus_list_when_loaded and not self.biglist.loading:
            self._focus_list_when_loaded = False
            self.biglist.focus()

    def _typed(self, selector: str) -> str:
        return self.query_one(selector, Input).value

    def _chosen(self, selector: str) -> str:
        value = self.query_one(selector, Select).value
        return value if isinstance(value, str) else ""

    def read_filters(self) -> ServiceFilter:
        """The filter bar as a filter; bad values raise ValidationErrors naming the fields."""
        flt = ServiceFilter.from_inputs(
            text=self.current_filter.text, status=self._chosen("#filter-status"),
            cycle=self._chosen("#filter-cycle"), product=self._typed("#filter-product"),
            server=self._typed("#filter-server"), due_from=self._typed("#filter-due-from"),
            due_to=self._typed("#filter-due-to"), client=self._typed("#filter-client"))
        return replace(flt, ids=self.current_filter.ids)

    def apply_filters(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        error = self.query_one("#filter-error", Static)
        try:
            flt = self.read_filters()
        except ValidationErrors as exc:
            error.update(Text("\n".join(str(e) for e in exc.errors)))
            self._focus_list_when_loaded = False
            return
        error.update("")
        self.biglist.set_filter(flt)

    def apply_search(self) -> None:
        """`/` search keeps the filter bar's conditions."""
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        self.biglist.set_filter(replace(self.current_filter, text=self.search_input.value))

    @on(BigList.Changed)
    def show_status(self, message: BigList.Changed | None = None) -> None:
        if message is not None:
            message.prevent_default()  # this replaces ListScreen's handler, not adds to it
        super().show_status()
        self._focus_list_if_loaded()
        bar = replace(self.current_filter, text="")  # the search is said by ListScreen already
        if bar != ServiceFilter():
            status = self.query_one("#list-status", Static)
            status.update(f"{status.content}   ·   {bar.describe()}", layout=False)
