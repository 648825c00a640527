"""The client form (`n` on the clients list, `e` on a client's summary) and the client
groups (list and form). The checks are `models.clients`'."""

from __future__ import annotations

from textual.widgets import TextArea

from hostdesk.models import clients
from hostdesk.models.countries import COUNTRIES
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.permissions import MANAGE_CLIENTS
from hostdesk.models.records import Form
from hostdesk.models.schema import ClientStatus
from hostdesk.tui.screens.setup_forms import YES_NO, SetupFormScreen, SetupListScreen, select
from hostdesk.tui.widgets.dialogs import ConfirmDialog
from hostdesk.tui.widgets.payment_methods import method_choices

COUNTRY_CHOICES = sorted(((f"{name} ({code})", code) for code, name in COUNTRIES.items()),
                         key=lambda choice: choice[0])


class ClientFormScreen(SetupFormScreen):
    HELP = ("A client's details. The country list searches as you type (“united k”); the "
            "group and the default payment method come from their own lists. The credit "
            "balance moves only through invoices and credit. ctrl+s saves; escape asks first "
            "when something is not saved.")
    TITLE = "Client"
    WHAT = "client"
    PERMISSION = MANAGE_CLIENTS
    FIELDS = (("first_name", "First name"), ("last_name", "Last name"), ("company", "Company"),
              ("email", "Email"), ("phone", "Phone"), ("address", "Address"),
              ("address2", "Address line 2"), ("city", "City"), ("region", "Region"),
              ("postcode", "Postcode"), ("country", "Country"), ("tax_id", "Tax id"),
              ("group", "Client group"), ("separate_invoices", "Separate invoices"),
              ("default_payment_method", "Payment method"), ("status", "Status"),
              ("notes", "Admin notes"))
    SECTIONS = (("Name and contact", ("first_name", "last_name", "company", "email", "phone")),
                ("Address", ("address", "address2", "city", "region", "postcode", "country",
                             "tax_id")),
                ("Billing", ("group", "separate_invoices", "default_payment_method", "status")),
                ("Notes", ("notes",)))

    def __init__(self, record_id: int = 0) -> None:
        super().__init__(record_id)
        self.allow_duplicate_email = False

    def field_widget(self, name: str):
        if name == "country":
            return select(name, COUNTRY_CHOICES, blank="none")
        if name == "group":
            return select(name, [], blank="no group")
        if name == "separate_invoices":
            return select(name, YES_NO)
        if name == "default_payment_method":
            return select(name, [], blank="none")
        if name == "status":
            return select(name, [(s, s) for s in ClientStatus.ALL])
        if name == "notes":
            return TextArea(id="field-notes", soft_wrap=True)
        return super().field_widget(name)

    def read_form(self) -> Form:
        return clients.client_form(self.record_id or None)

    def read_extra(self) -> dict:
        extra = {"groups": [g.name for g in clients.client_groups()],
                 "methods": enabled_methods()}
        if self.record_id:
            extra["credit"] = clients.client_detail(self.record_id).credit
        return extra

    def fill(self, extra: dict) -> None:
        self.query_one("#field-group").set_options([(g, g) for g in extra["groups"]])
        current = self.form.values.get("default_payment_method") if self.form else ""
        self.query_one("#field-default_payment_method").set_options(
            method_choices(extra["methods"], current))
        self.credit = extra.get("credit")

    def loaded_state(self, form: Form) -> str:
        state = super().loaded_state(form)
        if getattr(self, "credit", None) is not None:
            state = f"credit balance {self.credit} (moved by invoices and credit only) · {state}"
        return state

    def add(self, values: dict):
        return clients.add_client(values, admin=self.app.admin,
                                  allow_duplicate_email=self.allow_duplicate_email)

    def edit(self, record_id: int, version: int, values: dict):
        return clients.edit_client(record_id, version, values, admin=self.app.admin,
                                   allow_duplicate_email=self.allow_duplicate_email)

    def saved(self, result) -> None:
        self.allow_duplicate_email = False
        super().saved(result)

    def refused(self, error: Exception) -> bool:
        if not isinstance(error, clients.DuplicateEmail):
            return False

        def answered(yes: bool | None) -> None:
            if yes:
                self.allow_duplicate_email = True
                self.action_save()
            else:
                self._say("email", error.message)

        self.query_one("#settings-state").update("Not saved: the email is in use")
        self.app.push_screen(ConfirmDialog(
            "Another client has this email — add anyway?",
            f"{error.message}.", yes="Add anyway"), answered)
        return True


class ClientGroupFormScreen(SetupFormScreen):
    HELP = "A client group: its name, and whether its clients get separate invoices."
    TITLE = "Client group"
    WHAT = "client group"
    PERMISSION = MANAGE_CLIENTS
    FIELDS = (("name", "Name"), ("separate_invoices", "Separate invoices"))

    def field_widget(self, name: str):
        if name == "separate_invoices":
            return select(name, YES_NO)
        return super().field_widget(name)

    def read_form(self) -> Form:
        if not self.record_id:
            return Form(0, 0, {"name": "", "separate_invoices": "no"})
        group = next(g for g in clients.client_groups() if g.id == self.record_id)
        return Form(group.id, group.version, {"name": group.name, "separate_invoices":
                                              "yes" if group.separate_invoices else "no"})

    def add(self, values: dict):
        return clients.add_client_group(values, admin=self.app.admin)

    def edit(self, record_id: int, version: int, values: dict):
        return clients.edit_client_group(record_id, version, values, admin=self.app.admin)


class ClientGroupListScreen(SetupListScreen):
    HELP = "Client groups: enter edits one, `n` adds one."
    TITLE = "Client groups"
    ONE = "client group"
    COLUMNS = ("Name", "Separate invoices", "Clients")
    PERMISSION = MANAGE_CLIENTS

    def rows(self):
        return [(g.id, [g.name, "yes" if g.separate_invoices else "no", g.clients])
                for g in clients.client_groups()]

    def form(self, key):
        return ClientGroupFormScreen(int(key) if key else 0)
