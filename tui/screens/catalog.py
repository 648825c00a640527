"""Products and servers (issue 4): a list of each, and a settings screen for one record.

The rules (what a field may hold, secrets, locking, the log) are `models.catalog`'s; these
screens show the form, send what was typed, and show the errors under their fields.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static, TextArea

from hostdesk.automation.provisioning.registry import secret_settings
from hostdesk.automation.provisioning.runner import check_server_connection
from hostdesk.models import catalog
from hostdesk.models.errors import ValidationError, ValidationErrors

from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.screens.form import FormScreen, FormSection
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.key_footer import KeyFooter


class ProductListScreen(ListScreen):
    HELP = "Every product, newest first. Enter opens its settings (module, server, emails)."

    def __init__(self) -> None:
        super().__init__(BY_KEY["products"], catalog.ProductSource())

    def new_record_form(self):
        from hostdesk.models.permissions import MANAGE_CATALOG
        from hostdesk.tui.screens.catalog_setup import ProductFormScreen

        return ProductFormScreen, MANAGE_CATALOG

    def open_record(self, row_id: int) -> None:
        from hostdesk.tui.screens.catalog_setup import ProductFormScreen

        self.app.push_screen(ProductFormScreen(row_id))


class ServerListScreen(ListScreen):
    HELP = "Every server, newest first. Enter opens its settings; `t` there tests the connection."

    def __init__(self) -> None:
        super().__init__(BY_KEY["servers"], catalog.ServerSource())

    def new_record_form(self):
        from hostdesk.models.permissions import MANAGE_CATALOG
        from hostdesk.tui.screens.catalog_setup import NewServerScreen

        return NewServerScreen, MANAGE_CATALOG


# --- the settings forms ------------------------------------------------------------------------


class SettingsScreen(FormScreen):
    """One record's fields, one row each, with its error under it; ctrl+s saves."""

    BINDINGS = [bind("save", "save", "Save", priority=True, id="settings.save")]
    TITLE = ""
    FIELDS: tuple[tuple[str, str], ...] = ()  # (field, label)
    # (title, field names): a long form in titled sections; a field in none goes last.
    SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __init__(self, record_id: int) -> None:
        super().__init__()
        self.record_id = record_id
        self.form: catalog.Form | None = None
        self.modules = secret_settings()  # module name -> its secret settings
        self._as_loaded: dict | None = None  # what the form showed after the last load

    @property
    def heading(self) -> str:
        return f"{self.TITLE} #{self.record_id}"

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.heading)
        with VerticalScroll(id="settings-form"):
            labels = dict(self.FIELDS)
            placed = set()
            for title, names in self.SECTIONS:
                names = [name for name in names if name in labels]
                if names:
                    with FormSection(title):
                        yield from self._field_rows(names, labels)
                    placed.update(names)
            rest = [name for name, _ in self.FIELDS if name not in placed]
            if rest and placed:
                with FormSection("Other"):
                    yield from self._field_rows(rest, labels)
            else:
                yield from self._field_rows(rest, labels)
            yield from self.compose_below_fields()
        yield Static("loading…", id="settings-state", classes="status-line")
        yield KeyFooter()

    def _field_rows(self, names: list[str], labels: dict[str, str]) -> ComposeResult:
        for name in names:
            with Horizontal(classes="settings-row"):
                yield Label(labels[name])
                yield self.field_widget(name)
            yield Static("", id=f"error-{name}", classes="field-error")

    def compose_below_fields(self) -> ComposeResult:
        """More of the form under the one-line fields (a pricing table, a list)."""
        return iter(())

    def field_widget(self, name: str):
        return Input(id=f"field-{name}", compact=True)

    def module_select(self, name: str) -> Select:
        return Select([(m, m) for m in self.modules], allow_blank=False, id=f"field-{name}",
                      compact=True)

    def on_mount(self) -> None:
        self.load()

    def load(self) -> None:
        run_in_background(self, lambda: (self.read_form(), self.read_extra()), self._loaded,
                          self._not_loaded, group="settings-load")

    def read_form(self) -> catalog.Form:
        raise NotImplementedError

    def read_extra(self) -> dict:
        return {}

    def _not_loaded(self, error: Exception) -> None:
        self.query_one("#settings-state", Static).update(f"Cannot open: {error}")

    def _loaded(self, loaded: tuple[catalog.Form, dict]) -> None:
        form, extra = loaded
        self.form = form
        self.fill(extra)
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#field-{name}")
            value = form.values.get(name, "")
            if isinstance(widget, Select):
                widget.value = value if value else widget.value
            elif isinstance(widget, TextArea):
                widget.text = value
            else:
                widget.value = value
        self.show_more(form, extra)
        self._as_loaded = self.typed_values()
        self.query_one("#settings-state", Static).update(self.loaded_state(form))
        if self.focused is None or self.focused.id == "settings-form":
            self.query_one(f"#field-{self.FIELDS[0][0]}").focus()

    def loaded_state(self, form: catalog.Form) -> str:
        return f"version {form.version} · ctrl+s saves"

    def show_more(self, form: catalog.Form, extra: dict) -> None:
        """Fill what `compose_below_fields` added, from the loaded form."""

    @property
    def dirty(self) -> bool:
        return self._as_loaded is not None and self.typed_values() != self._as_loaded

    @property
    def LEAVE_TEXT(self) -> str:  # noqa: N802 - the name FormScreen reads
        return f"{self.heading} has changes that are not saved; they will be lost."

    def leave(self) -> None:
        self._as_loaded = None
        super().leave()

    def fill(self, extra: dict) -> None:
        """Set a Select's choices read from the database before the values go in."""

    def typed_values(self) -> dict[str, str]:
        values = {}
        for name, _ in self.FIELDS:
            widget = self.query_one(f"#field-{name}")
            if isinstance(widget, TextArea):
                values[name] = widget.text
            elif isinstance(widget, Select):
                values[name] = "" if widget.value is Select.NULL else str(widget.value)
            else:
                values[name] = widget.value
        return values

    def action_save(self) -> None:
        if self.form is None:
            return
        for line in self.query(".field-error"):
            line.update("")
            line.remove_class("-shown")
        self.query_one("#settings-state", Static).update("saving…")
        form = catalog.Form(self.form.record_id, self.form.version, self.typed_values())
        run_in_background(self, lambda: self.write(form), self._saved, self._refused,
                          group="settings-save")

    def write(self, form: catalog.Form) -> None:
        raise NotImplementedError

    def _say(self, field_name: str, message: str) -> bool:
        """The message under the field (hidden while there is none); a field of a table
        (`prices.monthly.price`) shows under the table. False: the form has no such field."""
        lines = self.query(f"#error-{field_name.split('.')[0]}")
        if not lines:
            return False
        line = lines.first()
        if message and "." in field_name:  # which cell of the table: "annually price: ..."
            message = f"{field_name.split('.', 1)[1].replace('.', ' ').replace('_', ' ')}: {message}"
        if message and line.has_class("-shown"):
            message = f"{line.said}\n{message}"  # several problems of one table
        line.said = message
        line.update(Text(message))
        line.set_class(bool(message), "-shown")
        return True

    def saved(self, result) -> None:
        """After a save that worked (a new record's form takes the id it was given)."""

    def refused(self, error: Exception) -> bool:
        """A subclass's own answer to a refusal (True: handled)."""
        return False

    def _saved(self, result) -> None:
        self.saved(result)
        self.say_done(f"{self.heading} saved")
        self._as_loaded = None
        self.load()

    def _refused(self, error: Exception) -> None:
        state = self.query_one("#settings-state", Static)
        if self.refused(error):
            return
        if isinstance(error, ValidationError):
            error = ValidationErrors([error])
        if isinstance(error, ValidationErrors):
            shown = [bad for bad in error.errors if self._say(bad.field, bad.message)]
            others = [f"{bad.field}: {bad.message}" for bad in error.errors if bad not in shown]
            state.update("Not saved: " + "; ".join(others or
                                                   [f"{len(error.errors)} field(s) to fix"]))
            if shown:
                widgets = self.query(f"#field-{shown[0].field.split('.')[0]}")
                if widgets:
                    widgets.first().focus()
        else:
            self.say_error("Not saved", error)


class ProductSettingsScreen(SettingsScreen):
    HELP = ("A product's settings. The module runs its commands for the product's services; "
            "module settings are key=value lines (keys with secret, password or token are "
            "stored encrypted and shown as [secret]). ctrl+s saves.")
    TITLE = "Product"
    FIELDS = (("name", "Name"), ("type", "Type"), ("module", "Module"), ("server", "Server"),
              ("auto_setup", "Auto setup"), ("welcome_email", "Welcome email"),
              ("upgrade_email", "Upgrade email"), ("termination_email", "Termination email"),
              ("auto_terminate_days", "Auto terminate days"),
              ("allows_quantity", "Allows quantity"), ("module_settings", "Module settings"))

    def field_widget(self, name: str):
        if name == "type":
            return Select([(t, t) for t in catalog.PRODUCT_TYPES], allow_blank=False, id="field-type",
                          compact=True)
        if name == "module":
            return self.module_select(name)
        if name == "server":
            return Select([], prompt="no server", id="field-server", compact=True)
        if name == "auto_setup":
            return Select([(a.replace("_", " "), a) for a in catalog.AUTO_SETUP_CHOICES],
                          allow_blank=False, id="field-auto_setup", compact=True)
        if name == "allows_quantity":
            return Select([("no", "no"), ("yes", "yes")], allow_blank=False,
                          id="field-allows_quantity", compact=True)
        if name == "module_settings":
            return TextArea(id="field-module_settings", soft_wrap=False)
        return super().field_widget(name)

    def read_form(self) -> catalog.Form:
        return catalog.product_form(self.record_id, self.modules)

    def read_extra(self) -> dict:
        return {"servers": catalog.server_choices()}

    def fill(self, extra: dict) -> None:
        self.query_one("#field-server", Select).set_options(
            [(label, str(server_id)) for label, server_id in extra["servers"]])

    def write(self, form: catalog.Form) -> None:
        catalog.save_product(form, admin=self.app.admin, modules=self.modules)


class ServerSettingsScreen(SettingsScreen):
    HELP = ("A server's settings: its module and the key=value settings the module needs "
            "(secrets stored encrypted). ctrl+s saves; `t` tests the connection as saved.")
    TITLE = "Server"
    FIELDS = (("name", "Name"), ("hostname", "Hostname"), ("ip_address", "IP address"),
              ("module", "Module"), ("active", "Active"), ("settings", "Settings"))
    BINDINGS = [Binding("t", "test_connection", "Test connection", id="server.test"),
                Binding("R", "retire", "Retire", id="server.retire")]

    def field_widget(self, name: str):
        if name == "module":
            return self.module_select(name)
        if name == "active":
            return Select([("yes", "yes"), ("no", "no")], allow_blank=False, id="field-active",
                          compact=True)
        if name == "settings":
            return TextArea(id="field-settings", soft_wrap=False)
        return super().field_widget(name)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("test_connection", "retire") and isinstance(self.focused,
                                                                 (Input, TextArea)):
            return False  # `t` is a letter there
        return super().check_action(action, parameters)

    def read_form(self) -> catalog.Form:
        return catalog.server_form(self.record_id, self.modules)

    def write(self, form: catalog.Form) -> None:
        catalog.save_server(form, admin=self.app.admin, modules=self.modules)

    def action_retire(self) -> None:
        """Retire (inactive: kept for its services, offered for nothing new) or bring back."""
        from hostdesk.tui.widgets.dialogs import ConfirmDialog

        if self.form is None or not self.form.record_id:
            return
        retire = self.form.values.get("active") == "yes"
        version = self.form.version

        def answered(yes: bool | None) -> None:
            if yes:
                self.save_retired(retire, version)

        self.app.push_screen(ConfirmDialog(
            f"Retire server #{self.record_id}?" if retire else
            f"Bring server #{self.record_id} back?",
            "Its services stay on it; nothing new is placed on it." if retire else
            "New products and services may use it again.",
            yes="Retire" if retire else "Bring back"), answered)

    def save_retired(self, retire: bool, version: int) -> None:
        admin = self.app.admin
        run_in_background(self, lambda: catalog.retire_server(
            self.record_id, version, admin=admin, retired=retire),
            lambda _: self._saved(None), self._refused, group="settings-save")

    def action_test_connection(self) -> None:
        self.query_one("#settings-state", Static).update("testing the connection…")
        admin = self.app.admin
        run_in_background(
            self, lambda: check_server_connection(self.record_id, admin=admin),
            lambda result: self._tested(
                f"Test connection {'succeeded' if result.success else 'failed'}: "
                f"{result.message}", result.success),
            lambda error: self._tested(f"Cannot test: {error}", False), group="server-test")

    def _tested(self, text: str, ok: bool) -> None:
        self.query_one("#settings-state", Static).update("")
        if ok:
            self.say_done(text)
        else:
            self.say_error("Test connection", text)
