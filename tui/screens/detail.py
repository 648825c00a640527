"""A read-only view of one record's stored fields (the real detail screens come later)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pendulum
from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from hostdesk.models.listing import DATE, DATETIME, MONEY, TEXT, ListSource
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.cells import format_value
from hostdesk.tui.widgets.key_footer import KeyFooter


def kind_of(value: Any) -> str:
    if isinstance(value, Decimal):
        return MONEY
    if isinstance(value, pendulum.DateTime):
        return DATETIME
    if isinstance(value, pendulum.Date):
        return DATE
    return TEXT


class DetailScreen(HostdeskScreen):
    HELP = "Every stored field of the record, read-only. Escape goes back to where you were."

    AUTO_FOCUS = "DataTable"

    def __init__(self, source: ListSource, row_id: int) -> None:
        super().__init__()
        self.source = source
        self.row_id = row_id

    @property
    def heading(self) -> str:
        return f"{self.source.title} #{self.row_id}"

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.heading)
        yield Static("loading…", id="detail-state", classes="status-line")
        yield DataTable(id="detail-fields", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Field", key="field")
        table.add_column("Value", key="value")
        table.focus()
        self.load()

    def load(self) -> None:
        run_in_background(self, lambda: self.source.detail(self.row_id), self._loaded,
                          group="detail")

    def _loaded(self, fields: list[tuple[str, Any]] | None) -> None:
        state = self.query_one("#detail-state", Static)
        if fields is None:
            state.update(f"{self.heading} no longer exists.")
            return
        state.update(f"{self.heading} · {len(fields)} fields")
        table = self.query_one(DataTable)
        currency = self.app.settings.currency
        for name, value in fields:
            # Text, not str: a stored value is never read as markup.
            table.add_row(Text(name.replace("_", " ")),
                          Text(format_value(value, kind_of(value), currency,
                                            self.app.settings.timezone)), key=name)
