"""Upgrade/downgrade of one service (rules §7): pick any product, cycle and configurable
options (and a promotion code); the quote beside the form follows every change; ctrl+s
confirms it, which writes the upgrade order and its invoice and opens that invoice.

The figures come from `models.upgrades.quote_upgrade`, computed again by `create_upgrade`
inside its transaction: a quote that changed meanwhile (another admin edited the service) is
refused rather than billed.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Select, Static

from hostdesk.automation.provisioning.runner import outcome_lines, run_queued_jobs
from hostdesk.models import upgrades
from hostdesk.models.cycles import Cycle
from hostdesk.models.errors import ValidationError
from hostdesk.models.money import format_money
from hostdesk.models.parsing import parse_whole_number
from hostdesk.models.permissions import UPGRADE_ORDERS, has_permission
from hostdesk.models.upgrades import OptionChoice, OptionInfo, Quote, UpgradeStart, load_upgrade_start
from hostdesk.tui.background import run_in_background
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.base import needs_permission
from hostdesk.tui.screens.form import FieldRow, FormScreen
from hostdesk.tui.screens.invoices import InvoiceScreen
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.widgets.key_footer import KeyFooter
from hostdesk.tui.widgets.tick import Tick

NOTHING_CHOSEN = "Choose another product, cycle or option (or a promotion code) to see the quote."
QUOTE_DELAY = 0.25  # seconds of quiet typing before the quote is asked again


def field_row(label: str, widget) -> FieldRow:
    """One line of the form: the label (drawn by the row), then the field."""
    return FieldRow(label, widget)


def error_id(field_name: str) -> str:
    """The id of the message line under a field (`option:12` → `error-option-12`)."""
    return "error-" + re.sub(r"[^A-Za-z0-9_-]", "-", field_name)


class UpgradeScreen(FormScreen):
    """Upgrade or downgrade one service, seeing the quote before confirming."""

    HELP = ("Choose the new product and billing cycle (any product, not only the configured "
            "upgrade paths), the configurable options and an optional promotion code. The "
            "quote follows every change: credit for the days left at the current recurring "
            "amount, charge for the same days at the new one, the discount and what is "
            "payable; the next due date stays. ctrl+s creates the upgrade order and invoice; "
            "nothing on the service changes until that invoice is paid.")

    AUTO_FOCUS = "#new-product"
    BINDINGS = [
        bind("save", "confirm", "Confirm upgrade", id="upgrade.confirm",
                tooltip="create the upgrade order and its invoice"),
        bind("reload", "requote", "Quote again", show=False, id="upgrade.requote"),
    ]

    def __init__(self, service_id: int, data: UpgradeStart | None = None) -> None:
        super().__init__()
        self.service_id = service_id
        self.preloaded = data  # read before the screen was pushed (`HostdeskApp.open_read`)
        self.start: UpgradeStart | None = None
        self.options: list[OptionInfo] = []
        self.options_product: int | None = None
        self.quote: Quote | None = None
        self.quote_request: tuple | None = None
        self.busy = False
        self._timer: Timer | None = None

    @staticmethod
    def read(app, service_id: int) -> UpgradeStart | None:
        return load_upgrade_start(service_id)

    def compose(self) -> ComposeResult:
        start = self.preloaded
        yield self.title_bar(f"Upgrade/Downgrade · service #{self.service_id}")
        yield Static(self._current_text(start) if start is not None else "loading…",
                     id="upgrade-current")
        if start is not None:  # drawn once, with the catalog and the service's choices
            service = start.service
            cycles = self._cycle_choices(start, service.product_id)
            current_cycle = (service.billing_cycle if service.billing_cycle in
                             {value for _, value in cycles} else cycles[0][1])
            product = Dropdown(start.products, id="new-product", value=service.product_id,
                               allow_blank=False, compact=True)
            cycle = Dropdown(cycles, id="new-cycle", value=current_cycle, allow_blank=False,
                             compact=True)
        else:  # placeholders until the catalog is read; never blank afterwards
            product = Dropdown([("loading…", 0)], id="new-product", allow_blank=False,
                               compact=True)
            cycle = Dropdown([("loading…", "")], id="new-cycle", allow_blank=False,
                             compact=True)
        body = VerticalScroll(id="upgrade-body")
        # Laid out for the terminal's width from the start: set on the first resize, the
        # screen would be laid out a second time (issue 17).
        body.styles.layout = self._body_layout(self.app.size.width)
        with body:
            with Vertical(id="upgrade-form"):
                yield field_row("Product", product)
                yield self._error_line("new_product")
                yield field_row("Billing cycle", cycle)
                yield self._error_line("new_cycle")
                # The options of the service's product are drawn with the page (the
                # first frame); another product's replace them once read.
                yield Vertical(*(self._option_rows(start.options, start.current_choices)
                                 if start is not None else ()), id="upgrade-options")
                yield self._error_line("config_options")
                yield field_row("Promotion code", Input("", id="promo-code",
                                                        placeholder="optional", compact=True))
                yield self._error_line("promo_code")
            yield Static("", id="upgrade-quote")
        yield Static("", id="upgrade-state", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        if self.preloaded is not None:
            self._show_start(self.preloaded, composed=True)  # before the first frame
        else:
            self._load_start()

    @staticmethod
    def _error_line(field_name: str) -> Static:
        line = Static("", id=error_id(field_name), classes="field-error")
        line.display = False  # shown only while it has something to say
        return line

    @staticmethod
    def _body_layout(width: int) -> str:
        # Below 110 columns the quote goes under the form instead of beside it.
        return "horizontal" if width >= 110 else "vertical"

    def on_resize(self) -> None:
        body = self.query_one("#upgrade-body")
        layout = self._body_layout(self.size.width)
        if body.styles.layout.name != layout:
            body.styles.layout = layout

    # --- loading -------------------------------------------------------------------------

    def _load_start(self) -> None:
        """Read the service and the catalog, when pushed without them (or their read failed)."""
        service_id = self.service_id
        run_in_background(self, lambda: load_upgrade_start(service_id), self._show_start,
                          self._read_failed, group="upgrade-start",
                          description="read the service and the catalog")

    def _read_failed(self, error: Exception) -> None:
        self.query_one("#upgrade-state", Static).update(
            Text(f"Could not read the service or the catalog: {error}"))

    def _current_text(self, start: UpgradeStart) -> Text:
        service = start.service
        return Text.assemble(
            ("Now: ", "bold"), f"{start.product_name} ({Cycle(service.billing_cycle).label}) ",
            format_money(service.recurring_amount, self.app.settings.currency),
            f" · next due {service.next_due_date or '—'} · {service.status} · "
            f"{service.domain or 'no domain'} · client {start.client_name}")

    @staticmethod
    def _cycle_choices(start: UpgradeStart | None, product_id: int) -> list[tuple[str, str]]:
        cycles = start.cycles.get(product_id, []) if start else []
        return [(c.label, c.value) for c in cycles] or [("no price", "")]

    def _show_start(self, start: UpgradeStart | None, *, composed: bool = False) -> None:
        if start is None:
            self.query_one("#upgrade-current", Static).update(
                f"Service #{self.service_id} does not exist.")
            return
        self.start = start
        service = start.service
        if composed:  # (with the choices and the options)
            self.options, self.options_product = start.options, service.product_id
        else:  # the selects were composed with the placeholders
            self.query_one("#upgrade-current", Static).update(self._current_text(start))
            products = self.query_one("#new-product", Select)
            products.set_options(start.products)
            products.value = service.product_id
            self._set_cycles(service.product_id, Cycle(service.billing_cycle))
            self._show_options(service.product_id, start.options, start.current_choices)
        self.query_one("#upgrade-quote", Static).update(NOTHING_CHOSEN)

    def _set_cycles(self, product_id: int, keep: Cycle | None) -> None:
        cycles = self.start.cycles.get(product_id, []) if self.start else []
        select = self.query_one("#new-cycle", Select)
        select.set_options(self._cycle_choices(self.start, product_id))
        if keep is not None and keep in cycles:
            select.value = keep.value
        elif cycles:
            select.value = cycles[0].value

    def _show_options(self, product_id: int, options: list[OptionInfo],
                      chosen: dict[int, OptionChoice]) -> None:
        self.options, self.options_product = options, product_id
        box = self.query_one("#upgrade-options", Vertical)
        box.remove_children()
        widgets = self._option_rows(options, chosen)
        if widgets:
            box.mount(*widgets)

    def _option_rows(self, options: list[OptionInfo], chosen: dict[int, OptionChoice]) -> list:
        """A row per configurable option, holding `chosen` (else the option's default), each
        with its error line."""
        widgets = []
        for option in options:
            current = chosen.get(option.id, option.default())
            widget_id = f"option-{option.id}"
            if option.option_type == "quantity":
                widget = Input(str(current.quantity), id=widget_id, classes="option-input",
                               placeholder="quantity", compact=True)
            elif option.option_type == "yesno":
                widget = Tick("yes", current.choice_id is not None, id=widget_id,
                              classes="option-input", compact=True)
            else:
                widget = Dropdown([(name, cid) for cid, name in option.choices], id=widget_id,
                                  value=current.choice_id if current.choice_id else Select.NULL,
                                  allow_blank=not option.choices, classes="option-input",
                                  compact=True)
            widgets.append(field_row(option.name, widget))
            widgets.append(self._error_line(f"option:{option.id}"))
        return widgets

    # --- asking for the quote --------------------------------------------------------------

    @on(Select.Changed, "#new-product")
    def _product_changed(self, event: Select.Changed) -> None:
        if self.start is None or not event.value or event.value == self.options_product:
            return
        if event.value != event.select.value:
            # Filling the picker posts a change to its first product before the service's
            # own is selected; by the time it arrives the picker shows the service's product.
            return
        current_cycle = self.query_one("#new-cycle", Select).value
        keep = Cycle(current_cycle) if isinstance(current_cycle, str) else None
        self._forget_quote()
        self._set_cycles(event.value, keep)
        self._load_options(event.value)

    def _load_options(self, product_id: int) -> None:
        run_in_background(self, lambda: upgrades.product_options(product_id),
                          lambda options: self._options_loaded(product_id, options),
                          self._read_failed, group="upgrade-options")

    def _options_loaded(self, product_id: int, options: list[OptionInfo]) -> None:
        if self.query_one("#new-product", Select).value != product_id:
            return  # the admin moved on to another product
        same = self.start is not None and product_id == self.start.service.product_id
        chosen = self.start.current_choices if same else {}
        self._show_options(product_id, options, chosen)
        self.call_after_refresh(self.request_quote)

    @on(Select.Changed, "#new-cycle, .option-input")
    @on(Checkbox.Changed, ".option-input")
    @on(Input.Changed, "#promo-code, .option-input")
    def _input_changed(self) -> None:
        if self.start is None:
            return
        self._forget_quote()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(QUOTE_DELAY, self.request_quote)

    def _forget_quote(self) -> None:
        """The form changed: the quote on screen no longer matches it, so it cannot be
        confirmed until the new one arrives."""
        if self.quote is not None:
            self.quote = None
            self.refresh_bindings()

    def unchanged(self, request: tuple) -> bool:
        """The form says what the service already is: nothing to quote."""
        product, cycle, changes, promo = request
        service = self.start.service
        if (product, cycle) != (service.product_id, service.billing_cycle) or promo.strip():
            return False
        current = self.start.current_choices
        return all(changes[o.id] == current.get(o.id, o.default()) for o in self.options)

    LEAVE_TITLE = "Leave the upgrade?"
    LEAVE_TEXT = "The change you chose is not confirmed: it will be lost."
    LEAVE_YES = "discard it"

    @property
    def dirty(self) -> bool:
        """A change chosen and not confirmed yet."""
        if self.start is None or self.busy:
            return False
        try:
            return not self.unchanged(self.read_form())
        except ValidationError:
            return True  # something typed that is not even a number yet

    def action_requote(self) -> None:
        self.request_quote()

    def read_form(self) -> tuple:
        """(product id, cycle, config changes, promo code) as typed; a bad quantity raises
        ValidationError naming its option."""
        product = self.query_one("#new-product", Select).value
        cycle = self.query_one("#new-cycle", Select).value
        changes = {}
        for option in self.options:
            widget = self.query_one(f"#option-{option.id}")
            if option.option_type == "quantity":
                typed = widget.value if widget.value.strip() else "0"  # blank: none
                quantity = parse_whole_number(typed, f"option:{option.id}")
                choice = option.choices[0][0] if option.choices else None
                changes[option.id] = OptionChoice(choice, quantity)
            elif option.option_type == "yesno":
                yes = option.choices[0][0] if option.choices else None
                changes[option.id] = OptionChoice(yes if widget.value else None)
            else:
                value = widget.value
                changes[option.id] = OptionChoice(value if isinstance(value, int) else None)
        promo = self.query_one("#promo-code", Input).value
        return (product if isinstance(product, int) else None,
                cycle if isinstance(cycle, str) else "", changes, promo)

    def request_quote(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.start is None:
            return
        self._clear_errors()
        try:
            request = self.read_form()
        except ValidationError as exc:
            self._show_error(exc)
            return
        if request[0] is not None and request[0] != self.options_product:
            return  # the new product's options are still loading; they ask again
        if self.unchanged(request):
            if self.quote_request is not None:  # (else it says so already)
                self.query_one("#upgrade-quote", Static).update(NOTHING_CHOSEN)
            self.quote, self.quote_request = None, None
            self.refresh_bindings()
            return
        self.quote_request = request
        self.quote = None
        self.refresh_bindings()
        self.query_one("#upgrade-state", Static).update("quoting…")
        self._quote(request)

    def _quote(self, request: tuple) -> None:
        product, cycle, changes, promo = request
        today, settings = self.app.clock.today(), self.app.settings
        run_in_background(
            self, lambda: upgrades.quote_upgrade(self.service_id, product, cycle, today,
                                                 settings, changes, promo),
            lambda quote: self._quoted(request, quote, None),
            lambda error: self._quoted(request, None, error), group="upgrade-quote")

    def _quoted(self, request: tuple, quote: Quote | None, error: Exception | None) -> None:
        if request is not self.quote_request:
            return  # an answer to an older form
        self.query_one("#upgrade-state", Static).update("")
        panel = self.query_one("#upgrade-quote", Static)
        if error is not None:
            self.quote = None
            shown_under_field = self._show_error(error)
            panel.update(Text.assemble(("No quote: ", "bold"),
                                       "see the field" if shown_under_field else str(error)))
        else:
            self.quote = quote
            panel.update(quote_text(quote, self.app.settings.currency))
        self.refresh_bindings()

    def _clear_errors(self) -> None:
        for widget in self.query(".field-error"):
            if widget.display:  # (a hidden one says nothing: left alone, no layout asked)
                widget.update("")
                widget.display = False

    def _show_error(self, exc: Exception) -> bool:
        """Show a refusal under the field it names; False when it names no field here."""
        field_name = getattr(exc, "field", None)
        if field_name:
            target = self.query(f"#{error_id(field_name)}")
            if target:
                line = target.first()
                line.update(Text(exc.message))
                line.display = True
                return True
        return False

    # --- confirming ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "confirm":
            if self.busy or self.quote is None or not has_permission(self.app.admin, UPGRADE_ORDERS):
                return None
            return True
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "confirm":
            if not has_permission(self.app.admin, UPGRADE_ORDERS):
                return needs_permission(UPGRADE_ORDERS)
            if self.busy:
                return "the upgrade order is being created"
            if self.quote is None:
                return "no quote yet: pick the new product and cycle"
        return super().why_greyed(action, parameters)

    def action_confirm(self) -> None:
        if self.quote is None or self.busy or self.quote_request is None:
            return
        self.busy = True
        self.refresh_bindings()
        self.query_one("#upgrade-state", Static).update("creating the upgrade order…")
        self._confirm(self.quote_request, self.quote.payable)

    def _confirm(self, request: tuple, payable) -> None:
        product, cycle, changes, promo = request
        admin, clock, settings = self.app.admin, self.app.clock, self.app.settings

        def confirm() -> tuple[upgrades.UpgradeOrder, list[str]]:
            made = upgrades.create_upgrade(
                self.service_id, product, cycle, clock.today(), settings, admin=admin,
                config_changes=changes, promo_code=promo, expected_payable=payable)
            # a downgrade is applied at once: its Change Package runs now
            jobs = run_queued_jobs(made.module_jobs, admin, clock=clock, settings=settings)
            return made, outcome_lines(jobs)

        run_in_background(self, confirm, lambda done: self._confirmed(*done),
                          self._refused, group="upgrade-confirm")

    def _refused(self, error: Exception) -> None:
        self.busy = False
        if self._show_error(error):  # bad input: under its field, nowhere else
            self.clear_status()
        else:
            self.say_error("Upgrade refused", error)
        self.refresh_bindings()

    def _confirmed(self, made: upgrades.UpgradeOrder, notes: list[str]) -> None:
        self.busy = False
        currency = self.app.settings.currency
        if made.invoice.status == "paid":
            text = (f"Upgrade order {made.order.number} applied at once (nothing to pay)"
                    + (f"; {format_money(made.quote.credit_to_client, currency)} credited to "
                       "the client" if made.quote.credit_to_client else ""))
        else:
            text = (f"Upgrade order {made.order.number}: invoice #{made.invoice.id} for "
                    f"{format_money(made.invoice.total, currency)}; the service changes when "
                    "it is paid")
        self.say_done(text + "".join(f"\n• {note}" for note in notes))
        self.app.switch_screen(InvoiceScreen(made.invoice.id))


def quote_text(quote: Quote, currency: str) -> Content:
    """The quote panel: every figure of rules §7 with where it came from."""

    def money(amount) -> str:
        return f"{format_money(amount, currency):>16}"

    rows: list[tuple[str, str, str]] = []
    days = quote.days_remaining
    one_period = days <= quote.old_period_days and days <= quote.new_period_days
    if quote.old_cycle is Cycle.FREE:
        rows.append(("Days", f"{days:>16}", "a new cycle starts today"))
    else:
        period = f"of {quote.old_period_days}"
        if quote.new_period_days != quote.old_period_days:
            period += f" (new cycle: {quote.new_period_days})"
        rows.append(("Days remaining", f"{days:>16}", period))
    credit_how = _how(quote.prorated_old, days, quote.old_period_days, one_period)
    charge_how = _how(quote.prorated_new, days, quote.new_period_days, one_period)
    rows.append(("Credit", money(-quote.credit), credit_how))
    rows.append(("Charge", money(quote.charge), charge_how))
    rows.append(("Promotion", money(-quote.discount), quote.promo_code or "no code"))
    rows.append(("Payable", money(quote.payable), "due today"))
    if quote.credit_to_client:
        rows.append(("Credit to client", money(quote.credit_to_client), "credit_on_downgrade"))
    rows.append(("New recurring", money(quote.new_amount), quote.new_cycle.label))
    if quote.new_next_due_date == quote.next_due_date:
        rows.append(("Next due date", f"{str(quote.new_next_due_date):>16}", "stays"))
    else:
        rows.append(("Next due date", f"{str(quote.new_next_due_date or '—'):>16}",
                     f"was {quote.next_due_date or '—'}"))
    parts: list = [(f"Quote on {quote.today}\n", "bold"), (quote.summary() + "\n", "bold")]
    for name, before, after in quote.option_changes:
        parts.append(f"  {name}: {after}\n" if before == "—" else f"  {name}: {before} → {after}\n")
    for label, value, how in rows:
        parts += [(f"{label:<17}", "bold" if label == "Payable" else ""), value,
                  (f"  {how}\n", "$text-muted")]
    for warning in quote.warnings:
        parts.append((f"⚠ {warning}\n", "bold $text-warning"))
    return Content.assemble(*parts)


def _how(amount, days: int, period_days: int, one_period: bool) -> str:
    """Where a prorated figure came from: `25.00 × 12/30`."""
    if not period_days:
        return "free: nothing to prorate"
    if one_period:
        return f"{amount} × {days}/{period_days}"
    return "each period's days at its own length"
