"""What the setup screens (issue 15) share: a small list of records with `n` new and enter
to edit, the setup form (the settings form of `tui.screens.catalog`, opened on a record or
on a new one), and a pricing table widget (a price and a setup fee per billing cycle).

Each screen reads through a view function of `models/` and saves through its add/edit
function; the rules, the checks and the transaction are there.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Select, Static

from hostdesk.models.permissions import MANAGE_CATALOG, has_permission
from hostdesk.models.pricing_table import ORDER as CYCLES
from hostdesk.models.records import Form
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.base import HostdeskScreen, TitleBar
from hostdesk.tui.screens.catalog import SettingsScreen
from hostdesk.tui.widgets.key_footer import KeyFooter

YES_NO = [("yes", "yes"), ("no", "no")]


def needs(screen, permission: str) -> bool:
    """Whether the admin may; if not, says which permission is missing."""
    if has_permission(screen.app.admin, permission):
        return True
    screen.app.notify(f"This needs the permission “{permission}”, which your role "
                      f"({screen.app.admin.role}) does not have.", title="Refused",
                      severity="error")
    return False


def select(name: str, options, *, blank: str | None = None) -> Select:
    """A compact Select with the id `field-NAME`; `blank` is the prompt of a "none" choice."""
    return Select(options, prompt=blank or "", allow_blank=blank is not None,
                  id=f"field-{name}", compact=True)


class PricingTable(Vertical):
    """Every billing cycle: a price and a setup fee. A blank price: not offered."""

    def __init__(self, prefix: str = "prices", *, setup_fees: bool = True) -> None:
        super().__init__(id=f"table-{prefix}")
        self.prefix = prefix
        self.setup_fees = setup_fees

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label("cycle")
            yield Label("price")
            if self.setup_fees:
                yield Label("setup fee")
        for cycle in CYCLES:
            with Horizontal():
                yield Label(cycle.replace("_", " "))
                yield Input(placeholder="not offered", id=f"{self.prefix}-price-{cycle}",
                            compact=True)
                if self.setup_fees:
                    yield Input(placeholder="0.00", id=f"{self.prefix}-setup-{cycle}",
                                compact=True)

    def _input(self, kind: str, cycle: str) -> Input | None:
        found = self.query(f"#{self.prefix}-{kind}-{cycle}")
        return found.first() if found else None

    def show(self, table: dict) -> None:
        for cycle in CYCLES:
            entry = table.get(cycle) or {}
            self._input("price", cycle).value = entry.get("price", "")
            if self.setup_fees:
                fee = entry.get("setup_fee", "")
                self._input("setup", cycle).value = "" if fee in ("0.00", "0") else fee

    def typed(self) -> dict[str, tuple[str, str]]:
        """The cycles with anything typed: (price, setup fee) as text."""
        table = {}
        for cycle in CYCLES:
            price = self._input("price", cycle).value.strip()
            setup = self._input("setup", cycle).value.strip() if self.setup_fees else ""
            if price or setup:
                table[cycle] = (price, setup)
        return table


class SetupFormScreen(SettingsScreen):
    """A setup record's form, on a record (`record_id`) or on a new one (0)."""

    PERMISSION = MANAGE_CATALOG
    WHAT = "record"  # "New client", "Client #3"

    def __init__(self, record_id: int = 0) -> None:
        super().__init__(record_id)

    @property
    def heading(self) -> str:
        return f"{self.TITLE} #{self.record_id}" if self.record_id else f"New {self.WHAT}"

    def loaded_state(self, form: Form) -> str:
        if not form.record_id:
            return "new · ctrl+s saves · escape cancels"
        return f"version {form.version} · ctrl+s saves · escape goes back"

    def action_save(self) -> None:
        if needs(self, self.PERMISSION):
            super().action_save()

    def write(self, form: Form):
        values = form.values
        if form.record_id:
            return self.edit(form.record_id, form.version, values)
        return self.add(values)

    def add(self, values: dict):
        raise NotImplementedError

    def edit(self, record_id: int, version: int, values: dict):
        raise NotImplementedError

    def saved(self, result) -> None:
        new_id = getattr(result, "id", None)
        if not self.record_id and new_id:
            self.record_id = new_id
            self.query_one(TitleBar).set_title(self.heading)


class SetupListScreen(HostdeskScreen):
    """A short list (the catalog is small): enter edits the row, `n` adds one."""

    AUTO_FOCUS = "DataTable"
    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    PERMISSION = MANAGE_CATALOG
    BINDINGS = [
        bind("new", "new", "New", id="setup-list.new"),
        bind("reload", "reload", "Reload", show=False, id="setup-list.reload"),
    ]

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.TITLE)
        yield DataTable(id="setup-list", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="list-status", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.COLUMNS:
            table.add_column(column, key=column)

    def reread(self) -> None:
        self.load()

    def action_reload(self) -> None:
        self.load()

    def load(self) -> None:
        run_in_background(self, lambda: [(row_id, [Text(str(cell)) for cell in cells])
                                         for row_id, cells in self.rows()],
                          self._loaded, self._not_loaded, group="setup-list")

    def rows(self) -> list[tuple[object, list]]:
        """(key, cells) of every record, read from a view function of models/."""
        raise NotImplementedError

    def _not_loaded(self, error: Exception) -> None:
        self.query_one("#list-status", Static).update(f"Cannot read the list: {error}")

    def _loaded(self, rows: list) -> None:
        status = self.query_one("#list-status", Static)
        table = self.query_one(DataTable)
        where = table.cursor_row
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=str(key))
        if rows:
            table.move_cursor(row=min(where, len(rows) - 1))
        count = len(rows)
        status.update(f"{count:,} {(self.MANY or self.TITLE.lower()) if count != 1 else self.ONE}"
                      "   ·   enter edits   ·   n new")

    ONE = "record"
    MANY = ""  # the plural when it is not the title in lower case

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.open(event.row_key.value)

    def action_new(self) -> None:
        if needs(self, self.PERMISSION):
            self.app.push_screen(self.form(None))

    def open(self, key: str) -> None:
        self.app.push_screen(self.form(key))

    def form(self, key: str | None) -> HostdeskScreen:
        raise NotImplementedError


def text_choices(names: list[str]) -> list[tuple[str, str]]:
    return [(name, name) for name in names]

