"""What the service page shows, as data and drawing helpers: the module-command and action
keys, the field layout, and the text of the header, the addon rows and the options line.
The screen (`service.py`) composes these; the dialogs are in `service_dialogs.py`."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable, Input, Select, Static

from hostdesk.models.cycles import Cycle
from hostdesk.models.money import format_money
from hostdesk.models.schema import ServiceStatus
from hostdesk.models.service_page import ServiceView
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.form import FormSection, label_content
from hostdesk.tui.widgets.cells import fit, status_look
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.widgets.payment_methods import method_choices
from hostdesk.tui.widgets.tick import Tick

# The command bar's commands, keys and questions: service_commands.py.

# The form in titled sections (name, label, widget kind), in two columns on a wide terminal
# (one under the other on a narrow one); tab goes down the left column, then the right.
SERVICE_FIELDS = (
    ("product", "Product", "select"),
    ("server", "Server", "select"),
    ("domain", "Domain", "input"),
    ("dedicated_ip", "Dedicated IP", "input"),
    ("username", "Username", "input"),
    ("password", "Password", "password"),
    ("status", "Status", "select"),
    ("registration_date", "Registration date", "input"),
    ("quantity", "Quantity", "input"),
    ("subscription_id", "Subscription id", "input"),
    ("admin_notes", "Admin notes", "input"),
)
BILLING_FIELDS = (
    ("first_payment_amount", "First payment", "input"),
    ("recurring_amount", "Recurring amount", "input"),
    ("billing_cycle", "Billing cycle", "select"),
    ("next_due_date", "Next due date", "input"),
    ("payment_method", "Payment method", "select"),
    ("promotion", "Promotion code", "input"),
)
# Not fields of the service: how the save treats the amounts and a new next due date.
SAVE_TICKS = (("auto-recalculate", "Auto recalculate on save"),
              ("create-prorata", "Create prorata invoice for a new next due date"))
SUSPENSION_FIELDS = (
    ("override_suspend_until", "Override suspend until", "input"),
    ("suspension_reason", "Suspension reason", "input"),
    ("auto_terminate_end_of_cycle", "Auto-terminate", "checkbox"),
    ("auto_terminate_reason", "Auto-terminate reason", "input"),
)
COLUMNS = (
    ("form-left", (("Service", SERVICE_FIELDS),)),
    ("form-right", (("Billing", BILLING_FIELDS), ("On save", SAVE_TICKS),
                    ("Suspension and termination", SUSPENSION_FIELDS))),
)
FIELDS = SERVICE_FIELDS + BILLING_FIELDS + SUSPENSION_FIELDS
PLACEHOLDERS = {
    "password": "unchanged (type a new one to set it)",
    "registration_date": "YYYY-MM-DD",
    "next_due_date": "YYYY-MM-DD",
    "override_suspend_until": "YYYY-MM-DD, never or 00/00/0000; empty: off",
    "promotion": "code (ctrl+o picks one)",
    "quantity": "1",
}
CYCLE_CHOICES = [(c.label, c.value) for c in Cycle]
STATUS_CHOICES = [(s.capitalize(), s) for s in ServiceStatus.ALL]



class AddonTable(DataTable):
    """The service's addons. Enter edits the highlighted one, d deletes it."""

    HELP_NAME = "the addons"
    HELP = "Enter edits the highlighted addon; d deletes it; a adds one."
    BINDINGS = [bind("delete", "screen.delete_addon", "Delete addon", also="delete",
                     id="addons.delete")]



LABEL_WIDTH = 24  # the columns left of the fields (the stylesheet's `.form-field` margin)


class LabelledSection(FormSection):
    """A section of the service page that draws its fields' labels itself, left of the
    fields, in the accent colour while the field has focus: no widget per label or per row
    (each widget costs its styling, layout and drawing when the page opens, issue 17)."""

    def __init__(self, title: str, labels: dict[str, str], *, id: str | None = None) -> None:
        super().__init__(title, id=id)
        self.labels = labels  # field widget id -> label

    def label_of(self, widget) -> str:
        return self.labels.get(widget.id or "", "")

    def render(self) -> Content:
        focused = self.screen.focused
        lines = []
        for child in self.children:
            if not child.display:
                continue
            label = self.labels.get(child.id or "", "")
            lines.append(label_content(label[:LABEL_WIDTH - 1], child is focused))
            # A field is one line; an explanation under it may wrap.
            lines.extend([Content("")] * (max(1, child.outer_size.height) - 1))
        return Content("\n").join(lines)

    def on_descendant_focus(self) -> None:
        self.refresh()

    def on_descendant_blur(self) -> None:
        self.refresh()


def status_text(status: str) -> Text:
    look = status_look(status)
    styles = {"active": "bold green", "pending": "bold yellow", "suspended": "bold dark_orange",
              "closed": "dim", "fraud": "bold red"}
    return Text(status.upper(), style=styles.get(look or "", "bold"))


def hidden_line(widget_id: str, classes: str) -> Static:
    line = Static("", id=widget_id, classes=classes)
    line.display = False
    return line


def field_widget(name: str, kind: str, values: dict[str, str] | None = None,
                 view: ServiceView | None = None):
    """The field's widget; with `values` (`form_values`) and `view`, holding the service's
    value already, so the page is drawn once with it."""
    widget_id = f"field-{name}"
    value = values.get(name, "") if values is not None else ""
    if kind == "select":
        choices = {"status": STATUS_CHOICES, "billing_cycle": CYCLE_CHOICES}.get(name, [])
        if view is not None and name in ("product", "server", "payment_method"):
            choices = {"product": view.products, "server": view.servers,
                       "payment_method": method_choices(view.payment_methods,
                                                        view.service.payment_method)}[name]
        chosen = Select.NULL
        if value:
            typed = int(value) if name in ("product", "server") else value
            chosen = typed if typed in {v for _, v in choices} else Select.NULL
        # Without the service (products, servers and payment methods arrive with it) the
        # lists start empty.
        return Dropdown(choices, id=widget_id, classes="form-field", compact=True, value=chosen,
                        allow_blank=name in ("product", "server", "payment_method")
                        or chosen is Select.NULL,
                        prompt="(none)" if name == "server" else "choose")
    if kind == "checkbox":
        return Tick("at the end of the cycle (reason below)", value == "yes", id=widget_id,
                    classes="form-field", compact=True)
    return Input(value, id=widget_id, classes="form-field", compact=True,
                 password=(kind == "password"),
                 placeholder=PLACEHOLDERS.get(name, ""))


def header_text(view: ServiceView, currency: str) -> Text:
    """Two lines (three with a notice): what the service is, whose, when due, which module."""
    service, client = view.service, view.client
    first = Text.assemble((f"#{service.id} ", "bold"), (service.domain or "no domain", "bold"),
                          f" · {view.product.name} · ", status_text(service.status),
                          f" · {format_money(service.recurring_amount, currency)} "
                          f"{Cycle(service.billing_cycle).label}")
    second = Text(f"Client #{client.id} {client.display_name} · next due "
                  f"{service.next_due_date or '—'} · module {view.product.module or 'none'}",
                  no_wrap=True, overflow="ellipsis")
    lines = [first, second]
    notes = []
    if view.open_request is not None:
        when = view.process_on or "the next daily run"
        notes.append(f"Cancellation request #{view.open_request.id} "
                     f"({view.open_request.type.replace('_', ' ')}) open: processed {when}")
    if service.auto_terminate_end_of_cycle:
        notes.append(f"Auto-terminates on {service.next_due_date or 'the next run'}")
    if service.status == ServiceStatus.SUSPENDED and service.suspension_reason:
        notes.append(f"Suspended: {service.suspension_reason}")
    if notes:
        lines.append(Text(" · ".join(notes), style="bold yellow"))
    return Text("\n").join(lines)


def addon_row(addon, currency: str) -> tuple[Text, ...]:
    return (Text(str(addon.id), justify="right"), Text(fit(addon.name, 30).rstrip()),
            Text(Cycle(addon.billing_cycle).label),
            Text(format_money(addon.recurring_amount, currency), justify="right"),
            status_text(addon.status), Text(str(addon.next_due_date or "—")))


def config_options_text(view: ServiceView) -> str:
    listed = (", ".join(f"{n}: {v}" for n, v in view.config_options)
              if view.config_options else "none")
    return f"Configurable options: {listed} (change them with U, upgrade/downgrade)"
