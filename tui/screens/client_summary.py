"""The client summary: the client's details, then their services, addons, domains and
invoices, each a list paged from the database (`BigList`).

Tick services, addons and domains with space (in any of the three lists) and press `I` to
invoice their next unbilled period now (`models.renewals.invoice_selected_items`, rules §4):
items that share a due date and payment method share an invoice; each refused item is listed
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Static

from hostdesk.models.client_summary import (
    ClientAddonSource,
    ClientDetails,
    ClientDomainSource,
    ClientServiceSource,
    invoice_ticked,
    load_client_details,
)
from hostdesk.models.invoice_view import FilteredInvoiceSource, InvoiceFilter
from hostdesk.models.listing import NO_FILTER, Row
from hostdesk.models.money import format_money
from hostdesk.models.permissions import GENERATE_DUE_INVOICES, has_permission
from hostdesk.models.schema import ItemType
from hostdesk.tui.background import run_in_background
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.base import HostdeskScreen, needs_permission
from hostdesk.tui.widgets.biglist import PAGE_SIZE, BigList
from hostdesk.tui.widgets.key_footer import KeyFooter

def details_text(details: ClientDetails, currency: str) -> Text:
    client = details.client
    first = Text.assemble((f"#{client.id} {client.display_name}", "bold"), "  ",
                          (client.status.upper(), "bold green" if client.status == "active"
                           else "bold dark_orange"))
    if details.group:
        first.append(f"  group {details.group}")
    if client.separate_invoices:
        first.append("  separate invoices")
    contact = " · ".join(part for part in (client.email, client.phone, ", ".join(
        p for p in (client.address, client.postcode, client.city, client.country) if p)) if part)
    services = " · ".join(f"{count} {status}" for status, count in
                          sorted(details.services.items(), key=lambda kv: -kv[1])) or "none"
    money = (f"Unpaid invoices {details.unpaid_invoices} "
             f"({format_money(details.unpaid_balance, currency)})"
             + (f", {details.overdue_invoices} overdue" if details.overdue_invoices else "")
             + f" · credit {format_money(client.credit, currency)} · pays by "
             f"{client.default_payment_method} · client since "
             f"{client.created_at.in_timezone('UTC').format('YYYY-MM-DD')}")
    lines = [first, Text(contact, no_wrap=True, overflow="ellipsis"),
             Text(f"Services: {services}", no_wrap=True, overflow="ellipsis"),
             Text(money, no_wrap=True, overflow="ellipsis")]
    return Text("\n").join(lines)


# --- the screen ----------------------------------------------------------------------------------

TABS = (("services", "Services"), ("addons", "Addons"), ("domains", "Domains"),
        ("invoices", "Invoices"))


MUTED_TAB = "$foreground 50%"  # the look of Textual's tabs
QUIET_BAR = "$foreground 10%"


class SummaryTabs(Widget):
    """The tab titles and the line under them, the shown tab's in the accent colour: one
    widget (Textual's tabbed container is a dozen widgets to open, issue 17). 1–4 switch
    tabs (the screen's keys); a click on a title too."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.active = TABS[0][0]

    def show(self, key: str) -> None:
        self.active = key
        self.refresh()

    def _spans(self) -> list[tuple[int, int, str, str]]:
        """(first column, width, key, title) of each tab."""
        spans, column = [], 0
        for key, title in TABS:
            spans.append((column, len(title) + 2, key, title))
            column += len(title) + 2
        return spans

    def render(self) -> Content:
        titles, bar = [], []
        for _column, width, key, title in self._spans():
            shown = key == self.active
            titles.append((f" {title} ", "$foreground" if shown else MUTED_TAB))
            bar.append(("━" * width, "$primary" if shown else QUIET_BAR))
        rest = max(0, self.size.width - sum(width for _, width, _, _ in self._spans()))
        return Content.assemble(*titles, "\n", *bar, ("━" * rest, QUIET_BAR))

    def on_click(self, event: events.Click) -> None:
        for column, width, key, _title in self._spans():
            if column <= event.x < column + width:
                self.screen.action_tab(key)
ITEM_TABS = {"services": ItemType.SERVICE, "addons": ItemType.ADDON, "domains": ItemType.DOMAIN}


@dataclass(frozen=True)
class SummaryStart:
    """What the summary is opened with (`ClientSummaryScreen.read`): the client, and the first
    rows of their services with how many there are."""

    details: ClientDetails
    services: list[Row]
    service_count: int


class ClientSummaryScreen(HostdeskScreen):
    """One client: details, and their services, addons, domains and invoices."""

    HELP = ("The client summary. 1–4 switch between services, addons, domains and invoices; "
            "enter opens the highlighted row. Tick services, addons and domains with space "
            "(ticks are kept across the three lists) and press I to invoice their next "
            "unbilled period now: items with the same due date and payment method share an "
            "invoice; refused items are listed with the reason. o starts an order for the "
            "client.")

    # Focused as the screen is composed (the tabs never take focus first: each change of
    # focus restyles the widgets under it).
    AUTO_FOCUS = "#list-services"

    BINDINGS = [
        Binding("I", "invoice_ticked", "Invoice ticked", tooltip="invoice the ticked services, "
                "addons and domains now", id="client.invoice_ticked"),
        bind("new", "new_order", "New order", id="client.new_order"),
        bind("edit", "edit_client", "Edit", id="client.edit"),
        Binding("M", "mass_update", "Mass update", id="client.mass_update",
                tooltip="change fields or run a module command on this client's services"),
        Binding("1", "tab('services')", "Services", show=False, id="client.tab_services"),
        Binding("2", "tab('addons')", "Addons", show=False, id="client.tab_addons"),
        Binding("3", "tab('domains')", "Domains", show=False, id="client.tab_domains"),
        Binding("4", "tab('invoices')", "Invoices", show=False, id="client.tab_invoices"),
        bind("reload", "reload", "Reload", show=False, id="client.reload"),
    ]

    def action_edit_client(self) -> None:
        from hostdesk.models.permissions import MANAGE_CLIENTS
        from hostdesk.tui.screens.client_setup import ClientFormScreen
        from hostdesk.tui.screens.setup_forms import needs

        if needs(self, MANAGE_CLIENTS):
            self.app.push_screen(ClientFormScreen(self.client_id))

    def __init__(self, client_id: int, data: SummaryStart | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.preloaded = data  # read before the screen was pushed (`HostdeskApp.open_read`)
        # Known from the start when read before the push: the footer is drawn once, with
        # the keys that need the client (n) enabled.
        self.details: ClientDetails | None = data.details if data is not None else None
        self.invoicing = False
        # The lists read so far: a tab's list is read the first time it is shown (opening the
        # summary reads only the services), then again with the others on a reload.
        self.read_tabs = {"services"}

    @staticmethod
    def read(app, client_id: int) -> SummaryStart | None:
        """The client and the first rows of their services: the page is drawn once with both
        (the services read after it was shown were a second layout and drawing of it)."""
        details = load_client_details(client_id, app.clock.today())
        if details is None:
            return None
        services = ClientServiceSource(client_id)
        limit = app.size.height + PAGE_SIZE  # (as a reload reads: the rows shown and a page)
        rows = services.page(None, limit)
        return SummaryStart(details, rows, services.count_after_first_page(rows, limit,
                                                                           NO_FILTER))

    @property
    def heading(self) -> str:
        return f"Client #{self.client_id}"

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.heading)
        start = self.preloaded
        yield Static(details_text(start.details, self.app.settings.currency)
                     if start is not None else "loading…", id="client-details")
        # Only the services' list is made with the page: another tab's list is made when
        # the tab is first shown (each list is a widget to style and lay out, issue 17).
        yield SummaryTabs(id="client-tabs")
        with ContentSwitcher(initial="list-services", id="client-lists"):
            services = self._make_list("services")
            if start is not None:
                services.start_with(start.services, start.service_count,
                                    height=self.app.size.height)
            yield services
        yield Static("", id="summary-status", classes="status-line")
        yield KeyFooter()

    def _make_list(self, key: str) -> BigList:
        source = {"services": lambda: ClientServiceSource(self.client_id),
                  "addons": lambda: ClientAddonSource(self.client_id),
                  "domains": lambda: ClientDomainSource(self.client_id),
                  "invoices": FilteredInvoiceSource}[key]()
        biglist = BigList(source, currency=self.app.settings.currency,
                          today=self.app.clock.today, id=f"list-{key}")
        if key == "invoices":
            biglist.filter = InvoiceFilter(client_id=self.client_id)
        return biglist

    def made_list(self, key: str) -> BigList | None:
        """The tab's list, if its tab was ever shown."""
        found = self.query(f"#list-{key}")
        return found.first(BigList) if found else None

    def biglist(self, key: str) -> BigList:
        """The tab's list, made now if its tab was never shown."""
        biglist = self.made_list(key)
        if biglist is None:
            biglist = self._make_list(key)
            self.query_one(ContentSwitcher).mount(biglist)
        return biglist

    @property
    def active_key(self) -> str:
        return self.query_one(SummaryTabs).active

    def on_mount(self) -> None:
        self.biglist("services").focus()

    def reread(self) -> None:
        # Shown first or come back to: the database's truth, each list at its place (the
        # details too, unless they were just read to open the screen).
        if self.preloaded is not None:  # shown first: all it shows was just read
            self.preloaded = None
            return
        self.action_reload()

    def action_reload(self, details: bool = True) -> None:
        for key, _ in TABS:
            if key in self.read_tabs:
                self.biglist(key).reload()
        if details:
            self._load_details()

    def _load_details(self) -> None:
        client_id, today = self.client_id, self.app.clock.today()
        run_in_background(self, lambda: load_client_details(client_id, today),
                          self._show_details, group="client-details",
                          description="read the client")

    def _show_details(self, details: ClientDetails | None) -> None:
        self.details = details
        panel = self.query_one("#client-details", Static)
        if details is None:
            panel.update(f"Client #{self.client_id} does not exist.")
        else:
            panel.update(details_text(details, self.app.settings.currency))
        self.refresh_bindings()

    # --- lists -------------------------------------------------------------------------------

    def action_tab(self, key: str) -> None:
        biglist = self.biglist(key)  # made the first time its tab is shown
        self.query_one(SummaryTabs).show(key)
        self.query_one(ContentSwitcher).current = biglist.id
        if key not in self.read_tabs:
            self.read_tabs.add(key)
            biglist.reload()
        biglist.focus()
        self.show_status()

    def ticked_items(self) -> list[tuple[str, int]]:
        return [(item_type, row_id) for key, item_type in ITEM_TABS.items()
                if (biglist := self.made_list(key)) is not None
                for row_id in sorted(biglist.ticked)]

    def clear_status(self) -> None:
        self.show_status()

    @on(BigList.Changed)
    def show_status(self, message: BigList.Changed | None = None) -> None:
        if not self.is_mounted:
            return
        parts = [self.biglist(self.active_key).range_text]
        made = {key: biglist for key in ITEM_TABS if (biglist := self.made_list(key))}
        counts = [f"{len(biglist.ticked)} {key}" for key, biglist in made.items()
                  if biglist.ticked]
        if counts:
            parts.append("ticked: " + ", ".join(counts) + " (I invoices them)")
        # One line whatever it says: redrawn without laying the screen out again (each list
        # movement and load says it).
        self.query_one("#summary-status", Static).update("   ·   ".join(parts), layout=False)
        self.refresh_bindings()

    @on(BigList.Opened)
    def _open(self, message: BigList.Opened) -> None:
        key = (message.biglist.id or "").removeprefix("list-")
        if key == "addons":
            self.app.open_record("services", message.row["service_id"])
        elif key in ("services", "domains", "invoices"):
            self.app.open_record(key, message.row_id)

    # --- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "invoice_ticked":
            allowed = has_permission(self.app.admin, GENERATE_DUE_INVOICES)
            return True if allowed and not self.invoicing and self.ticked_items() else None
        if action == "new_order":
            return True if self.details is not None else None
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "invoice_ticked":
            if not has_permission(self.app.admin, GENERATE_DUE_INVOICES):
                return needs_permission(GENERATE_DUE_INVOICES)
            if self.invoicing:
                return "invoicing is on its way"
            return "tick the services, addons or domains to invoice (space)"
        if action == "new_order":
            return "the client is not loaded yet"
        return super().why_greyed(action, parameters)

    def action_mass_update(self) -> None:
        from hostdesk.models.selection import Selection
        from hostdesk.tui.screens.mass_update import MassUpdateScreen

        label = f"client #{self.client_id}"
        if self.details is not None:
            label = f"{self.details.client.display_name} ({label})"
        self.app.push_screen(MassUpdateScreen(Selection.of_client(self.client_id),
                                              ticked=sorted(self.biglist("services").ticked),
                                              label=label))

    def action_new_order(self) -> None:
        from hostdesk.tui.screens.order_form import OrderFormScreen

        self.app.open_read(OrderFormScreen, self.client_id)

    def action_invoice_ticked(self) -> None:
        items = self.ticked_items()
        if not items or self.invoicing:
            return
        self.invoicing = True
        self.refresh_bindings()
        self.query_one("#summary-status", Static).update(f"invoicing {len(items)} item(s)…")
        self._invoice(items)

    def _invoice(self, items: list[tuple[str, int]]) -> None:
        admin, today, settings = self.app.admin, self.app.clock.today(), self.app.settings
        run_in_background(self, lambda: invoice_ticked(items, admin=admin, today=today,
                                                       settings=settings),
                          lambda text: self._invoiced(text, None),
                          lambda error: self._invoiced("", error), group="client-invoice")

    def _invoiced(self, text: str, error: Exception | None) -> None:
        self.invoicing = False
        if error is not None:
            self.say_error("Not invoiced", error)
        else:
            for key in ITEM_TABS:
                if (biglist := self.made_list(key)) is not None:
                    biglist.action_tick_none()
            # Refusals are there to read (which item, why): a dialog; a clean run: a toast.
            if "refused:" in text or text.startswith("No invoice"):
                self.say_error("Invoice ticked items", text)
            else:
                self.say_done(text)
        self.action_reload()
