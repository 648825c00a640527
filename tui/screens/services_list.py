"""The all-services list (issue 4) with its filter bar: status, product, cycle, server, due
date range and client, on top of the generic list screen (search, ticks, `M` mass update).

The filter is `models.selection.ServiceFilter` over `FilteredServiceSource`, so a mass update
started here works on exactly the services the list shows.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Label, Select, Static

from hostdesk.models.cycles import Cycle
from hostdesk.models.schema import ServiceStatus
from hostdesk.models.selection import FilteredServiceSource, ServiceFilter
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.screens.filtered_list import FilteredListScreen
from hostdesk.tui.widgets.dropdown import Dropdown

STATUS_CHOICES = [("Any status", ""), *((s.capitalize(), s) for s in ServiceStatus.ALL)]
CYCLE_CHOICES = [("Any cycle", ""), *((c.label, c.value) for c in Cycle)]


def _id_text(record_id: int | None) -> str:
    return f"#{record_id}" if record_id else ""


class ServiceListScreen(FilteredListScreen):
    """Every service, newest first, narrowed by the filter bar."""

    HELP = ("Services, newest first. `f` moves to the filters (status, cycle, product, "
            "server, due from/to, client: a name, any part of it, or #id); enter in a filter "
            "field goes back to the list. `/` searches any part of the domain, username, "
            "client name, company or email, or #id; enter opens a service; space ticks; `M` "
            "mass-updates the ticked services, or every service the filters match; `e` exports "
            "what the list shows.")

    BINDINGS = [Binding("f", "filters", "Filters", id="services.filters")]
    FILTER_TYPE = ServiceFilter

    def __init__(self, *, client_id: int | None = None, product_id: int | None = None,
                 status: str = "") -> None:
        super().__init__(BY_KEY["services"], FilteredServiceSource(),
                         ServiceFilter(client_id=client_id, product_id=product_id, status=status))

    def compose_above_list(self) -> ComposeResult:
        start = self.initial
        with Horizontal(classes="filter-bar", id="service-filters-1"):
            yield Dropdown(STATUS_CHOICES, value=start.status, allow_blank=False,
                         id="filter-status", classes="filter-field", compact=True)
            yield Dropdown(CYCLE_CHOICES, value="", allow_blank=False, id="filter-cycle",
                         classes="filter-field", compact=True)
            yield Label("product", classes="filter-label")
            yield Input(_id_text(start.product_id), placeholder="name or #id",
                        id="filter-product", classes="filter-field name-filter", compact=True)
            yield Label("server", classes="filter-label")
            yield Input("", placeholder="name or #id", id="filter-server",
                        classes="filter-field name-filter", compact=True)
        with Horizontal(classes="filter-bar", id="service-filters-2"):
            yield Label("due", classes="filter-label")
            yield Input("", placeholder="from YYYY-MM-DD", id="filter-due-from",
                        classes="filter-field", compact=True)
            yield Label("–", classes="filter-label")
            yield Input("", placeholder="to YYYY-MM-DD", id="filter-due-to",
                        classes="filter-field", compact=True)
            yield Label("client", classes="filter-label")
            yield Input(_id_text(start.client_id), placeholder="name, email or #id",
                        id="filter-client", classes="filter-field name-filter", compact=True)
        yield Static("", id="filter-error", classes="field-error")

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

