"""A list screen with a filter bar above the list (services, invoices).

The subclass composes the bar (`compose_above_list`, one or more `.filter-bar` rows) and
reads it (`read_filters`). Every field of the bar has the class `filter-field`; the first is
`#filter-status`, where `f` goes; `.id-filter` fields are narrow.
A bad value is named in `#filter-error` and the list keeps its last good filter.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.timer import Timer
from textual.widgets import Input, Select, Static

from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.listing import ListFilter, ListSource
from hostdesk.tui.screens.areas import Area
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.biglist import BigList

FILTER_DELAY = 0.3  # seconds of quiet typing before the list is filtered again


class FilteredListScreen(ListScreen):
    FILTER_TYPE: type[ListFilter] = ListFilter  # what `read_filters` returns

    def __init__(self, area: Area, source: ListSource, initial: ListFilter) -> None:
        super().__init__(area, source)
        self.initial = initial
        self._filter_timer: Timer | None = None
        self._focus_list_when_loaded = False

    def read_filters(self) -> ListFilter:
        """The filter bar (and the search) as a filter; a bad value raises ValidationError
        or ValidationErrors naming the field."""
        raise NotImplementedError

    def on_mount(self) -> None:
        super().on_mount()
        # Read once, by the `reread` of the screen coming on top (a load here was a second
        # read of the first page, stopped at once).
        self.biglist.filter = self.initial

    @property
    def current_filter(self) -> ListFilter:
        flt = self.biglist.filter
        return flt if isinstance(flt, self.FILTER_TYPE) else self.FILTER_TYPE(text=flt.text)

    def action_filters(self) -> None:
        self.query_one("#filter-status", Select).focus()

    @on(Select.Changed, ".filter-field")
    @on(Input.Changed, ".filter-field")
    def _filters_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.apply_filters)

    @on(Input.Submitted, ".filter-field")
    def _filters_submitted(self) -> None:
        # The list cannot take focus while it reloads; it does once the rows are in.
        self._focus_list_when_loaded = True
        self.apply_filters()
        self._focus_list_if_loaded()

    def _focus_list_if_loaded(self) -> None:
        if self._focus_list_when_loaded and not self.biglist.loading:
            self._focus_list_when_loaded = False
            self.biglist.focus()

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
        except ValidationError as exc:
            error.update(Text(str(exc)))
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
        if bar != self.FILTER_TYPE():
            status = self.query_one("#list-status", Static)
            status.update(f"{status.content}   ·   {bar.describe()}", layout=False)
