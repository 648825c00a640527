"""The catalog setup screens (issue 15): the product editor (prices, configurable options,
upgrade paths), catalog addons, promotions, TLD prices, adding a server, payment methods.

Each form reads through a view function of `models/` and saves through its add/edit
function; every check is there, and its message shows under the field it names.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Select, Static, TextArea

from hostdesk.models import catalog, products
from hostdesk.models.catalog_addons import add_catalog_addon, addon_list, addon_view, edit_catalog_addon
from hostdesk.models.emails import list_templates
from hostdesk.models.errors import PermissionDenied
from hostdesk.models.payment_methods import (
    add_payment_method,
    edit_payment_method,
    list_payment_methods,
)
from hostdesk.models.promotion_setup import add_promotion, edit_promotion, promotion_list, promotion_view
from hostdesk.models.records import Form
from hostdesk.models.tlds import PRICE_FIELDS, add_tld, edit_tld, tld_list, tld_view
from hostdesk.models.upgrade_paths import list_upgrade_paths, remove_upgrade_path, set_upgrade_path
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.form import FormSection
from hostdesk.tui.screens.catalog import ProductSettingsScreen, ServerSettingsScreen
from hostdesk.tui.screens.setup_forms import (
    YES_NO,
    PricingTable,
    SetupFormScreen,
    SetupListScreen,
    needs,
    select,
)
from hostdesk.tui.widgets.dialogs import ConfirmDialog, FieldsDialog

EMAIL_FIELDS = ("welcome_email", "upgrade_email", "termination_email")


def price_summary(prices: dict) -> str:
    return ", ".join(f"{cycle} {entry['price']}" for cycle, entry in prices.items())


def template_choices(names: list[str], current: str) -> list[tuple[str, str]]:
    """The templates to pick from; a stored name no longer known stays pickable (and is
    refused by the save with its reason, rather than lost unseen)."""
    if current and current not in names:
        names = [*names, current]
    return [(name, name) for name in names]


def template_names() -> list[str]:
    return [t.name for t in list_templates()]


# --- products ------------------------------------------------------------------------------


class ProductFormScreen(SetupFormScreen, ProductSettingsScreen):
    HELP = ("A product: its settings, its pricing table (a price and a setup fee per billing "
            "cycle; a blank price means not offered), its configurable options (`o` adds one, "
            "enter on an option edits it, `d` deletes the highlighted option or upgrade path) "
            "and its upgrade paths (`u` adds one). Options and paths are saved at once; save "
            "the product's own fields first. ctrl+s saves; escape asks when something is not "
            "saved.")
    TITLE = "Product"
    WHAT = "product"
    FIELDS = (("name", "Name"), ("group_name", "Group"), ("type", "Type"),
              ("module", "Module"), ("server", "Server"), ("auto_setup", "Auto setup"),
              ("welcome_email", "Welcome email"), ("upgrade_email", "Upgrade email"),
              ("termination_email", "Termination email"),
              ("auto_terminate_days", "Auto terminate days"),
              ("allows_quantity", "Allows quantity"), ("hidden", "Hidden"),
              ("description", "Description"), ("module_settings", "Module settings"))
    SECTIONS = (("Product", ("name", "group_name", "type", "hidden", "description")),
                ("Provisioning", ("module", "server", "auto_setup", "auto_terminate_days",
                                  "allows_quantity", "module_settings")),
                ("Emails", ("welcome_email", "upgrade_email", "termination_email")))
    BINDINGS = [
        Binding("o", "add_option", "Add option", id="product.add_option"),
        Binding("u", "add_upgrade_path", "Add upgrade path", id="product.add_path"),
        bind("delete", "delete_row", "Delete option/path", id="product.delete_row"),
        Binding("R", "retire", "Retire", id="product.retire"),
    ]

    def __init__(self, record_id: int = 0) -> None:
        super().__init__(record_id)
        self.detail: products.ProductDetail | None = None

    def field_widget(self, name: str):
        if name in EMAIL_FIELDS:
            return select(name, [], blank="none")
        if name == "hidden":
            return select(name, YES_NO)
        if name == "description":
            return TextArea(id="field-description", soft_wrap=True)
        return super().field_widget(name)

    def compose_below_fields(self) -> ComposeResult:
        with FormSection("Pricing"):
            yield PricingTable("prices")
            yield Static("", id="error-prices", classes="field-error")
        with FormSection("Configurable options", id="section-options"):
            yield Label("o add · enter edit · d delete", classes="section-keys")
            yield DataTable(id="product-options", cursor_type="row")
            yield Static("", id="error-option", classes="field-error")
        with FormSection("Upgrade paths", id="section-paths"):
            yield Label("u add · d remove", classes="section-keys")
            yield DataTable(id="product-paths", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#product-options", DataTable).add_columns("Option", "Type", "Choices")
        self.query_one("#product-paths", DataTable).add_columns(
            "To product", "Cycles", "Client may upgrade")
        super().on_mount()

    def read_form(self) -> Form:
        if not self.record_id:
            self.detail = None
            return Form(0, 0, {"name": "", "group_name": "", "type": "shared", "module": "none",
                               "server": "", "auto_setup": catalog.DEFAULT_AUTO_SETUP,
                               "welcome_email": "", "upgrade_email": "",
                               "termination_email": "", "auto_terminate_days": "0",
                               "allows_quantity": "no", "hidden": "no", "description": "",
                               "module_settings": ""})
        self.detail = products.product_detail(self.record_id)
        values = dict(self.detail.values)
        values["server"] = str(self.detail.server_id or "")
        return Form(self.detail.id, self.detail.version, values)

    def read_extra(self) -> dict:
        extra = super().read_extra() | {"templates": template_names(), "paths": []}
        if self.record_id:
            try:
                extra["paths"] = list_upgrade_paths(self.record_id, admin=self.app.admin)
            except PermissionDenied:
                pass  # shown without paths; changing them says the permission
        return extra

    def fill(self, extra: dict) -> None:
        super().fill(extra)
        for name in EMAIL_FIELDS:
            self.query_one(f"#field-{name}", Select).set_options(
                template_choices(extra["templates"], self.form.values.get(name, "")))
        self.paths = extra["paths"]

    def show_more(self, form: Form, extra: dict) -> None:
        detail = self.detail
        self.query_one(PricingTable).show(detail.prices if detail else {})
        options = self.query_one("#product-options", DataTable)
        options.clear()
        for option in (detail.options if detail else ()):
            choices = ", ".join(f"{c.name} ({price_summary(c.prices)})" for c in option.choices)
            options.add_row(option.name, option.option_type, choices, key=str(option.id))
        paths = self.query_one("#product-paths", DataTable)
        paths.clear()
        for path in self.paths:
            paths.add_row(path.target_name,
                          ", ".join(c.value for c in path.cycles) or "every priced cycle",
                          "yes" if path.client_may_upgrade else "no", key=str(path.target_id))

    def loaded_state(self, form: Form) -> str:
        state = super().loaded_state(form)
        if self.detail is not None:
            retired = "retired (hidden from new orders) · " if self.detail.retired else ""
            state = f"{retired}{self.detail.services} service(s) · {state}"
        return state

    def typed_values(self) -> dict:
        values = super().typed_values()
        values["prices"] = self.query_one(PricingTable).typed()
        return values

    def add(self, values: dict):
        return products.add_product(values, admin=self.app.admin, modules=self.modules)

    def edit(self, record_id: int, version: int, values: dict):
        return products.edit_product(record_id, version, values, admin=self.app.admin,
                                     modules=self.modules)

    # --- options and paths: saved at once, each through its own function -------------------

    def _ready(self) -> bool:
        if self.detail is None:
            self.app.notify("Save the product first (ctrl+s).", severity="warning")
            return False
        if self.dirty:
            self.app.notify("Save or undo the product's changes first: the options and "
                            "upgrade paths are saved on their own.", severity="warning")
            return False
        return needs(self, self.PERMISSION)

    def _after_dialog(self, result) -> None:
        if result is not None:
            self.say_done(f"{self.heading} saved")
            self._as_loaded = None
            self.load()

    def action_add_option(self) -> None:
        if self._ready():
            self.app.push_screen(OptionDialog(self.detail, None), self._after_dialog)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "product-options" and self._ready():
            option = next(o for o in self.detail.options if str(o.id) == event.row_key.value)
            self.app.push_screen(OptionDialog(self.detail, option), self._after_dialog)

    def action_add_upgrade_path(self) -> None:
        if self._ready():
            self.app.push_screen(UpgradePathDialog(self.detail.id), self._after_dialog)

    def action_delete_row(self) -> None:
        table = self.focused
        if not isinstance(table, DataTable) or table.row_count == 0 or not self._ready():
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if table.id == "product-options":
            option = next(o for o in self.detail.options if str(o.id) == key)
            self.app.push_screen(ConfirmDialog(
                f"Delete the option {option.name}?",
                "It is refused while a service has it chosen.", yes="Delete"),
                lambda yes: yes and self.run_change(
                    lambda: products.delete_config_option(option.id, self.detail.version,
                                                          admin=self.app.admin)))
        elif table.id == "product-paths":
            self.app.push_screen(ConfirmDialog(
                "Remove this upgrade path?", "Services may no longer move to that product.",
                yes="Remove"), lambda yes: yes and self.run_change(
                    lambda: remove_upgrade_path(self.detail.id, int(key),
                                                admin=self.app.admin)))

    def action_retire(self) -> None:
        if not self._ready():
            return
        retired = not self.detail.retired
        name = self.detail.values["name"]
        self.app.push_screen(ConfirmDialog(
            f"Retire {name}?" if retired else f"Offer {name} again?",
            "It is hidden from new orders; its services go on." if retired else
            "It can be ordered again.", yes="Retire" if retired else "Offer again"),
            lambda yes: yes and self.run_change(lambda: products.retire_product(
                self.detail.id, self.detail.version, admin=self.app.admin,
                retired=retired)))

    def run_change(self, change) -> None:
        """One action of the models on this product, then re-read it (errors: a dialog)."""
        from hostdesk.tui.widgets.dialogs import MessageDialog

        run_in_background(self, change, lambda _: self._after_dialog(True),
                          lambda error: self.app.push_screen(MessageDialog("Not done", str(error))),
                          group="product-change")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("add_option", "add_upgrade_path", "delete_row", "retire"):
            return self.detail is not None
        return super().check_action(action, parameters)


CHOICE_SLOTS = 3


class OptionDialog(FieldsDialog):
    """A configurable option with its choices, each priced per cycle (blank: not offered)."""

    TITLE = "Configurable option"
    INTRO = ("A dropdown has several choices; a quantity or yes/no option has one (its price). "
             "A choice left without a name is not saved.")

    def __init__(self, detail: products.ProductDetail, option: products.OptionView | None):
        super().__init__()
        self.detail, self.option = detail, option
        # Every choice it has, and room for one more.
        self.slots = max(CHOICE_SLOTS, len(option.choices) + 1 if option else 0)

    def fields(self) -> ComposeResult:
        option = self.option
        yield self.label("Name")
        yield Input(option.name if option else "", id="field-name", compact=True)
        yield self.error_line("name")
        yield self.label("Type")
        yield Select([(t, t) for t in catalog.OPTION_TYPES], allow_blank=False,
                     value=option.option_type if option else "dropdown",
                     id="field-option_type", compact=True)
        yield self.error_line("option_type")
        yield self.error_line("choices")
        with VerticalScroll(id="option-choices"):
            for slot in range(1, self.slots + 1):
                yield self.label(f"Choice {slot}: name, then its price per cycle")
                yield Input(id=f"choice{slot}-name", compact=True)
                yield PricingTable(f"choice{slot}")

    def on_mount(self) -> None:
        super().on_mount()
        for slot, choice in enumerate(self.option.choices if self.option else (), start=1):
            self.query_one(f"#choice{slot}-name", Input).value = choice.name
            self.query_one(f"#table-choice{slot}", PricingTable).show(choice.prices)

    def values(self) -> dict:
        """The fields and the choices typed (read here, on the UI thread)."""
        existing = list(self.option.choices) if self.option else []
        choices = []
        for slot in range(1, self.slots + 1):
            name = self.query_one(f"#choice{slot}-name", Input).value
            prices = self.query_one(f"#table-choice{slot}", PricingTable).typed()
            if not name.strip() and not prices:
                continue
            choice = {"name": name, "prices": prices}
            if slot <= len(existing):
                choice["id"] = existing[slot - 1].id
            choices.append(choice)
        values = super().values()
        return {"name": values["name"], "option_type": values["option_type"],
                "choices": choices}

    def submit(self, values: dict):
        if self.option is None:
            return products.add_config_option(self.detail.id, self.detail.version, values,
                                              admin=self.app.admin)
        return products.edit_config_option(self.option.id, self.detail.version, values,
                                           admin=self.app.admin)


class UpgradePathDialog(FieldsDialog):
    TITLE = "Upgrade path"
    INTRO = ("The product its services may change to, on which cycles (blank: every cycle the "
             "target is priced on), and whether a client may do it himself (the portal).")

    def __init__(self, product_id: int) -> None:
        super().__init__()
        self.product_id = product_id

    def fields(self) -> ComposeResult:
        yield self.label("To product")
        yield Select([], id="field-target", compact=True, prompt="choose a product")
        yield self.error_line("target")
        yield self.label("Cycles (comma separated)")
        yield Input(id="field-cycles", compact=True, placeholder="every priced cycle")
        yield self.error_line("cycles")
        yield self.label("Client may upgrade")
        yield Select(YES_NO, allow_blank=False, value="no", id="field-client_may_upgrade",
                     compact=True)
        yield self.error_line("client_may_upgrade")

    def on_mount(self) -> None:
        super().on_mount()
        self.load_products()

    def load_products(self) -> None:
        run_in_background(
            self, lambda: [(p.values["name"], p.id) for p in products.product_list(False)
                           if p.id != self.product_id],
            self.query_one("#field-target", Select).set_options, group="upgrade-targets")

    def submit(self, values: dict):
        from hostdesk.models.errors import ValidationError

        if not values["target"]:
            raise ValidationError("target", "choose the product to change to")
        return set_upgrade_path(self.product_id, int(values["target"]), cycles=values["cycles"],
                                client_may_upgrade=values["client_may_upgrade"] == "yes",
                                admin=self.app.admin)


# --- catalog addons ------------------------------------------------------------------------


class AddonFormScreen(SetupFormScreen):
    HELP = ("A catalog addon: its price per cycle, the products it applies to (names, comma "
            "separated; blank: every product), its auto-setup and module. ctrl+s saves.")
    TITLE = "Addon"
    WHAT = "addon"
    FIELDS = (("name", "Name"), ("description", "Description"), ("products", "Products"),
              ("auto_setup", "Auto setup"), ("module", "Module"),
              ("welcome_email", "Welcome email"))

    def field_widget(self, name: str):
        if name == "auto_setup":
            return select(name, [(a.replace("_", " "), a) for a in catalog.AUTO_SETUP_CHOICES])
        if name == "module":
            return self.module_select(name)
        if name == "welcome_email":
            return select(name, [], blank="none")
        return super().field_widget(name)

    SECTIONS = (("Addon", ("name", "description", "products")),
                ("Provisioning", ("auto_setup", "module", "welcome_email")))

    def compose_below_fields(self) -> ComposeResult:
        with FormSection("Pricing"):
            yield PricingTable("prices")
            yield Static("", id="error-prices", classes="field-error")

    def read_form(self) -> Form:
        self.view = addon_view(self.record_id) if self.record_id else None
        view = self.view
        if view is None:
            return Form(0, 0, {"name": "", "description": "", "products": "",
                               "auto_setup": "on_payment", "module": "none",
                               "welcome_email": ""})
        return Form(view.id, view.version, {
            "name": view.name, "description": view.description,
            "products": ", ".join(view.products), "auto_setup": view.auto_setup,
            "module": view.module, "welcome_email": view.welcome_email})

    def read_extra(self) -> dict:
        return {"templates": template_names()}

    def fill(self, extra: dict) -> None:
        self.query_one("#field-welcome_email", Select).set_options(
            template_choices(extra["templates"], self.form.values.get("welcome_email", "")))

    def show_more(self, form: Form, extra: dict) -> None:
        self.query_one(PricingTable).show(self.view.prices if self.view else {})

    def typed_values(self) -> dict:
        values = super().typed_values()
        values["prices"] = self.query_one(PricingTable).typed()
        return values

    def add(self, values: dict):
        return add_catalog_addon(values, admin=self.app.admin, modules=self.modules)

    def edit(self, record_id: int, version: int, values: dict):
        return edit_catalog_addon(record_id, version, values, admin=self.app.admin,
                                  modules=self.modules)


class AddonListScreen(SetupListScreen):
    HELP = "Catalog addons: enter edits one, `n` adds one."
    TITLE = "Addons"
    ONE = "addon"
    COLUMNS = ("Name", "Prices", "Products", "Services")

    def rows(self):
        return [(a.id, [a.name, price_summary(a.prices),
                        ", ".join(a.products) or "every product", a.services])
                for a in addon_list()]

    def form(self, key):
        return AddonFormScreen(int(key) if key else 0)


# --- promotions ----------------------------------------------------------------------------


class PromotionFormScreen(SetupFormScreen):
    HELP = ("A promotion code. Type: percentage, fixed amount, price override or free setup. "
            "Recurring: `first` (first invoice only), `always`, or the number of renewals "
            "discounted. Products and cycles: comma separated, blank for all. Dates as "
            "YYYY-MM-DD; maximum uses 0 = unlimited. ctrl+s saves.")
    TITLE = "Promotion"
    WHAT = "promotion"
    FIELDS = (("code", "Code"), ("type", "Type"), ("value", "Value"),
              ("recurring", "Recurring"), ("products", "Products"), ("cycles", "Cycles"),
              ("start_date", "Starts"), ("expiry_date", "Expires"), ("max_uses", "Maximum uses"),
              ("once_per_client", "Once per client"), ("notes", "Notes"))
    SECTIONS = (("Discount", ("code", "type", "value", "recurring")),
                ("Applies to", ("products", "cycles", "start_date", "expiry_date", "max_uses",
                                "once_per_client")),
                ("Notes", ("notes",)))

    def field_widget(self, name: str):
        if name == "type":
            return select(name, [(t.replace("_", " "), t) for t in catalog.PROMOTION_TYPES])
        if name == "once_per_client":
            return select(name, YES_NO)
        return super().field_widget(name)

    def read_form(self) -> Form:
        if not self.record_id:
            self.uses = None
            return Form(0, 0, {"code": "", "type": "percentage", "value": "",
                               "recurring": "first", "products": "", "cycles": "",
                               "start_date": "", "expiry_date": "", "max_uses": "0",
                               "once_per_client": "no", "notes": ""})
        view = promotion_view(self.record_id)
        self.uses = (view.uses, view.summary)
        return Form(view.id, view.version, dict(view.values))

    def loaded_state(self, form: Form) -> str:
        state = super().loaded_state(form)
        if self.uses:
            state = f"{self.uses[1]} · used {self.uses[0]} time(s) · {state}"
        return state

    def add(self, values: dict):
        return add_promotion(values, admin=self.app.admin)

    def edit(self, record_id: int, version: int, values: dict):
        return edit_promotion(record_id, version, values, admin=self.app.admin)


class PromotionListScreen(SetupListScreen):
    HELP = "Promotion codes with their uses so far: enter edits one, `n` adds one."
    TITLE = "Promotions"
    ONE = "promotion"
    COLUMNS = ("Code", "Discount", "Uses", "Expires")

    def rows(self):
        return [(p.id, [p.values["code"], p.summary, p.uses, p.values["expiry_date"] or "never"])
                for p in promotion_list()]

    def form(self, key):
        return PromotionFormScreen(int(key) if key else 0)


# --- TLDs ----------------------------------------------------------------------------------

YEARS = range(1, 11)
ACTIONS = ("register", "transfer", "renew")


class TldFormScreen(SetupFormScreen):
    HELP = ("A TLD's prices: register, transfer and renew for one year, and below them the "
            "price for N years where it is not N times one year (blank: N times). The domain "
            "addons are priced per year. ctrl+s saves.")
    TITLE = "TLD"
    WHAT = "TLD"
    FIELDS = (("name", "TLD (with its dot)"), ("register_price", "Register, 1 year"),
              ("transfer_price", "Transfer, 1 year"), ("renew_price", "Renew, 1 year"),
              ("min_years", "Minimum years"), ("max_years", "Maximum years"),
              ("epp_required", "EPP code for transfer"),
              ("dns_management_price", "DNS management"),
              ("email_forwarding_price", "Email forwarding"),
              ("id_protection_price", "ID protection"))
    SECTIONS = (("TLD", ("name", "min_years", "max_years", "epp_required")),
                ("Prices for one year", ("register_price", "transfer_price", "renew_price")),
                ("Domain addons, per year", ("dns_management_price", "email_forwarding_price",
                                             "id_protection_price")))

    def field_widget(self, name: str):
        if name == "epp_required":
            return select(name, YES_NO)
        return super().field_widget(name)

    def compose_below_fields(self) -> ComposeResult:
        with FormSection("Prices per number of years", id="section-years"):
            yield Label("blank: N x one year", classes="section-keys")
            with Vertical(id="tld-years", classes="year-table"):
                with Horizontal():
                    yield Label("years")
                    for action in ACTIONS:
                        yield Label(action)
                for years in YEARS:
                    with Horizontal():
                        yield Label(str(years))
                        for action in ACTIONS:
                            yield Input(id=f"years-{years}-{action}", compact=True)
            yield Static("", id="error-years", classes="field-error")

    def read_form(self) -> Form:
        if not self.record_id:
            self.years = {}
            return Form(0, 0, {"name": "", "min_years": "1", "max_years": "10",
                               "epp_required": "yes"} | {name: "" for name in PRICE_FIELDS})
        view = tld_view(self.record_id)
        self.years = view.years
        return Form(view.id, view.version, dict(view.values))

    def show_more(self, form: Form, extra: dict) -> None:
        for years in YEARS:
            for action in ACTIONS:
                self.query_one(f"#years-{years}-{action}", Input).value = \
                    self.years.get(years, {}).get(action, "")

    def typed_values(self) -> dict:
        values = super().typed_values()
        table = {}
        for years in YEARS:
            row = {a: self.query_one(f"#years-{years}-{a}", Input).value for a in ACTIONS}
            if any(v.strip() for v in row.values()):
                table[str(years)] = row
        values["years"] = table
        for name in ("dns_management_price", "email_forwarding_price", "id_protection_price"):
            values[name] = values[name] or "0"
        return values

    def add(self, values: dict):
        return add_tld(values, admin=self.app.admin)

    def edit(self, record_id: int, version: int, values: dict):
        return edit_tld(record_id, version, values, admin=self.app.admin)


class TldListScreen(SetupListScreen):
    HELP = "TLD prices: enter edits one, `n` adds one."
    TITLE = "TLDs"
    ONE = "TLD"
    MANY = "TLDs"
    COLUMNS = ("TLD", "Register", "Transfer", "Renew", "Domains")

    def rows(self):
        return [(t.id, [t.values["name"], t.values["register_price"],
                        t.values["transfer_price"], t.values["renew_price"], t.domains])
                for t in tld_list()]

    def form(self, key):
        return TldFormScreen(int(key) if key else 0)


# --- servers: adding one (editing is the server settings screen) ---------------------------


class NewServerScreen(SetupFormScreen, ServerSettingsScreen):
    HELP = ("A new server: name, hostname, IP address, its module and the key=value settings "
            "the module needs (secrets stored encrypted). ctrl+s adds it; it then opens in its "
            "settings screen, where `t` tests the connection and `active` no retires it.")
    TITLE = "Server"
    WHAT = "server"

    def read_form(self) -> Form:
        return Form(0, 0, {"name": "", "hostname": "", "ip_address": "", "module": "none",
                           "active": "yes", "settings": ""})

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("test_connection", "retire"):
            return False  # nothing saved to test or retire yet
        return super().check_action(action, parameters)

    def add(self, values: dict):
        return catalog.add_server(values, admin=self.app.admin, modules=self.modules)

    def saved(self, result) -> None:
        self._as_loaded = None
        self.app.switch_screen(ServerSettingsScreen(result.id))


# --- payment methods -----------------------------------------------------------------------


class PaymentMethodFormScreen(SetupFormScreen):
    HELP = ("A payment method of the list the order form, service page, invoices and mass "
            "update offer: its name (lowercase, like banktransfer), whether it is offered, and "
            "its place in the list. ctrl+s saves.")
    TITLE = "Payment method"
    WHAT = "payment method"
    FIELDS = (("name", "Name"), ("enabled", "Enabled"), ("sort_order", "Order"))

    def field_widget(self, name: str):
        if name == "enabled":
            return select(name, YES_NO)
        return super().field_widget(name)

    def read_form(self) -> Form:
        if not self.record_id:
            return Form(0, 0, {"name": "", "enabled": "yes", "sort_order": "0"})
        view = next(m for m in list_payment_methods() if m.id == self.record_id)
        return Form(view.id, view.version, {"name": view.name,
                                            "enabled": "yes" if view.enabled else "no",
                                            "sort_order": str(view.sort_order)})

    def add(self, values: dict):
        return add_payment_method(values, admin=self.app.admin)

    def edit(self, record_id: int, version: int, values: dict):
        return edit_payment_method(record_id, version, values, admin=self.app.admin)


class PaymentMethodListScreen(SetupListScreen):
    HELP = "Payment methods, in the order they are offered: enter edits one, `n` adds one."
    TITLE = "Payment methods"
    ONE = "payment method"
    COLUMNS = ("Name", "Enabled", "Order", "In use")

    def rows(self):
        return [(m.id, [m.name, "yes" if m.enabled else "no", m.sort_order, m.in_use])
                for m in list_payment_methods()]

    def form(self, key):
        return PaymentMethodFormScreen(int(key) if key else 0)
