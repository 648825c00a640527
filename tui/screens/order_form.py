"""The admin order form (rules §9), keyboard first.

Client (type-ahead), payment method, status, promotion code and the three ticks; product
lines; an optional domain; a running total under it all that follows every key. ctrl+s
places the order; escape leaves (asking first when something was typed).

Every rule is in `models.orders`: the running total is `quote_order` and the order is
`place_order`, both run in thread workers. Module commands an order queues (products set up
"on order", or "on accept" when the order is accepted from the result dialog) are run at once
when the admin may perform server operations, as the invoice screen does after a payment;
otherwise the daily run does them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from weakref import WeakKeyDictionary

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Select, Static

from hostdesk.automation.provisioning.runner import outcome_lines, run_queued_jobs
from hostdesk.models import orders, promotions
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.money import format_money
from hostdesk.models.orders import DomainRequest, OrderQuote, OrderRequest, OrderResult
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.permissions import ADD_ORDER, has_permission
from hostdesk.tui.background import run_in_background
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.form import FieldRow, FormScreen, FormSection, labelled
from hostdesk.tui.widgets.dialogs import AnswersOnce
from hostdesk.tui.widgets.key_footer import KeyFooter
from hostdesk.tui.widgets.order_client_picker import ClientChoice, ClientPicker, load_client
from hostdesk.tui.widgets.line_extras import LineExtras, LineExtrasDialog
from hostdesk.tui.widgets.order_line import OrderLineHeader, OrderLineRow, summary
from hostdesk.tui.widgets.tick import Tick

QUOTE_DELAY = 0.25  # seconds of quiet typing before the running total is recomputed

# Where each field of the order shows its message ("lineN.*" go to the line's own message).
ERROR_SLOTS = {
    "client": "error-client", "payment_method": "error-payment", "status": "error-payment",
    "promo_code": "promo-info", "notes": "error-lines", "lines": "error-lines",
    "domain.action": "error-domain", "domain.name": "error-domain", "domain.years": "error-domain",
    "domain.epp_code": "error-domain-epp", "domain.price_override": "error-domain-prices",
    "domain.renew_override": "error-domain-prices",
}
# The widget to focus for a field in error.
FIELD_WIDGETS = {
    "client": "#client-search", "payment_method": "#payment_method", "status": "#status",
    "promo_code": "#promo_code", "domain.action": "#domain-action", "domain.name": "#domain-name",
    "domain.years": "#domain-years", "domain.epp_code": "#domain-epp_code",
    "domain.price_override": "#domain-price_override",
    "domain.renew_override": "#domain-renew_override",
}


_FORM_ORDER = ("client", "payment_method", "status", "promo_code", "line", "lines",
               "domain.action", "domain.name", "domain.years", "domain.epp_code",
               "domain.price_override", "domain.renew_override", "notes")
_LINE_ORDER = ("product", "cycle", "quantity", "price_override", "domain")


def form_position(key: str) -> tuple:
    """Where a field sits on the form, top to bottom (the first problem gets the cursor)."""
    head, _, name = key.partition(".")
    if head.startswith("line") and head[4:].isdigit():
        return (_FORM_ORDER.index("line"), int(head[4:]),
                _LINE_ORDER.index(name) if name in _LINE_ORDER else 0)
    return (_FORM_ORDER.index(key) if key in _FORM_ORDER else len(_FORM_ORDER), 0, 0)


def errors_of(exc: Exception) -> list[ValidationError]:
    """The refused fields of an error, in form order."""
    if isinstance(exc, ValidationErrors):
        return sorted(exc.errors, key=lambda error: form_position(error.field))
    if isinstance(exc, ValidationError):
        return [exc]
    return []


def typed_client_id(text: str) -> str | None:
    """The client field when no match was taken: a typed number or `#number`, for
    `models.orders` to judge (no such client, too large), else None ("choose a client").
    ASCII digits only: `²` is a digit to `str.isdigit`, not to `int`."""
    digits = text.strip().removeprefix("#")
    return digits if digits.isascii() and digits.isdigit() else None


def total_text(quote: OrderQuote, currency: str) -> Text:
    """`First payment 34.25 USD · recurring 17.50 USD monthly, 16.25 USD every 1 year ·
    4 services`: what the running total line says."""
    text = Text.assemble(("First payment ", "bold"),
                         (format_money(quote.first_payment, currency), "bold"))
    if quote.discount:
        text.append(f" (promotion −{format_money(quote.discount, '')})")
    recurring = quote.recurring
    if recurring:
        shown = []
        for cycle, amount in recurring.items():
            every = f"every {cycle}" if "year" in cycle else cycle
            shown.append(f"{format_money(amount, currency)} {every}")
        text.append(" · recurring " + ", ".join(shown))
    services = quote.services
    text.append(f" · {services} service{'s' if services != 1 else ''}")
    if quote.domain is not None:
        text.append(f" + domain {quote.domain.name.unicode}")
    return text


@dataclass(frozen=True)
class OrderStart:
    """What the order form shows before anything is typed."""

    catalog: list[orders.CatalogProduct]
    methods: list[str]
    client: ClientChoice | None
    kept: bool = False  # what the form read at its last open: read again once drawn


class OrderFormScreen(FormScreen):
    HELP = (
        "New order. Type a client's name, company, email or #id and take a match with the "
        "arrows and enter. tab / shift+tab move between fields; enter opens a list. Each "
        "line is a product, its billing cycle (blank: the shortest one it has a price for), "
        "a quantity (N services, for products that allow it), a price override and the "
        "service's domain. ctrl+n adds a line, ctrl+d removes the line you are in. The "
        "domain part registers or transfers one domain (a transfer needs the EPP code); an "
        "order may be only a domain. Status `active` imports existing services without "
        "setting them up. The running total at the bottom follows what you type. ctrl+s "
        "places the order; a refused order says what is wrong under each field and keeps "
        "everything you typed. escape leaves (asks first when you typed something). "
        "alt and the letter in a section's title go to it; ctrl+f finds a field by name."
    )
    AUTO_FOCUS = "#client-search"
    BINDINGS = [
        bind("save", "submit", "Place order", id="order.submit"),
        bind("new", "add_line", "Add line", form=True, id="order.add_line"),
        # Above the fields' own ctrl+d (delete the character on the right): here it removes a line.
        bind("delete", "remove_line", "Remove line", form=True, priority=True,
             id="order.remove_line"),
        Binding("ctrl+o", "line_extras", "Options & addons", id="order.line_extras"),
        Binding("escape", "back", "Cancel", id="order.cancel"),
    ]

    def __init__(self, client_id: int | None = None, data: OrderStart | None = None) -> None:
        super().__init__()
        self.preset_client_id = client_id
        self.preloaded = data  # read before the screen was pushed (`HostdeskApp.open_read`)
        self.catalog: list[orders.CatalogProduct] = data.catalog if data is not None else []
        self.working = False
        self.show_errors = False  # after a refused ctrl+s, messages follow the typing
        self.quote: OrderQuote | None = None
        self._quote_timer: Timer | None = None
        self._pristine: tuple[OrderRequest, str] | None = None
        self._offered_method = ""
        self._methods: list[str] = []
        self._client_method = ""  # the chosen client's default payment method
        self._found: tuple[int, dict] = (-1, {})  # (DOM stamp, `#id` -> widget): `_find`

    @property
    def currency(self) -> str:
        return self.app.settings.currency

    # --- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # As few widgets as the form needs to show (each costs 1-3 ms to open, issue 17):
        # labels are drawn by their rows, and the lines that say something (errors, the
        # promotion, the domain's fields) are made when they first have something to say.
        yield self.title_bar("New order")
        with VerticalScroll(id="order-body"):
            with FormSection("Client and payment", id="section-client"):
                yield FieldRow("Client", ClientPicker(id="client"), id="client-row")
                methods = self.preloaded.methods if self.preloaded is not None else []
                yield FieldRow(
                    "Payment method",
                    Dropdown([(m, m) for m in methods], prompt="client's default",
                             id="payment_method", compact=True),
                    labelled(Dropdown([("pending", "pending"), ("active (import)", "active")],
                                      value="pending", allow_blank=False, id="status",
                                      compact=True), "Status"),
                    id="payment-row", classes="-spaced")
                yield FieldRow("Promotion code", Input(placeholder="none", id="promo_code",
                                                       compact=True), id="promo-row")
                with Horizontal(classes="form-row"):
                    yield Tick("Order confirmation", True, id="send_confirmation", compact=True)
                    yield Tick("Generate invoice", True, id="generate_invoice", compact=True)
                    yield Tick("Send invoice email", True, id="send_invoice_email",
                               compact=True)
            with FormSection("Lines", id="section-lines"):
                yield OrderLineHeader()
                with Vertical(id="order-lines"):
                    yield OrderLineRow(1, self.catalog, self.currency)
            with FormSection("Domain", id="section-domain"):
                yield FieldRow("Order a domain",
                               Dropdown([("none", "none"), ("register", "register"),
                                         ("transfer", "transfer")], value="none",
                                        allow_blank=False, id="domain-action", compact=True),
                               id="domain-row")
                # Its fields are made when a domain is first ordered (`_domain_fields`).
        yield Static("" if self.preloaded is not None else "loading the catalog…",
                     id="order-total")
        yield KeyFooter()

    # Where each message line is made, the first time it has something to say: after the
    # widget of that selector.
    SLOT_PLACES = {"error-client": "#client-row", "error-payment": "#payment-row",
                   "error-lines": "#order-lines"}

    def _slot(self, slot: str, needed: bool) -> Static | None:
        """The message line `slot`, made when `needed` (None: not made, nothing to say)."""
        found = self.query(f"#{slot}")
        if found:
            return found.first(Static)
        if not needed or slot not in self.SLOT_PLACES:
            return None  # (the domain's lines are made with its fields)
        line = Static("", id=slot, classes="field-error")
        place = self.query_one(self.SLOT_PLACES[slot])
        place.parent.mount(line, after=place)
        return line

    def _promo_info(self, needed: bool) -> Static | None:
        """What the promotion code gives (or why it is refused), beside the code."""
        found = self.query("#promo-info")
        if found or not needed:
            return found.first(Static) if found else None
        info = Static("", id="promo-info")
        self.query_one("#promo-row").mount(info)
        return info

    def _domain_fields(self) -> list:
        """The domain's fields, under "Order a domain" once it is not `none`: most orders
        have no domain, and the form opens faster without them."""
        return [Vertical(
            FieldRow("Domain name", Input(placeholder="example.com", id="domain-name",
                                          compact=True),
                     labelled(Input("1", id="domain-years", compact=True), "Years")),
            Static("", id="error-domain", classes="field-error"),
            FieldRow("EPP code", Input(placeholder="needed for a transfer",
                                       id="domain-epp_code", compact=True, password=True)),
            Static("", id="error-domain-epp", classes="field-error"),
            Horizontal(Tick("DNS management", id="domain-dns_management", compact=True),
                       Tick("Email forwarding", id="domain-email_forwarding", compact=True),
                       Tick("ID protection", id="domain-id_protection", compact=True),
                       classes="form-row -tight"),
            FieldRow("Price override", Input(placeholder="TLD price",
                                             id="domain-price_override", compact=True),
                     labelled(Input(placeholder="TLD price", id="domain-renew_override",
                                    compact=True), "Renewal override")),
            Static("", id="error-domain-prices", classes="field-error"),
            Static("", id="domain-info"),
            id="domain-details")]

    @property
    def _domain_made(self) -> bool:
        return self._find("#domain-details") is not None

    def on_mount(self) -> None:
        if self.preloaded is not None:  # composed with the catalog: drawn once with it
            start = self.preloaded
            self._catalog_loaded(start.catalog, start.methods, start.client, composed=True)
        else:
            self._load_catalog()

    def reread(self) -> None:
        # Shown first with what the last form read (`kept`, maybe built ahead a while ago):
        # read again once drawn and the admin pauses (a thread reading meanwhile slows the
        # drawing, and on PostgreSQL its new connection costs the server a process).
        if self.preloaded is not None and self.preloaded.kept:
            self.preloaded = replace(self.preloaded, kept=False)
            self.call_after_refresh(self.app.when_idle, self._reread_start)

    # The catalog and the payment methods each app's order form read last (`kept`).
    _last_start: WeakKeyDictionary = WeakKeyDictionary()

    @classmethod
    def kept(cls, app, client_id: int | None) -> OrderStart | None:
        """What a new order (no preset client) started with at the last open in this app:
        `HostdeskApp.open_read` opens the form with it at once, and the form reads it again
        (`_reread_start`), so that a product added meanwhile is offered a moment later."""
        start = cls._last_start.get(app) if client_id is None else None
        return replace(start, kept=True) if start is not None else None

    @classmethod
    def build_ahead(cls, app, back_on=None) -> None:
        """Build the next new order's form (no preset client) off the stack, with what the
        last one read (`HostdeskApp.build_ahead`): once the app is up (read first, in a
        worker of the app), and back on the orders list. Opened, the form is drawn at once
        and reads it again."""
        if not has_permission(app.admin, ADD_ORDER) or app.is_built_ahead(cls, None):
            return
        if back_on is not None and getattr(back_on, "name", None) != "orders":
            return  # (built where it opens from: elsewhere it would delay another screen)
        start = cls.kept(app, None)
        if start is not None:
            app.build_ahead(cls(None, start), None)
            return

        def read(start: OrderStart) -> None:
            if not app.is_running:
                return
            cls._last_start.setdefault(app, start)
            cls.build_ahead(app)

        run_in_background(app, lambda: cls.read(app, None), read,
                          lambda _error: None,  # the form reads it itself then, and says why
                          group="order-read-ahead", description="read the order catalog")

    def _reread_start(self) -> None:
        if not self.is_attached:  # left before the admin paused
            return
        app = self.app
        run_in_background(self, lambda: self.read(app, None), self._start_reread,
                          group="order-catalog")

    def _start_reread(self, start: OrderStart) -> None:
        if not self.is_attached:
            return
        OrderFormScreen._last_start[self.app] = start
        if start.methods != self._methods:
            self._methods = start.methods
            picker = self._find("#payment_method")
            chosen = picker.value
            with picker.prevent(Select.Changed):  # what was chosen stays chosen
                picker.set_options([(m, m) for m in start.methods])
                if chosen in start.methods:
                    picker.value = chosen
            self._offer_method()
        if start.catalog != self.catalog:
            self.catalog = start.catalog
            for row in self._lines():
                row.set_catalog(start.catalog)

    @staticmethod
    def read(app, client_id: int | None) -> OrderStart:
        """The catalog, the payment methods and the preset client (in a worker)."""
        return OrderStart(orders.order_catalog(), enabled_methods(),
                          load_client(client_id) if client_id else None)

    def _load_catalog(self) -> None:
        """Read what the form starts with, when it was pushed without it (or its read failed)."""
        app, client_id = self.app, self.preset_client_id
        run_in_background(self, lambda: self.read(app, client_id),
                          lambda start: self._catalog_loaded(start.catalog, start.methods,
                                                             start.client),
                          self._catalog_failed, group="order-catalog")

    def _catalog_failed(self, exc: Exception) -> None:
        self.query_one("#order-total", Static).update(
            Text(f"The catalog could not be read: {exc}", style="bold"))

    def _catalog_loaded(self, catalog: list[orders.CatalogProduct], methods: list[str],
                        client: ClientChoice | None, *, composed: bool = False) -> None:
        self.catalog = catalog
        self._methods = methods
        OrderFormScreen._last_start[self.app] = OrderStart(catalog, methods, None)
        if not composed:
            self.query_one("#payment_method", Select).set_options([(m, m) for m in methods])
        self._offer_method()
        if not composed:
            for row in self.query(OrderLineRow):
                row.set_catalog(catalog)
        if client is not None:
            self.query_one(ClientPicker).choose(client)
        self._pristine = self._snapshot()
        self._schedule_quote()

    # --- what the form says --------------------------------------------------------------

    def _find(self, selector: str):
        """The field of `selector` (`#id`), or None while it is not made (the domain's).
        From a map of the form's ids, made in one walk: the form reads every field after each
        key, and a query matches its selector against every widget of the form. The map is
        made again whenever a widget is mounted or removed anywhere on the form: Textual
        counts those changes on each ancestor (as its own `query_one` cache does)."""
        stamp = self._nodes._updates
        if self._found[0] != stamp:
            self._found = (stamp, {f"#{widget.id}": widget for widget in self.walk_children()
                                   if widget.id})
        return self._found[1].get(selector)

    def _value(self, selector: str, unmade: str = "") -> str:
        found = self._find(selector)
        return found.value if found is not None else unmade  # a domain field not made yet

    def _selected(self, selector: str) -> str:
        value = self._find(selector).value
        return "" if value == Select.NULL else str(value)

    def _ticked(self, selector: str) -> bool:
        found = self._find(selector)
        return found.value if found is not None else False

    def _lines(self) -> list[OrderLineRow]:
        return list(self._find("#order-lines").children)

    def request(self) -> OrderRequest:
        """The order as typed (parsed and judged by `models.orders`)."""
        picker = self._find("#client")
        client_id = picker.chosen.id if picker.chosen else typed_client_id(picker.input.value)
        return OrderRequest(
            client_id=client_id,
            payment_method=self._selected("#payment_method"),
            promo_code=self._value("#promo_code"),
            status=str(self._find("#status").value),
            send_confirmation=self._ticked("#send_confirmation"),
            generate_invoice=self._ticked("#generate_invoice"),
            send_invoice_email=self._ticked("#send_invoice_email"),
            lines=[row.request() for row in self._lines()],
            domain=DomainRequest(
                action=str(self._find("#domain-action").value),
                name=self._value("#domain-name"), years=self._value("#domain-years", "1"),
                dns_management=self._ticked("#domain-dns_management"),
                email_forwarding=self._ticked("#domain-email_forwarding"),
                id_protection=self._ticked("#domain-id_protection"),
                price_override=self._value("#domain-price_override"),
                renew_override=self._value("#domain-renew_override"),
                epp_code=self._value("#domain-epp_code")))

    def _snapshot(self) -> tuple[OrderRequest, str]:
        return self.request(), self._find("#client").input.value

    @property
    def dirty(self) -> bool:
        """Whether leaving would lose something typed (a half-typed client search counts)."""
        return self._pristine is not None and self._snapshot() != self._pristine

    # --- following the typing -------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    async def _changed(self, event) -> None:
        control_id = getattr(event.control, "id", None)
        if control_id == "domain-action":
            if event.value != "none" and not self._domain_made:
                await self.query_one("#section-domain").mount_all(self._domain_fields())
            if self._domain_made:
                self.query_one("#domain-details").set_class(event.value == "none", "-none")
        elif control_id == "generate_invoice":
            self.query_one("#send_invoice_email", Checkbox).disabled = not event.value
        self._schedule_quote()

    @on(ClientPicker.Chosen)
    def _client_chosen(self, event: ClientPicker.Chosen) -> None:
        self._client_method = event.client.payment_method if event.client is not None else ""
        self._offer_method()
        self._schedule_quote()

    def _offer_method(self) -> None:
        """Offer the client's usual payment method (once the list is loaded: the client may be
        chosen first), unless the admin chose another one."""
        offered = self._client_method
        if offered in self._methods and \
                self._selected("#payment_method") in ("", self._offered_method):
            self.query_one("#payment_method", Select).value = self._offered_method = offered

    def _schedule_quote(self) -> None:
        if self._quote_timer is not None:
            self._quote_timer.stop()
        self._quote_timer = self.set_timer(QUOTE_DELAY, self._quote_when_quiet)

    def _quote_when_quiet(self) -> None:
        # The timer may fire while the form is being taken down (its fields already gone).
        if self._find("#payment_method") is not None:
            self._run_quote(self.request())

    def _run_quote(self, request: OrderRequest) -> None:
        today, currency = self.app.clock.today(), self.currency

        def quote() -> tuple[OrderQuote, str]:
            quoted = orders.quote_order(request, today)
            return quoted, (promotions.describe(quoted.promotion, currency)
                            if quoted.promotion else "")

        # A refused quote: the total line says it, the form stays usable.
        run_in_background(self, quote, lambda quoted: self._show_quote(*quoted),
                          self._quote_failed, group="order-quote")

    def _quote_failed(self, exc: Exception) -> None:
        if self.is_attached and not self.working:
            self.query_one("#order-total", Static).update(
                Text(f"The total cannot be worked out: {exc}", style="bold"))

    def _show_quote(self, quote: OrderQuote, promotion_text: str) -> None:
        if not self.is_attached or self.working:
            return  # the screen was left, or the order is being placed
        self.quote = quote
        self.query_one("#order-total", Static).update(total_text(quote, self.currency))
        errors = quote.errors_by_field()
        self._show_promotion(quote, promotion_text, errors.get("promo_code"))
        priced = {line.index: line for line in quote.lines}
        for number, row in enumerate(self.query(OrderLineRow), start=1):
            message = self._line_error(errors, number) if self.show_errors else None
            if message:
                row.show(message, error=True)
            elif number in priced:
                row.show(summary(priced[number], self.currency))
            else:
                row.show("")
        domain = quote.domain
        if self._domain_made:
            self.query_one("#domain-info", Static).update(
                "" if domain is None else
                f"{domain.kind} {domain.name.shown} for {domain.years} year(s): "
                f"{format_money(domain.price.first, self.currency)} now, "
                f"{format_money(domain.price.recurring, self.currency)} each renewal")
        if self.show_errors:
            self._show_field_errors(quote.errors)

    def _show_promotion(self, quote: OrderQuote, text: str, error: str | None) -> None:
        info = self._promo_info(bool(error) or quote.promotion is not None)
        if info is None:
            return
        if error:
            info.update(Text(error))
        elif quote.promotion is not None:
            saved = f"; −{format_money(quote.discount, self.currency)} on this order" \
                if quote.discount else ""
            info.update(Text(f"{quote.promotion.code}: {text}{saved}"))
        else:
            info.update("")
        info.set_class(bool(error), "-error")

    @staticmethod
    def _line_error(errors: dict[str, str], number: int) -> str | None:
        for name in ("product", "cycle", "quantity", "price_override", "domain",
                     "config_options", "addons"):
            message = errors.get(orders.line_field(number, name))
            if message:
                return f"{orders.field_label(orders.line_field(number, name))}: {message}"
        return None

    def _show_field_errors(self, errors: list[ValidationError]) -> None:
        slots: dict[str, list[str]] = {}
        for error in errors:
            slot = ERROR_SLOTS.get(error.field)
            if slot and slot != "promo-info":
                prefix = "" if slot in ("error-client", "error-lines") else \
                    f"{orders.field_label(error.field)}: "
                slots.setdefault(slot, []).append(prefix + error.message)
        for slot in set(ERROR_SLOTS.values()) - {"promo-info"}:
            message = "\n".join(slots.get(slot, []))
            widget = self._slot(slot, bool(message))
            if widget is None:
                continue  # nothing to say, or a domain field not made (no domain ordered)
            widget.update(Text(message))
            widget.set_class(bool(message), "-shown")

    # --- lines ----------------------------------------------------------------------------

    async def action_add_line(self) -> None:
        rows = self.query(OrderLineRow)
        row = OrderLineRow(len(rows) + 1, self.catalog, self.currency)
        await self.query_one("#order-lines").mount(row)
        row.field("product").focus()
        self._schedule_quote()

    def _focused_line(self) -> OrderLineRow | None:
        node = self.focused
        while node is not None and not isinstance(node, OrderLineRow):
            node = node.parent
        return node

    def action_line_extras(self) -> None:
        rows = list(self.query(OrderLineRow))
        row = self._focused_line() or (rows[0] if len(rows) == 1 else None)
        product = row.field("product").value if row is not None else Select.NULL
        if product == Select.NULL:
            self.notify("Choose the line's product first (tab to its line).", severity="warning")
            return
        self._open_line_extras(row, product)

    def _open_line_extras(self, row: OrderLineRow, product_id: int) -> None:
        run_in_background(self, lambda: orders.line_choices(product_id),
                          lambda choices: self._show_line_extras(row, product_id, choices),
                          group="order-line-extras")

    def _show_line_extras(self, row: OrderLineRow, product_id: int,
                          choices: orders.LineChoices) -> None:
        def kept(extras: LineExtras | None) -> None:
            if extras is not None and row.is_attached:
                row.set_extras(extras)
                self._schedule_quote()

        name = row.catalog[product_id].name if product_id in row.catalog else "Product"
        self.app.push_screen(LineExtrasDialog(name, choices, row.extras), kept)

    async def action_remove_line(self) -> None:
        row = self._focused_line()
        if row is None:
            self.notify("Move to a line (tab) to remove it.", severity="warning")
            return
        rows = list(self.query(OrderLineRow))
        index = rows.index(row)
        rows.pop(index)
        await row.remove()
        for number, other in enumerate(rows, start=1):
            other.set_number(number)
        if rows:
            rows[min(index, len(rows) - 1)].field("product").focus()
        else:
            self.query_one("#domain-action").focus()
        self._schedule_quote()

    # --- placing the order ----------------------------------------------------------------

    def action_submit(self) -> None:
        if self.working:
            return
        self.working = True
        self.query_one("#order-total", Static).update("placing the order…")
        self._place(self.request())

    def _place(self, request: OrderRequest) -> None:
        app = self.app
        admin, clock, settings = app.admin, app.clock, app.settings

        def place() -> tuple[OrderResult, list[str]]:
            result = orders.place_order(request, admin, clock.today(), settings)
            notes = []
            if result.job_ids:
                try:
                    jobs = run_queued_jobs(result.job_ids, admin, clock=clock, settings=settings)
                    notes = outcome_lines(jobs)
                except Exception as exc:  # noqa: BLE001 - the order is placed; jobs stay queued
                    notes = [f"module commands were not run now ({exc}); they wait in the queue"]
            return result, notes

        run_in_background(self, place, lambda placed: self._placed(*placed), self._refused,
                          group="order-submit")

    def _refused(self, exc: Exception) -> None:
        self.working = False
        errors = errors_of(exc)
        if not errors:
            self.notify(str(exc), title="The order was not placed", severity="error",
                        timeout=10)
            self._schedule_quote()
            return
        self.show_errors = True
        self._show_field_errors(errors)
        if self.quote is not None:
            self.quote.errors = errors
        self._schedule_quote()
        self._focus_field(errors[0].field)
        count = len(errors)
        self.notify(f"{count} problem{'s' if count > 1 else ''}: see the message"
                    f"{'s' if count > 1 else ''} under the field{'s' if count > 1 else ''}.",
                    title="The order was not placed", severity="error")

    def _focus_field(self, key: str) -> None:
        head, _, name = key.partition(".")
        if head.startswith("line") and head[4:].isdigit():
            rows = list(self.query(OrderLineRow))
            number = int(head[4:])
            if 1 <= number <= len(rows):
                rows[number - 1].field(name if name in _LINE_ORDER else "product").focus()
            return
        selector = FIELD_WIDGETS.get(key)
        if selector:
            self.query_one(selector).focus()

    def _placed(self, result: OrderResult, notes: list[str]) -> None:
        self.working = False
        self._pristine = self._snapshot()  # nothing left unsaved

        def closed(answer: str | None) -> None:
            if answer == "new":
                self.app.switch_screen(OrderFormScreen())
            elif self in self.app.screen_stack:
                self.app.pop_screen()

        self.app.push_screen(OrderResultScreen(result, notes), closed)

    # --- leaving --------------------------------------------------------------------------

    heading = "the new order"
    LEAVE_TITLE = "Leave the order form?"
    LEAVE_TEXT = "The order has not been placed: what you typed will be lost."
    LEAVE_YES = "discard it"

    def action_back(self) -> None:
        if not self.working:
            super().action_back()


class OrderResultScreen(AnswersOnce, ModalScreen[str], inherit_bindings=False):
    """What the order wrote: its number, the services, the invoice and its total."""

    BINDINGS = [
        Binding("a", "accept", "Accept order", id="order_result.accept"),
        bind("new", "new_order", "New order", id="order_result.new"),
        Binding("enter,escape", "close", "Done", id="order_result.close"),
    ]

    def __init__(self, result: OrderResult, notes: list[str]) -> None:
        super().__init__()
        self.result = result
        self.notes = list(notes)
        self.accepted = result.order.status != orders.PENDING
        self.working = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Order {self.result.number} placed", style="bold"),
                         classes="dialog--title")
            yield Static(self._body(), id="order-result-body", classes="dialog--body")
            yield Static(self._keys(), id="order-result-keys", classes="dialog--keys")

    def _body(self) -> Text:
        result, currency = self.result, self.app.settings.currency
        order = result.order
        lines = [f"Order number: {order.number} (#{order.id}, {order.status})"]
        ids = ", ".join(f"#{i}" for i in result.service_ids)
        count = len(result.service_ids)
        lines.append(f"Services created: {count}" + (f" ({ids})" if count else ""))
        if result.domain_id:
            lines.append(f"Domain: {result.domain_name} (#{result.domain_id})")
        if result.invoice is not None:
            invoice = result.invoice
            lines.append(f"Invoice #{invoice.number}: {format_money(invoice.total, currency)} "
                         f"({invoice.status}, due {invoice.due_date.isoformat()})")
        else:
            first = format_money(result.first_payment, currency)
            lines.append(f"No invoice (first payment {first})")
        lines.append(f"Emails queued: {result.emails}")
        lines.extend(self.notes)
        return Text("\n".join(lines))

    def _keys(self) -> Text:
        keys = Text()
        if not self.accepted:
            keys.append("a", "bold").append(" accept order   ")
        keys.append("n", "bold").append(" new order   ")
        keys.append("enter", "bold").append("/")
        keys.append("escape", "bold").append(" done")
        return keys

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "accept":
            return not self.accepted and not self.working
        return True

    def action_close(self) -> None:
        if not self.working:
            self.dismiss("close")

    def action_new_order(self) -> None:
        if not self.working:
            self.dismiss("new")

    def action_accept(self) -> None:
        if self.accepted or self.working:
            return
        self.working = True
        self.refresh_bindings()
        self.query_one("#order-result-keys", Static).update("accepting…")
        self._accept()

    def _accept(self) -> None:
        app = self.app
        admin, clock, settings = app.admin, app.clock, app.settings

        def accept() -> list[str]:
            accepted = orders.accept_order(self.result.order.id, admin, today=clock.today())
            notes = [f"Accepted: module create queued for {len(accepted.queued)} service(s)"]
            jobs = run_queued_jobs(accepted.job_ids, admin, clock=clock, settings=settings)
            self.result.order = accepted.order
            return notes + outcome_lines(jobs)

        run_in_background(self, accept, self._accepted, self._accept_failed,
                          group="order-accept")

    def _accepted(self, notes: list[str]) -> None:
        self.working = False
        self.accepted = True
        self.notes.extend(notes)
        self.query_one("#order-result-body", Static).update(self._body())
        self.query_one("#order-result-keys", Static).update(self._keys())
        self.refresh_bindings()
        self.app.notify(f"Order {self.result.number} accepted.")

    def _accept_failed(self, exc: Exception) -> None:
        self.working = False
        self.notes.append(f"Not accepted: {exc}")
        self.query_one("#order-result-body", Static).update(self._body())
        self.query_one("#order-result-keys", Static).update(self._keys())
        self.refresh_bindings()
