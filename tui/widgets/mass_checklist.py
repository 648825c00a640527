"""The mass-update checklist: a BigList over a selection whose ticks are a `Ticks`.

Ticks are kept as `models.selection.Ticks`, so "all matching" ticks every row of the
selection (100,000 or a million) without loading one: the list still reads only the page on
screen, and the ids are resolved by keyset when the preview is built.
"""

from __future__ import annotations

from typing import Callable

import pendulum
from textual.binding import Binding
from textual.geometry import Size

from hostdesk.models.selection import Selection, Ticks
from hostdesk.tui.keys import bind
from hostdesk.tui.widgets.biglist import PAGE_SIZE, BigList, FetchPlan, LoadRequest


class MassChecklist(BigList):
    HELP_NAME = "the checklist"
    HELP = ("space ticks the row under the cursor and moves down; a ticks the rows on screen; "
            "A ticks every row of the list, on every page (nothing is loaded for it); N unticks "
            "all; i inverts every tick. j/k or arrows move, pgup/pgdn page, home/end jump.")

    BINDINGS = [
        Binding("A", "tick_all_matching", "All matching", id="checklist.all_matching",
                tooltip="tick every row of the list, on every page"),
        Binding("a", "tick_visible", "Tick on screen", show=False, id="checklist.tick_visible"),
        bind("untick_all", "tick_none", "Untick all", show=False, id="checklist.tick_none"),
        Binding("i", "tick_invert", "Invert", show=False, id="checklist.tick_invert",
                tooltip="every ticked row is unticked and every other row ticked"),
    ]

    def __init__(self, selection: Selection, ticks: Ticks | None = None, *,
                 currency: str = "", today: Callable[[], pendulum.Date] | None = None,
                 id: str | None = None) -> None:
        super().__init__(selection.source, currency=currency, today=today, id=id)
        self.selection = selection
        self.filter = selection.flt
        # BigList draws a tick for `row_id in self.ticked`; Ticks answers that for both modes.
        self.ticked = ticks if ticks is not None else Ticks()  # type: ignore[assignment]

    def aim(self, selection: Selection, ticks: Ticks) -> None:
        """List `selection` instead, with `ticks` (its screen was built ahead, before it was
        known); nothing of it is read yet."""
        self.selection = selection
        self.source = selection.source
        self.filter = selection.flt
        self.ticked = ticks  # type: ignore[assignment]
        self._columns_cache = None

    def start_from(self, shown: BigList) -> bool:
        """Start with the rows `shown` (the list of the same selection the mass update was
        opened from) holds from its top: drawn at once, with them, while `reread_quietly`
        reads them again. False (and nothing taken) when it does not hold them all."""
        total = shown.total
        if total is None or shown.error or shown.filter != self.filter \
                or shown.source is not self.source:
            return False
        rows = shown._rows
        if any(index not in rows for index in range(min(total, shown.rows_height))):
            return False  # (its screenful: this list is no taller)
        self._rows = {index: rows[index] for index in range(shown.rows_height + PAGE_SIZE)
                      if index in rows}
        self.total = total
        self.set_reactive(BigList.virtual_size, Size(0, total + 1))
        if total + 1 > shown.size.height:  # more rows than it holds: no taller than `shown`
            # Its scrollbar is there at the first layout: found missing by it, the screen
            # would be laid out and every row drawn a second time, one column narrower.
            self.set_reactive(BigList.show_vertical_scrollbar, True)
        return True

    def reread_quietly(self) -> None:
        """Count and read the top rows again, showing the ones it has until they are in (a
        reload would show empty rows meanwhile)."""
        self._generation += 1
        plan = FetchPlan("after", None, 0, self.rows_height + PAGE_SIZE)
        self._load(LoadRequest(self._generation, self.filter, plan, count=True))

    @property
    def ticks(self) -> Ticks:
        return self.ticked  # type: ignore[return-value]

    @property
    def ticked_count(self) -> int:
        return self.ticks.count(self.total or 0)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "open":
            return False  # enter opens nothing here; the checklist is for ticking
        return True

    def action_tick(self) -> None:
        row = self.cursor_row
        if row is None:
            return
        self.ticks.toggle([self.source.key_of(row)])
        self._move_cursor(self.cursor + 1)
        self._ticks_changed()

    def action_tick_visible(self) -> None:
        self.ticks.tick(self.source.key_of(row) for row in self.visible_rows())
        self._ticks_changed()

    def action_tick_none(self) -> None:
        self.ticks.clear()
        self._ticks_changed()

    def action_tick_invert(self) -> None:
        self.ticks.invert()
        self._ticks_changed()

    def action_tick_all_matching(self) -> None:
        self.ticks.tick_all()
        self._ticks_changed()
