"""The service page's dialogs: move to another client, add and edit an addon, request a
cancellation, and pick a promotion code. Each submits through one function of `models/`."""

from __future__ import annotations

import pendulum
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from hostdesk.models import services
from hostdesk.models.cancellations import request_cancellation
from hostdesk.models.parsing import parse_int_id
from hostdesk.models.schema import Admin, ServiceAddon
from hostdesk.models.service_page import (
    ServiceView,
    addon_invoice_id,
    client_label,
    promotion_choices,
)
from hostdesk.models.settings import Settings
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.service_view import CYCLE_CHOICES
from hostdesk.tui.widgets.dialogs import AnswersOnce, FieldsDialog, StyledOnce
from hostdesk.tui.widgets.order_client_picker import ClientPicker
from hostdesk.tui.widgets.tick import Tick


class MoveDialog(FieldsDialog):
    TITLE = "Move the service to another client"

    def __init__(self, view: ServiceView, admin: Admin) -> None:
        super().__init__()
        self.view, self.admin = view, admin
        self.INTRO = (f"Service #{view.service.id} ({view.service.domain or 'no domain'}) of "
                      f"{view.client.display_name} (#{view.client.id}). Its invoices stay with "
                      "the current client.")

    def fields(self) -> ComposeResult:
        yield self.label("New owner: type a name, email or #id, then pick with ↑/↓ and enter")
        yield ClientPicker(id="move-client")
        yield self.error_line("client")
        yield Tick(f"Cancel the current client's {self.view.unpaid_lines} unpaid invoice "
                       "line(s) of this service and its addons", False,
                       id="field-cancel_old_unpaid", compact=True,
                       disabled=self.view.unpaid_lines == 0)

    def on_mount(self) -> None:
        self.query_one(ClientPicker).input.focus()

    def values(self) -> dict:
        values = super().values()
        picker = self.query_one(ClientPicker)
        values["client"] = str(picker.chosen.id) if picker.chosen else picker.input.value
        return values

    def submit(self, values: dict) -> str:
        target = parse_int_id(values["client"].strip().lstrip("#"), "client")
        moved = services.move_service(self.view.service.id, target, self.admin,
                                      cancel_old_unpaid=values["cancel_old_unpaid"])
        return f"Service #{moved.id} moved to {client_label(moved.client_id)}"


class AddAddonDialog(FieldsDialog):
    TITLE = "Add an addon"
    INTRO = ("Pick a catalog addon (its price and cycle; choose a cycle when it has several) "
             "or “custom” and type the name, price and cycle.")

    def __init__(self, view: ServiceView, admin: Admin, today: pendulum.Date) -> None:
        super().__init__()
        self.view, self.admin, self.today = view, admin, today

    def fields(self) -> ComposeResult:
        choices = [("Custom addon (name, price, cycle below)", 0), *self.view.catalog_addons]
        yield self.label("Addon")
        yield Select(choices, value=0, allow_blank=False, id="field-catalog", compact=True)
        yield self.error_line("addon")
        yield self.label("Name (custom)")
        yield Input("", id="field-name", compact=True, classes="dialog--input")
        yield self.error_line("name")
        yield self.label("Price per cycle (custom)")
        yield Input("", id="field-price", compact=True, classes="dialog--input",
                    placeholder="e.g. 4.00")
        yield self.error_line("price")
        yield self.label("Billing cycle")
        yield Select(CYCLE_CHOICES, id="field-cycle", allow_blank=True, compact=True,
                     prompt="the catalog's (or choose)")
        yield self.error_line("cycle")
        yield Tick("Generate invoice", True, id="field-generate_invoice", compact=True)

    def submit(self, values: dict) -> str:
        catalog_id = values["catalog"] or None
        addon = services.add_addon(
            self.view.service.id, self.admin, self.today,
            catalog_addon_id=catalog_id, name=values["name"], price=values["price"],
            cycle=values["cycle"], generate_invoice=values["generate_invoice"])
        invoice_id = addon_invoice_id(addon.id)
        invoice = f"; invoice #{invoice_id}" if invoice_id else "; no invoice"
        return (f"Addon “{addon.name}” added ({addon.recurring_amount} {addon.billing_cycle})"
                f"{invoice}")


class EditAddonDialog(FieldsDialog):
    TITLE = "Edit the addon"
    ADDON_FIELDS = (("name", "Name"), ("recurring_amount", "Recurring amount"),
                    ("billing_cycle", "Billing cycle"), ("status", "Status"),
                    ("next_due_date", "Next due date (YYYY-MM-DD)"),
                    ("termination_date", "Termination date (only terminated/cancelled)"),
                    ("notes", "Notes"))

    def __init__(self, addon: ServiceAddon, admin: Admin) -> None:
        super().__init__()
        self.addon, self.admin = addon, admin
        self.initial = {
            "name": addon.name, "recurring_amount": str(addon.recurring_amount),
            "billing_cycle": addon.billing_cycle, "status": addon.status,
            "next_due_date": addon.next_due_date.isoformat() if addon.next_due_date else "",
            "termination_date": (addon.termination_date.isoformat()
                                 if addon.termination_date else ""),
            "notes": addon.notes,
        }

    def fields(self) -> ComposeResult:
        for name, label in self.ADDON_FIELDS:
            yield self.label(label)
            yield Input(self.initial[name], id=f"field-{name}", compact=True,
                        classes="dialog--input")
            yield self.error_line(name)

    def submit(self, values: dict) -> str | None:
        changed = {k: v for k, v in values.items() if v != self.initial[k]}
        if not changed:
            return None
        addon = services.edit_addon(self.addon.id, self.addon.version, changed,
                                    self.admin)
        return f"Addon #{addon.id} “{addon.name}” saved"


class CancellationDialog(FieldsDialog):
    TITLE = "Request cancellation"

    def __init__(self, view: ServiceView, admin: Admin, settings: Settings) -> None:
        super().__init__()
        self.view, self.admin, self.settings = view, admin, settings
        service = view.service
        self.INTRO = (f"Service #{service.id} ({service.domain or 'no domain'}) of "
                      f"{view.client.display_name}. Its {view.unpaid_lines} unpaid invoice "
                      "line(s) are cancelled now; the daily run cancels the service (end of "
                      f"period: on its next due date {service.next_due_date or '—'}).")

    def fields(self) -> ComposeResult:
        yield self.label("Type")
        yield Select([("End of billing period", "end_of_period"), ("Immediate", "immediate")],
                     value="end_of_period", allow_blank=False, id="field-type", compact=True)
        yield self.error_line("type")
        yield self.label("Reason")
        yield Input("", id="field-reason", compact=True, classes="dialog--input")
        yield self.error_line("reason")
        note = "" if self.view.domain_record else " (no domain record of this client matches)"
        yield Tick(f"Turn off the domain's auto-renew{note}", False,
                       id="field-disable_domain_auto_renew", compact=True)

    def submit(self, values: dict) -> str:
        request = request_cancellation(
            self.view.service.id, values["type"], values["reason"], admin=self.admin,
            disable_domain_auto_renew=values["disable_domain_auto_renew"],
            admin_notice_email=self.settings.admin_notice_email,
            company_name=self.settings.company_name)
        return (f"Cancellation request #{request.id} ({request.type.replace('_', ' ')}) filed "
                f"for service #{self.view.service.id}")


class PromotionPicker(AnswersOnce, StyledOnce, ModalScreen[str | None], inherit_bindings=False):
    """The promotion codes (at most 200, newest first); enter takes one."""

    BINDINGS = [Binding("escape", "close", "Cancel", id="promotion_picker.close")]

    def __init__(self, currency: str) -> None:
        super().__init__()
        self.currency = currency
        self.codes: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Promotion codes (enter takes one, escape closes)", style="bold"))
            yield OptionList(Option("loading…", disabled=True), id="promotions", compact=True)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._load()

    def _load(self) -> None:
        run_in_background(self, lambda: promotion_choices(self.currency), self._loaded,
                          group="promotion-picker")

    def _loaded(self, rows: list[tuple[str, str]]) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        self.codes = [""] + [code for code, _ in rows]
        options.add_option(Option("(no promotion)"))
        options.add_options(Option(Text(label)) for _, label in rows)
        options.highlighted = 0

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option_index < len(self.codes):
            self.dismiss(self.codes[event.option_index])

    def action_close(self) -> None:
        self.dismiss(None)

