"""BigList: a list of any length, drawn line by line from a small cache of database rows.

It asks a `models.listing.ListSource` for rows in a thread worker and draws only the rows
on screen (Textual's line API: `ScrollView` + `render_line`). Rows are addressed by their
position in the list; a missing stretch is fetched by keyset from a neighbouring row already
known (`id < last id`), from the end of the list, or, after a far jump, by offset.

Ticked rows are kept as a set of ids (`ticked`), so code acting on a selection does not
depend on what is on screen.

With `count_cap`, a search or filter is counted up to that many when it is first drawn
(`ListSource.first_page`): a bigger result shows "1,000+" and is counted exactly only when
the list is scrolled near that many rows or `end` is pressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pendulum
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from hostdesk.models.listing import NO_FILTER, STATUS, Interruptible, ListFilter, ListSource, Row
from hostdesk.tui.background import run_in_background
from hostdesk.tui.keys import bind
from hostdesk.tui.widgets.cells import (
    GUTTER,
    fit,
    format_value,
    layout_columns,
    right_aligned,
    status_look,
)

PAGE_SIZE = 50
CACHE_LIMIT = 1_000  # rows kept; the farthest from the screen are dropped first
MAX_AUTO_RELOADS = 3  # when the table changed under us, recount at most this often in a row
TICK = "✓"


@dataclass(frozen=True)
class FetchPlan:
    """How to fetch list positions [start, end)."""

    mode: str  # "after": keyset after `key`; "before": keyset before `key`; "offset"
    key: int | None
    start: int
    end: int

    def run(self, source: ListSource, flt: ListFilter) -> list[Row]:
        limit = self.end - self.start
        if self.mode == "after":
            return source.page(self.key, limit, flt)
        if self.mode == "before":
            return source.page(self.key, limit, flt, backward=True)
        return source.page_at(self.start, limit, flt)

    def first_index(self, rows: list[Row]) -> int:
        """List position of the first fetched row (a short backward page ends at `end`)."""
        return self.end - len(rows) if self.mode == "before" else self.start


def plan_fetch(start: int, end: int, total: int,
               key_at: Callable[[int], int | None]) -> FetchPlan:
    """Pick the cheapest query for positions [start, end) given the rows already known."""
    if start == 0:
        return FetchPlan("after", None, start, end)
    if (key := key_at(start - 1)) is not None:
        return FetchPlan("after", key, start, end)
    if (key := key_at(end)) is not None:
        return FetchPlan("before", key, start, end)
    if end >= total:
        return FetchPlan("before", None, start, end)
    return FetchPlan("offset", None, start, end)


@dataclass(frozen=True)
class LoadRequest:
    generation: int
    flt: ListFilter
    plan: FetchPlan
    count: bool  # recount the matching rows first (a reload)
    cap: int | None = None  # count a first page's matches up to this many (None: exactly)


class BigList(ScrollView, can_focus=True, inherit_bindings=False):
    """A paged list over a ListSource. `enter` posts `Opened`; `space` ticks."""

    HELP_NAME = "the list"
    HELP = ("j/k or arrows move, pgup/pgdn page, home/end jump; enter opens the row; "
            "space ticks it, a ticks the visible rows, N unticks all, i inverts the visible ticks.")

    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="list.up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("home", "first", "First row", show=False, id="list.first"),
        Binding("end", "last", "Last row", show=False, id="list.last"),
        Binding("enter", "open", "Open", id="list.open"),
        Binding("space", "tick", "Tick", id="list.tick"),
        Binding("a", "tick_visible", "Tick visible", show=False, id="list.tick_visible"),
        bind("untick_all", "tick_none", "Untick all", show=False, id="list.tick_none"),
        Binding("i", "tick_invert", "Invert ticks", show=False, id="list.tick_invert"),
    ]

    COMPONENT_CLASSES = {
        "biglist--header", "biglist--cursor", "biglist--ticked", "biglist--placeholder",
        "biglist--overdue", "biglist--status-active", "biglist--status-pending",
        "biglist--status-suspended", "biglist--status-closed", "biglist--status-fraud",
    }

    class Opened(Message):
        """The admin pressed enter on a row."""

        def __init__(self, biglist: BigList, row_id: int, row: Row) -> None:
            super().__init__()
            self.biglist = biglist
            self.row_id = row_id
            self.row = row

        @property
        def control(self) -> BigList:
            return self.biglist

    class Changed(Message):
        """What the list shows changed: position, count, ticks or filter."""

        def __init__(self, biglist: BigList) -> None:
            super().__init__()
            self.biglist = biglist

        @property
        def control(self) -> BigList:
            return self.biglist

    def __init__(self, source: ListSource, *, currency: str = "",
                 today: Callable[[], pendulum.Date] | None = None, timezone: str = "UTC",
                 count_cap: int | None = None, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.source = source
        self.count_cap = count_cap
        self.currency = currency
        self.timezone = timezone  # moments are shown as this zone's clock reads them
        # On a 16-colour terminal the status colours come close to the cursor's background:
        # the highlighted row then shows its status in the cursor's own colours, in bold.
        self.few_colours = False
        self._today = today or (lambda: pendulum.today("UTC").date())
        self.filter: ListFilter = NO_FILTER
        self.total: int | None = None
        self.exact = True  # False: `total` is a lower bound (more rows than the cap match)
        self._counting = False  # an exact count of a capped total is on its way
        self._last_when_counted = False  # `end` was pressed before the exact count came
        self.cursor = 0
        self.ticked: set[int] = set()
        self.error: str | None = None
        self._rows: dict[int, Row] = {}
        self._generation = 0
        self._reads = Interruptible()  # the running reads of this generation, to stop them
        self._reloading = False
        self._fetching: FetchPlan | None = None
        self._fetch_scheduled = False
        self._auto_reloads = 0
        self._cursor_id: int | None = None
        self._columns_cache: tuple[int, list] | None = None

    def on_mount(self) -> None:
        # Headless (tests, snapshots) Textual reports "standard" whatever it draws.
        self.few_colours = (not self.app.is_headless
                            and self.app.console.color_system in ("standard", "windows"))

    # --- public -------------------------------------------------------------------------

    @property
    def rows_height(self) -> int:
        return max(0, self.size.height - 1)  # the first line is the column header

    @property
    def top(self) -> int:
        return int(self.scroll_y)

    @property
    def cached_rows(self) -> int:
        """How many rows are held in memory (a page or two, never the whole table)."""
        return len(self._rows)

    def row_at(self, index: int) -> Row | None:
        return self._rows.get(index)

    @property
    def cursor_row(self) -> Row | None:
        return self._rows.get(self.cursor)

    def visible_rows(self) -> list[Row]:
        end = min(self.total or 0, self.top + self.rows_height)
        return [self._rows[i] for i in range(self.top, end) if i in self._rows]

    @property
    def range_text(self) -> str:
        if self.error:
            return "could not load"
        if self.total is None:
            return "loading…"
        if self.total == 0:
            return "0 of 0"
        first = min(self.top + 1, self.total)
        last = min(self.top + self.rows_height, self.total)
        return f"{first:,}–{last:,} of {self.total:,}{'' if self.exact else '+'}"

    def start_with(self, rows: list[Row], total: int, *, height: int) -> None:
        """Show `rows`, the first of `total` matching rows read before the list was mounted:
        drawn with them at its first frame. `height`: more than the list can be tall (the
        terminal's), so that a list longer than that has its scrollbar at the first layout
        (found missing by it, the screen would be laid out a second time)."""
        self._rows = dict(enumerate(rows))
        self.total, self.exact = total, True
        self.set_reactive(BigList.virtual_size, Size(0, total + 1))
        if total + 1 > height:
            self.set_reactive(BigList.show_vertical_scrollbar, True)

    def set_filter(self, flt: ListFilter) -> None:
        """Show only rows matching `flt`, from the top. Ticks are kept."""
        if flt == self.filter and self.total is not None:
            return
        self.filter = flt
        self.cursor = 0
        self._cursor_id = None
        self.scroll_to(y=0, animate=False)
        self.reload()

    def reload(self) -> None:
        """Recount and re-read the rows around the current place (the database's truth)."""
        self._reads.stop()  # what an older filter still reads is not wanted any more
        self._reads = Interruptible()
        self._generation += 1
        self._rows.clear()
        self._fetching = None
        self._reloading = True
        self._counting = self._last_when_counted = False
        self.error = None
        top = self.top
        plan = (FetchPlan("after", None, 0, top + self.rows_height + PAGE_SIZE) if top == 0
                else FetchPlan("offset", None, top, top + self.rows_height + PAGE_SIZE))
        self._load(LoadRequest(self._generation, self.filter, plan, count=True,
                               cap=self.count_cap if top == 0 else None))
        self.refresh()
        self._post_changed()

    # --- loading ------------------------------------------------------------------------

    def _load(self, request: LoadRequest) -> None:
        reads = self._reads

        def read() -> tuple[int | None, bool, list[Row]]:
            with reads.running():
                if request.cap is not None:
                    first = self.source.first_page(request.plan.end, request.flt,
                                                   cap=request.cap)
                    return first.total, first.exact, first.rows
                rows = request.plan.run(self.source, request.flt)
                return (self._count(request, rows) if request.count else None), True, rows

        run_in_background(self, read, lambda read_: self._loaded(request, *read_),
                          lambda error: self._read_failed(request.generation, error),
                          group="biglist-load", description="read list rows")

    def _count_exactly(self) -> None:
        """Count a capped total exactly (the list is scrolled near its end, or `end`)."""
        if self.exact or self._counting:
            return
        self._counting = True
        generation, flt, reads = self._generation, self.filter, self._reads

        def count() -> int:
            with reads.running():
                return self.source.count(flt)

        run_in_background(self, count, lambda total: self._counted(generation, total),
                          lambda error: self._read_failed(generation, error),
                          group="biglist-count", description="count list rows")

    def _read_failed(self, generation: int, error: Exception) -> None:
        if generation == self._generation:  # else stopped on purpose, or no longer wanted
            self._load_failed(error)

    def _counted(self, generation: int, total: int) -> None:
        if generation != self._generation:
            return
        self._counting = False
        self.exact = True
        self.total = max(total, 0)
        self.virtual_size = Size(0, self.total + 1)
        if self._last_when_counted:
            self._last_when_counted = False
            self.action_last()
        self.refresh()
        self._post_changed()

    def _count(self, request: LoadRequest, rows: list[Row]) -> int:
        """How many rows match (after a read from the top: without a COUNT when it is short)."""
        plan = request.plan
        if plan.start == 0 and plan.mode == "after":
            return self.source.count_after_first_page(rows, plan.end, request.flt)
        return self.source.count(request.flt)

    def _loaded(self, request: LoadRequest, total: int | None, exact: bool,
                rows: list[Row]) -> None:
        if request.generation != self._generation:
            return  # an answer for an older filter or reload
        if request.count:
            self._reloading = False
            self.total = total
            self.exact = exact
            self.virtual_size = Size(0, self.total + 1)
            self.cursor = min(self.cursor, max(0, self.total - 1))
        else:
            self._fetching = None
        first = request.plan.first_index(rows)
        for offset, row in enumerate(rows):
            self._rows[first + offset] = row
        self._follow_cursor_row(first, rows)
        self._prune_cache()
        expected = max(0, min(request.plan.end, self.total) - request.plan.start)
        if len(rows) < expected and self._auto_reloads < MAX_AUTO_RELOADS:
            self._auto_reloads += 1  # rows vanished since we counted: count again
            self.call_later(self.reload)
        elif not request.count:
            self._auto_reloads = 0
        self.refresh()
        self._post_changed()

    def _load_failed(self, error: Exception) -> None:
        self._reloading = self._counting = False
        self._fetching = None
        self.error = str(error)
        self.notify(f"Could not read {self.source.title.lower()}: {self.error}",
                    severity="error", timeout=8)
        self.refresh()
        self._post_changed()

    def _follow_cursor_row(self, first: int, rows: list[Row]) -> None:
        """After a reload, keep the cursor on the same record if it is still nearby."""
        if self._cursor_id is None:
            return
        for offset, row in enumerate(rows):
            if self.source.key_of(row) == self._cursor_id:
                self.cursor = first + offset
                return

    def _prune_cache(self) -> None:
        if len(self._rows) <= CACHE_LIMIT:
            return
        centre = self.top + self.rows_height // 2
        keep = sorted(self._rows, key=lambda i: abs(i - centre))[:CACHE_LIMIT]
        self._rows = {i: self._rows[i] for i in keep}

    def _key_at(self, index: int) -> int | None:
        row = self._rows.get(index)
        return self.source.key_of(row) if row is not None else None

    def _want_rows(self) -> None:
        if not self._fetch_scheduled:
            self._fetch_scheduled = True
            self.call_after_refresh(self._fetch_missing)

    def _fetch_missing(self) -> None:
        self._fetch_scheduled = False
        if self.total is None or self._reloading or self.error:
            return
        start = max(0, self.top - PAGE_SIZE // 5)
        end = min(self.total, self.top + self.rows_height + PAGE_SIZE)
        if end >= self.total:
            self._count_exactly()  # near the end of a capped count: how far does it go?
        missing = [i for i in range(start, end) if i not in self._rows]
        if not missing:
            return
        first, last = missing[0], missing[-1] + 1
        busy = self._fetching
        if busy is not None and busy.start <= first and last <= busy.end:
            return  # already on its way
        self._fetching = plan_fetch(first, last, self.total, self._key_at)
        self._load(LoadRequest(self._generation, self.filter, self._fetching, count=False))

    # --- drawing ------------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        return self.scrollable_content_region.width  # without the scrollbar

    def _columns(self) -> list:
        width = self.content_width
        if self._columns_cache is None or self._columns_cache[0] != width:
            self._columns_cache = (width, layout_columns(self.source.columns, width))
        return self._columns_cache[1]

    def render_line(self, y: int) -> Strip:
        width = self.content_width
        base = self.rich_style
        if y == 0:
            return self._header_strip(width, base)
        index = self.top + y - 1
        if self.total is None or index >= self.total:
            if y == 1 and (self.total == 0 or self.error or self.total is None):
                return self._message_strip(width, base)
            return Strip.blank(width, base)
        row = self._rows.get(index)
        if row is None:
            self._want_rows()
            placeholder = base + self.get_component_rich_style("biglist--placeholder")
            return Strip([Segment(fit(" " * GUTTER + "…", width), placeholder)], width)
        return self._row_strip(index, row, width, base)

    def _message_strip(self, width: int, base: Style) -> Strip:
        if self.error:
            text = f"Could not load: {self.error}"
        elif self.total is None:
            text = "Loading…"
        elif self.filter.term:
            text = f"Nothing matches “{self.filter.term}” (search by {self.source.search_hint})"
        else:
            text = self.source.empty_text
        style = base + self.get_component_rich_style("biglist--placeholder")
        return Strip([Segment(fit(" " * GUTTER + text, width), style)], width)

    def _header_strip(self, width: int, base: Style) -> Strip:
        style = base + self.get_component_rich_style("biglist--header")
        titles = [fit(column.title, column_width, right_aligned(column))
                  for column, column_width in self._columns()]
        return Strip([Segment(fit(" " * GUTTER + " ".join(titles), width), style)], width)

    def _row_strip(self, index: int, row: Row, width: int, base: Style) -> Strip:
        row_id = self.source.key_of(row)
        style = base
        if row_id in self.ticked:
            style += self.get_component_rich_style("biglist--ticked")
        if index == self.cursor:
            style += self.get_component_rich_style("biglist--cursor")
        segments = [Segment((TICK if row_id in self.ticked else " ") + " ", style)]
        overdue = self.source.is_overdue(row, self._today())
        for position, (column, column_width) in enumerate(self._columns()):
            if position:
                segments.append(Segment(" ", style))
            # a row that carries its own currency (an invoice) shows its amounts in it
            text = fit(format_value(row.get(column.key), column.kind,
                                    row.get("currency") or self.currency, self.timezone),
                       column_width, right_aligned(column))
            cell = self._cell_style(column, row, overdue)
            if index == self.cursor and self.few_colours and cell:
                cell = Style(bold=True)  # readable on the cursor, whatever the palette
            segments.append(Segment(text, style + cell))
        strip = Strip(segments)
        return strip.crop_extend(0, width, style)

    def _cell_style(self, column, row: Row, overdue: bool) -> Style:
        if column.kind == STATUS and (look := status_look(row.get(column.key))):
            return self.get_component_rich_style(f"biglist--status-{look}", partial=True)
        if overdue and column.kind == "date" and column is self._overdue_column():
            return self.get_component_rich_style("biglist--overdue", partial=True)
        return Style()

    def _overdue_column(self):
        """The date an overdue row is overdue by: the last date column (due / next due)."""
        dates = [c for c, _ in self._columns() if c.kind == "date"]
        return dates[-1] if dates else None

    # --- moving and ticking -------------------------------------------------------------

    def _move_cursor(self, index: int) -> None:
        if not self.total:
            return
        index = max(0, min(self.total - 1, index))
        self.cursor = index
        self._cursor_id = self._key_at(index)
        top, height = self.top, max(1, self.rows_height)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)
        self.refresh()
        self._post_changed()

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor - 1)

    def action_page_down(self) -> None:
        step = max(1, self.rows_height)
        self.scroll_to(y=self.top + step, animate=False)
        self._move_cursor(self.cursor + step)

    def action_page_up(self) -> None:
        step = max(1, self.rows_height)
        self.scroll_to(y=max(0, self.top - step), animate=False)
        self._move_cursor(self.cursor - step)

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        if not self.exact:
            self._last_when_counted = True
            self._count_exactly()
            return
        self._move_cursor((self.total or 1) - 1)

    def action_open(self) -> None:
        row = self.cursor_row
        if row is not None:
            self.post_message(self.Opened(self, self.source.key_of(row), row))

    def action_tick(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        self.ticked ^= {self.source.key_of(row)}
        self._move_cursor(self.cursor + 1)
        self._ticks_changed()

    def action_tick_visible(self) -> None:
        self.ticked |= {self.source.key_of(r) for r in self.visible_rows()}
        self._ticks_changed()

    def action_tick_none(self) -> None:
        self.ticked.clear()
        self._ticks_changed()

    def action_tick_invert(self) -> None:
        self.ticked ^= {self.source.key_of(r) for r in self.visible_rows()}
        self._ticks_changed()

    def _ticks_changed(self) -> None:
        self.refresh()
        self._post_changed()

    def _post_changed(self) -> None:
        if self.is_attached:
            self.post_message(self.Changed(self))

    # --- events -------------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if int(old_value) != int(new_value):
            self._post_changed()

    _resized_once = False

    def on_resize(self, event: events.Resize) -> None:
        self._columns_cache = None
        # The first one comes from the layout that has just drawn the list at this size:
        # drawing it again would double the cost of opening its screen (issue 17).
        if self._resized_once:
            self.refresh()
        self._resized_once = True
        self._post_changed()

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_cursor(self.top + event.y - 1)
            if event.chain == 2:
                self.action_open()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
