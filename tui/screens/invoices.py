"""Invoices: the list (filter by status, client, due date) and one invoice with its lines and
payments, where an admin records a payment, applies client credit, cancels the invoice, marks
a cancelled one unpaid again or removes a line.

Every rule is in `models.invoicing` / `models.upgrades`; this module asks them, in thread
workers, and shows the database's answer. After a payment, the module commands that payment
queued (provisioning, Change Package of a paid upgrade, unsuspension) are run at once when the
admin may perform server operations (WHMCS runs them on payment); otherwise the daily run does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Select, Static

from hostdesk.automation.provisioning.runner import outcome_lines, run_queued_jobs
from hostdesk.models import invoicing, upgrades
from hostdesk.models.clock import Clock
from hostdesk.models.errors import ValidationError
from hostdesk.models.invoice_view import (
    FilteredInvoiceSource,
    InvoiceFilter,
    InvoiceView,
    generate_due_for_client,
    load_invoice_view,
)
from hostdesk.models.money import format_money
from hostdesk.models.parsing import clean_text, parse_date, parse_int_id, parse_optional_date
from hostdesk.models.permissions import (
    GENERATE_DUE_INVOICES,
    MANAGE_INVOICES,
    has_permission,
    require,
)
from hostdesk.models.schema import Admin, InvoiceLine, InvoiceStatus
from hostdesk.models.settings import Settings
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.base import HostdeskScreen, needs_permission
from hostdesk.tui.screens.filtered_list import FilteredListScreen
from hostdesk.tui.screens.form import FieldRow
from hostdesk.tui.widgets.biglist import BigList
from hostdesk.tui.widgets.cells import fit, status_look
from hostdesk.tui.widgets.dialogs import AnswersOnce, ConfirmDialog, StyledOnce
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.widgets.key_footer import KeyFooter
from hostdesk.tui.widgets.payment_methods import method_choices


# --- what the screens read ------------------------------------------------------------------


def _money(amount: Decimal | None, currency: str) -> Text:
    return Text(format_money(amount if amount is not None else Decimal("0.00"), currency),
                justify="right")


def status_part(status: str) -> tuple[str, str]:
    """A status word in its colour (ux.md: one colour per status, everywhere)."""
    look = status_look(status)
    return status.upper(), f"bold $status-{look}" if look else "bold"


# --- dialogs ----------------------------------------------------------------------------------


class FormDialog(AnswersOnce, StyledOnce, ModalScreen[object], inherit_bindings=False):
    """A small form: inputs (or pickers) with a message line under each; ctrl+s submits in a
    worker.

    A refused submit keeps every typed value and shows the message under the field it names
    (or at the bottom). Subclasses give `FIELDS` and `submit(values) -> result`, and
    `CHOICES` for a field picked from a list instead of typed.
    """

    FIELDS: tuple[tuple[str, str], ...] = ()  # (field name, label)
    CHOICES: dict[str, list[tuple[str, str]]] = {}  # field name: its (label, value) choices
    TITLE = ""
    BINDINGS = [
        bind("save", "submit", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="form.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, id="form.previous"),
    ]

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__()
        self.initial = values
        self.working = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.TITLE, style="bold"), classes="dialog--title")
            for name, label in self.FIELDS:
                yield FieldRow(label, self._field(name))  # (the row draws the label)
                yield self._error_line(f"error-{name}")
            yield self._error_line("form-error")
            yield Static(Text.assemble(("ctrl+s", "bold"), " save   ", ("escape", "bold"),
                                       " cancel   ", ("tab", "bold"), " next field"),
                         classes="dialog--keys")

    def _field(self, name: str) -> Input | Select:
        value = self.initial.get(name, "")
        if name in self.CHOICES:
            choices = self.CHOICES[name]
            chosen = value if value in {v for _, v in choices} else Select.NULL
            return Dropdown(choices, value=chosen,
                            allow_blank=chosen == Select.NULL or not choices, prompt="choose",
                            id=f"field-{name}", classes="dialog--input", compact=True)
        return Input(value, id=f"field-{name}", classes="dialog--input", compact=True)

    def on_mount(self) -> None:
        self.query(".dialog--input").first().focus()

    @staticmethod
    def _error_line(widget_id: str) -> Static:
        line = Static("", id=widget_id, classes="field-error")
        line.display = False  # shown only while it has something to say
        return line

    def _say_error(self, widget_id: str, text) -> None:
        line = self.query_one(f"#{widget_id}", Static)
        line.update(text)
        line.display = bool(text)

    def values(self) -> dict[str, str]:
        values = {}
        for name, _ in self.FIELDS:
            value = self.query_one(f"#field-{name}").value
            values[name] = "" if value == Select.NULL else str(value)
        return values

    def action_cancel(self) -> None:
        if not self.working:
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.working:
            return
        self.working = True
        self._clear_errors()
        self._say_error("form-error", "working…")
        values = self.values()
        run_in_background(self, lambda: self.submit(values), self.dismiss, self._refused,
                          group="form-submit")

    def submit(self, values: dict[str, str]):  # pragma: no cover - every form overrides it
        raise NotImplementedError

    def _clear_errors(self) -> None:
        for widget in self.query(".field-error"):
            widget.update("")
            widget.display = False

    def _refused(self, exc: Exception) -> None:
        self.working = False
        self._say_error("form-error", "")
        field_name = getattr(exc, "field", None)
        known = field_name in {name for name, _ in self.FIELDS}
        if known:
            self._say_error(f"error-{field_name}", Text(exc.message))
            self.query_one(f"#field-{field_name}").focus()
        else:
            self._say_error("form-error", Text(str(exc)))


@dataclass
class ActionOutcome:
    """What an invoice action did, said once by the screen."""

    message: str
    severity: str = "information"
    notes: list[str] = field(default_factory=list)


class PaymentDialog(FormDialog):
    TITLE = "Add payment"
    FIELDS = (("amount", "Amount"), ("date", "Date (YYYY-MM-DD)"), ("method", "Payment method"),
              ("transaction_ref", "Transaction reference"))

    def __init__(self, view: InvoiceView, admin: Admin, clock: Clock, settings: Settings) -> None:
        super().__init__({"amount": f"{view.balance:.2f}", "date": clock.today().isoformat(),
                          "method": view.invoice.payment_method, "transaction_ref": ""})
        # The managed list; the invoice's own method stays offered when since disabled.
        self.CHOICES = {"method": method_choices(view.payment_methods,
                                                 view.invoice.payment_method)}
        self.TITLE = (f"Add payment to invoice #{view.invoice.id} (balance "
                      f"{format_money(view.balance, settings.currency)})")
        self.view, self.admin, self.clock, self.settings = view, admin, clock, settings

    def submit(self, values: dict[str, str]) -> ActionOutcome:
        require(self.admin, MANAGE_INVOICES)
        date = parse_date(values["date"], "date")
        method = values["method"]
        reference = clean_text(values["transaction_ref"], "transaction_ref", 200)
        result = invoicing.record_payment(self.view.invoice.id, values["amount"], date=date,
                                          method=method, transaction_ref=reference,
                                          admin=self.admin, today=self.clock.today(),
                                          settings=self.settings)
        if result.duplicate:
            return ActionOutcome(f"{method} transaction “{reference}” is already recorded on "
                                 f"invoice #{self.view.invoice.id}; nothing changed", "warning")
        return _payment_outcome(result, self.admin, self.clock, self.settings)


class CreditDialog(FormDialog):
    TITLE = "Apply client credit"
    FIELDS = (("amount", "Amount of credit to apply"),)

    def __init__(self, view: InvoiceView, admin: Admin, clock: Clock, settings: Settings) -> None:
        usable = min(view.client.credit, view.balance)
        super().__init__({"amount": f"{usable:.2f}"})
        currency = settings.currency
        self.TITLE = (f"Apply credit to invoice #{view.invoice.id} (client credit "
                      f"{format_money(view.client.credit, currency)}, balance "
                      f"{format_money(view.balance, currency)})")
        self.view, self.admin, self.clock, self.settings = view, admin, clock, settings

    def submit(self, values: dict[str, str]) -> ActionOutcome:
        require(self.admin, MANAGE_INVOICES)
        result = invoicing.apply_credit(self.view.invoice.id, values["amount"],
                                        admin=self.admin, today=self.clock.today(),
                                        settings=self.settings)
        return _payment_outcome(result, self.admin, self.clock, self.settings)


def _payment_outcome(result: invoicing.PaymentResult, admin: Admin, clock: Clock,
                     settings: Settings) -> ActionOutcome:
    currency = settings.currency
    invoice = result.invoice
    amount = result.payment.amount if result.payment else Decimal("0.00")
    text = f"Payment of {format_money(amount, currency)} recorded on invoice #{invoice.id}"
    if invoice.status == InvoiceStatus.PAID:
        text += f"; the invoice is paid ({len(result.applied_lines)} line(s) applied)"
    else:
        text += f"; balance {format_money(invoicing.balance(invoice), currency)}"
    if result.credited:
        text += f"; {format_money(result.credited, currency)} overpaid went to client credit"
    try:
        jobs = run_queued_jobs(result.module_jobs, admin,
                               clock=clock, settings=settings)
        notes = outcome_lines(jobs)
    except Exception as exc:  # the payment is recorded; the jobs stay queued for the daily run
        notes = [f"module commands were not run now ({type(exc).__name__}: {exc}); they wait "
                 "in the module queue"]
    return ActionOutcome(text, notes=notes)


# --- one invoice ------------------------------------------------------------------------------


class InvoiceScreen(HostdeskScreen):
    """One invoice: lines, totals, payments, and what an admin can do with it."""

    HELP = ("One invoice. `p` records a payment (amount, date, method, transaction reference); "
            "a partial payment leaves a balance, an overpayment becomes client credit. `c` pays "
            "from the client's credit. `x` cancels an unpaid invoice (its periods can be billed "
            "again), `u` marks a cancelled invoice unpaid again, `d` removes the highlighted "
            "line. Paying a line applies it once: a renewal moves the next due date, an "
            "upgrade changes the service and runs Change Package.")

    AUTO_FOCUS = "#invoice-lines"
    BINDINGS = [
        Binding("p", "add_payment", "Payment", tooltip="record a payment", id="invoice.payment"),
        Binding("c", "apply_credit", "Credit", tooltip="pay from the client's credit",
                id="invoice.credit"),
        Binding("x", "cancel_invoice", "Cancel", tooltip="cancel the invoice",
                id="invoice.cancel"),
        Binding("u", "mark_unpaid", "Unpaid", tooltip="mark a cancelled invoice unpaid again",
                id="invoice.reopen"),
        bind("delete", "remove_line", "Remove line", also="delete", tooltip="remove the highlighted line",
                id="invoice.remove_line"),
        bind("reload", "reload", "Reload", show=False, id="invoice.reload"),
    ]

    class Loaded(Message):
        def __init__(self, view: InvoiceView | None) -> None:
            super().__init__()
            self.view = view

    def __init__(self, invoice_id: int, data: InvoiceView | None = None) -> None:
        super().__init__()
        self.invoice_id = invoice_id
        self.preloaded = data  # read before the screen was pushed (`HostdeskApp.open_read`)
        self.view: InvoiceView | None = None
        self.busy = False

    @staticmethod
    def read(app, invoice_id: int) -> InvoiceView | None:
        return load_invoice_view(invoice_id)

    @property
    def currency(self) -> str:
        """The invoice's own currency: a later change of the setting never relabels it."""
        if self.view is not None and self.view.invoice.currency:
            return self.view.invoice.currency
        return self.app.settings.currency

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Invoice #{self.invoice_id}")
        yield Static("" if self.preloaded is not None else "loading…", id="invoice-summary")
        yield Label("Lines", classes="section-title")
        yield DataTable(id="invoice-lines", cursor_type="row", zebra_stripes=True)
        yield Label("Payments", classes="section-title")
        yield DataTable(id="invoice-payments", cursor_type="row", zebra_stripes=True)
        yield Static("", id="invoice-state", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        lines = self.query_one("#invoice-lines", DataTable)
        lines.add_column("Description", key="description")
        lines.add_column("Kind", key="kind")
        lines.add_column(Text("Amount", justify="right"), key="amount", width=16)
        payments = self.query_one("#invoice-payments", DataTable)
        payments.add_column("Date", key="date")
        payments.add_column("Method", key="method")
        payments.add_column("Reference", key="reference")
        payments.add_column(Text("Amount", justify="right"), key="amount", width=16)
        payments.add_column("By", key="by")
        if self.preloaded is not None:
            self.on_invoice_screen_loaded(self.Loaded(self.preloaded))  # before the 1st frame
        else:
            self.reload()

    def reread(self) -> None:
        if self.preloaded is not None:
            self.preloaded = None  # shown first: just read, nothing to read again
            return
        if self.view is not None:
            self.reload()

    # --- reading ----------------------------------------------------------------------

    def reload(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self.reload()

    def _load(self) -> None:
        invoice_id = self.invoice_id
        run_in_background(self, lambda: load_invoice_view(invoice_id),
                          lambda view: self.on_invoice_screen_loaded(self.Loaded(view)),
                          self._read_failed, group="invoice-load",
                          description="read the invoice")

    def _read_failed(self, error: Exception) -> None:
        self.query_one("#invoice-summary", Static).update(
            Text(f"Could not read invoice #{self.invoice_id}: {error}"))

    def on_invoice_screen_loaded(self, message: Loaded) -> None:
        self.view = message.view
        if self.view is None:
            self.query_one("#invoice-summary", Static).update(
                f"Invoice #{self.invoice_id} does not exist (any more).")
            self.refresh_bindings()
            return
        self._show_summary(self.view)
        self._show_lines(self.view)
        self._show_payments(self.view)
        self.refresh_bindings()

    def _show_summary(self, view: InvoiceView) -> None:
        invoice, currency = view.invoice, self.currency
        client = view.client
        first = [("Invoice ", "bold"), (f"#{invoice.id}", "bold"), "  ", status_part(invoice.status)]
        if view.order_number:
            first.append(f"   order {view.order_number}")
        if view.upgrade is not None:
            first.append(f"   upgrade #{view.upgrade.id} {view.upgrade.status}")
        third = [f"Date {invoice.date}   Due {invoice.due_date}   "
                 f"Paid {invoice.paid_date or '—'}   Method {invoice.payment_method}"]
        if invoice.status == InvoiceStatus.UNPAID and invoice.due_date < self.app.clock.today():
            third.append(("   OVERDUE", "bold $status-fraud"))
        fourth = [("Total ", "bold"), format_money(invoice.total, currency),
                  "   Paid ", format_money(invoice.amount_paid, currency),
                  ("   Balance ", "bold"), format_money(view.balance, currency)]
        if view.overpaid:
            fourth.append(f"   ({format_money(view.overpaid, currency)} overpaid, "
                          "added to client credit)")
        second = [f"Client #{client.id} {client.display_name}   credit "
                  f"{format_money(client.credit, currency)}"]
        self.query_one("#invoice-summary", Static).update(
            Content("\n").join(Content.assemble(*parts) for parts in (first, second, third, fourth)))

    def on_resize(self) -> None:
        if self.view is not None:
            self._show_lines(self.view)

    def _show_lines(self, view: InvoiceView) -> None:
        table = self.query_one("#invoice-lines", DataTable)
        cursor = table.cursor_row
        table.clear()
        # Kind and amount stay on screen at 80 columns: the description is cut to fit.
        width = max(16, self.size.width - 36)
        for line in view.lines:
            style = "dim strike" if line.cancelled else ""
            description = line.description + (" (removed)" if line.cancelled else "")
            table.add_row(Text(fit(description, width).rstrip(), style=style),
                          Text(line.kind, style=style),
                          Text(format_money(line.amount, self.currency), style=style,
                               justify="right"),
                          key=str(line.id))
        if view.lines:
            table.move_cursor(row=min(cursor, len(view.lines) - 1))

    def _show_payments(self, view: InvoiceView) -> None:
        table = self.query_one("#invoice-payments", DataTable)
        table.clear()
        for payment in view.payments:
            table.add_row(Text(str(payment.date)), Text(payment.method),
                          Text(payment.transaction_ref or "—"),
                          _money(payment.amount, self.currency), Text(payment.admin_login),
                          key=str(payment.id))
        state = self.query_one("#invoice-state", Static)
        state.update(f"{len(view.lines)} line(s) · {len(view.payments)} payment(s)"
                     if view.payments else f"{len(view.lines)} line(s) · no payments yet")

    # --- what applies now -------------------------------------------------------------

    def highlighted_line(self) -> InvoiceLine | None:
        if self.view is None or not self.view.lines:
            return None
        table = self.query_one("#invoice-lines", DataTable)
        row = table.cursor_row
        return self.view.lines[row] if 0 <= row < len(self.view.lines) else None

    INVOICE_ACTIONS = ("add_payment", "apply_credit", "cancel_invoice", "mark_unpaid",
                       "remove_line")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action not in self.INVOICE_ACTIONS:
            return super().check_action(action, parameters)
        return True if not self._why_not(action) else None

    def why_greyed(self, action: str, parameters: tuple) -> str:
        return self._why_not(action) or super().why_greyed(action, parameters)

    def _why_not(self, action: str) -> str:
        """Why an invoice action does not apply now ("" when it does)."""
        view = self.view
        if view is None:
            return "the invoice is not loaded yet"
        if self.busy:
            return "another change is on its way"
        if not has_permission(self.app.admin, MANAGE_INVOICES):
            return needs_permission(MANAGE_INVOICES)
        unpaid = view.status == InvoiceStatus.UNPAID
        if action == "mark_unpaid":
            return "" if view.status == InvoiceStatus.CANCELLED else "only a cancelled invoice"
        if not unpaid:
            return f"the invoice is {view.status}"
        if action == "apply_credit":
            if view.client.credit <= 0:
                return "the client has no credit"
            return "" if view.balance > 0 else "nothing is left to pay"
        if action == "cancel_invoice":
            return "" if view.invoice.amount_paid == 0 else "payments were recorded on it"
        if action == "remove_line":
            line = self.highlighted_line()
            if line is None:
                return "no line is highlighted"
            return "the line is already cancelled" if line.cancelled else ""
        return ""

    @on(DataTable.RowHighlighted, "#invoice-lines")
    def _line_moved(self) -> None:
        self.refresh_bindings()

    # --- actions --------------------------------------------------------------------------

    def _settings(self):
        return self.app.admin, self.app.clock, self.app.settings

    def action_add_payment(self) -> None:
        if self.view is not None:
            self.app.push_screen(PaymentDialog(self.view, *self._settings()), self._after_dialog)

    def action_apply_credit(self) -> None:
        if self.view is not None:
            self.app.push_screen(CreditDialog(self.view, *self._settings()), self._after_dialog)

    def _after_dialog(self, outcome: ActionOutcome | None) -> None:
        if outcome is not None:
            self._say(outcome)
        self.reload()

    def action_cancel_invoice(self) -> None:
        view = self.view
        if view is None:
            return
        live = sum(1 for line in view.lines if not line.cancelled)
        message = (f"Invoice #{view.invoice.id} of {view.client.display_name} "
                   f"({format_money(view.invoice.total, self.currency)}) becomes cancelled. Its "
                   f"{live} line(s) are cancelled, so their periods can be invoiced again.")
        if view.upgrade is not None and view.upgrade.status == upgrades.PENDING:
            message += f" Upgrade #{view.upgrade.id} is cancelled with it; the service stays as is."
        self._confirm("Cancel this invoice?", message, "cancel the invoice", self._cancel)

    def action_mark_unpaid(self) -> None:
        self._act(self._reopen)

    def action_remove_line(self) -> None:
        line = self.highlighted_line()
        view = self.view
        if line is None or view is None:
            return
        remaining = view.invoice.total - line.amount
        message = (f"Remove “{line.description}” ({format_money(line.amount, self.currency)}) "
                   f"from invoice #{view.invoice.id}? The total becomes "
                   f"{format_money(remaining, self.currency)}.")
        if not [other for other in view.lines if not other.cancelled and other.id != line.id]:
            message += " It is the last line: the invoice is cancelled."
        self._confirm("Remove this line?", message, "remove the line",
                      lambda: self._remove(line.id))

    def _confirm(self, title: str, message: str, yes: str, then) -> None:
        def answered(yes_please: bool | None) -> None:
            if yes_please:
                self._act(then)

        self.app.push_screen(ConfirmDialog(title, message, yes), answered)

    def _act(self, job) -> None:
        if self.busy:
            return
        self.busy = True
        self.refresh_bindings()
        self.query_one("#invoice-state", Static).update("working…")
        self._run_action(job)

    def _run_action(self, job) -> None:
        admin = self.app.admin

        def act() -> ActionOutcome:
            require(admin, MANAGE_INVOICES)
            return job()

        run_in_background(self, act, lambda outcome: self._action_done(outcome, None),
                          lambda error: self._action_done(None, error), group="invoice-action")

    def _action_done(self, outcome: ActionOutcome | None, error: Exception | None) -> None:
        self.busy = False
        if error is not None:
            self.say_error("Refused", error)
        elif outcome is not None:
            self._say(outcome)
        self.reload()

    def _say(self, outcome: ActionOutcome) -> None:
        text = outcome.message + "".join(f"\n• {note}" for note in outcome.notes)
        if outcome.severity == "error":
            self.say_error("Not everything worked", text)
        else:
            self.say_done(text, warning=outcome.severity == "warning")

    # the jobs, run in the worker (one transaction each)

    def _cancel(self) -> ActionOutcome:
        changed = invoicing.cancel_invoice(self.invoice_id, self.app.admin)
        extra = "".join(f"; upgrade #{u} cancelled" for u in changed.upgrades_cancelled)
        return ActionOutcome(f"Invoice #{self.invoice_id} cancelled{extra}")

    def _reopen(self) -> ActionOutcome:
        invoice = invoicing.reopen_invoice(self.invoice_id, self.app.admin)
        return ActionOutcome(f"Invoice #{self.invoice_id} is unpaid again "
                             f"({format_money(invoice.total, self.currency)})")

    def _remove(self, line_id: int) -> ActionOutcome:
        invoice = invoicing.remove_line(line_id, self.app.admin)
        if invoice.status == InvoiceStatus.CANCELLED:
            return ActionOutcome(f"Line removed; invoice #{invoice.id} had no line left and is "
                                 "cancelled")
        return ActionOutcome(f"Line removed; invoice #{invoice.id} total is now "
                             f"{format_money(invoice.total, self.currency)}")


# --- the list ----------------------------------------------------------------------------------


STATUS_CHOICES = [("Any status", ""), *((s.capitalize(), s) for s in InvoiceStatus.ALL)]


class InvoiceListScreen(FilteredListScreen):
    """Every invoice, newest first, filtered by status, client and due date."""

    HELP = ("Invoices, newest first. `f` moves to the filters (status, client #, due from/to); "
            "`/` searches by number or client name; enter opens an invoice. `G` generates the "
            "due invoices of the client you filtered by now (the daily run's code).")

    BINDINGS = [
        Binding("f", "filters", "Filters", id="invoices.filters"),
        Binding("G", "generate_due", "Generate due invoices", id="invoices.generate"),
    ]
    FILTER_TYPE = InvoiceFilter

    def __init__(self, client_id: int | None = None, status: str = "") -> None:
        super().__init__(BY_KEY["invoices"], FilteredInvoiceSource(),
                         InvoiceFilter(client_id=client_id, status=status))
        self.generating = False

    def compose_above_list(self) -> ComposeResult:
        with Horizontal(id="invoice-filters", classes="filter-bar"):
            yield Select(STATUS_CHOICES, value=self.initial.status, allow_blank=False,
                         id="filter-status", classes="filter-field", compact=True)
            yield Label("client #", classes="filter-label")
            yield Input(str(self.initial.client_id or ""), placeholder="any",
                        id="filter-client", classes="filter-field id-filter", compact=True)
            yield Label("due", classes="filter-label")
            yield Input("", placeholder="from YYYY-MM-DD", id="filter-due-from",
                        classes="filter-field", compact=True)
            yield Label("–", classes="filter-label")
            yield Input("", placeholder="to YYYY-MM-DD", id="filter-due-to",
                        classes="filter-field", compact=True)
        yield Static("", id="filter-error", classes="field-error")

    def read_filters(self) -> InvoiceFilter:
        """The filter bar as a filter; a bad value raises ValidationError naming its field."""
        status = self.query_one("#filter-status", Select).value
        client_text = self.query_one("#filter-client", Input).value.strip().lstrip("#")
        client_id = parse_int_id(client_text, "client") if client_text else None
        due_from = parse_optional_date(self.query_one("#filter-due-from", Input).value, "due from")
        due_to = parse_optional_date(self.query_one("#filter-due-to", Input).value, "due to")
        if due_from and due_to and due_to < due_from:
            raise ValidationError("due to", "is before “due from”")
        return replace(self.current_filter, status=status if isinstance(status, str) else "",
                       client_id=client_id, due_from=due_from, due_to=due_to)

    @on(BigList.Opened)
    def open_row(self, message: BigList.Opened) -> None:
        message.prevent_default()  # the invoice screen, not ListScreen's read-only detail
        self.app.open_record("invoices", message.row_id)

    # --- generate due invoices for one client ------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "generate_due":
            if self.generating or not has_permission(self.app.admin, GENERATE_DUE_INVOICES):
                return None
            return True
        return super().check_action(action, parameters)

    def action_generate_due(self) -> None:
        client_id = self.current_filter.client_id
        if not client_id:
            self.app.notify("Filter by a client first (`f`, then the client # field): due "
                            "invoices are generated for one client at a time.",
                            severity="warning")
            return
        self.generating = True
        self.refresh_bindings()
        self._generate(client_id)

    def _generate(self, client_id: int) -> None:
        today, settings, admin = self.app.clock.today(), self.app.settings, self.app.admin
        run_in_background(self, lambda: generate_due_for_client(client_id, today, settings,
                                                                admin=admin),
                          lambda result: self._generated(client_id, result),
                          lambda error: self._said("", str(error)), group="invoices-generate")

    def _generated(self, client_id: int, result) -> None:
        if result.failures:
            errors = "; ".join(f["error"] for f in result.failures)
            self._said("", f"could not generate: {errors}")
        elif result.invoices:
            self._said(f"{result.invoices} invoice(s) with {result.lines} line(s) generated for "
                       f"client #{client_id}, "
                       f"{format_money(result.amount, self.app.settings.currency)}")
        else:
            self._said(f"Nothing is due for client #{client_id}")

    def _said(self, text: str, error: str | None = None) -> None:
        self.generating = False
        self.refresh_bindings()
        if error:
            self.say_error("Refused", error)
        else:
            self.say_done(text)
        self.biglist.reload()
