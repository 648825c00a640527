"""The service page (rules §6, §8, §10): every field an admin edits, the module commands,
addons, move, delete, resend welcome, a cancellation request, and the upgrade screen.

Rules live in `models.services`, `models.cancellations`, `models.prorata` and the provisioning
runner; this module reads the service in a thread worker, asks them, and shows the database's
answer. A save names the version it opened: if another admin saved meanwhile the save is
refused and what was typed stays on screen.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, DataTable, Input, Label, Select, Static

from hostdesk.models import services
from hostdesk.models.errors import ConfirmationNeeded, HostdeskError, StaleRecordError
from hostdesk.models.listing import SOURCES
from hostdesk.models.permissions import (
    DELETE_SERVICES,
    EDIT_SERVICES,
    VIEW_SERVICES,
    has_permission,
)
from hostdesk.models.schema import ServiceAddon
from hostdesk.models.service_page import (
    ServiceView,
    form_values,
    load_service_view,
    save_service_page,
)
from hostdesk.tui.background import run_in_background
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.base import TitleBar, needs_permission
from hostdesk.tui.screens.form import FormScreen, FormSection
from hostdesk.tui.widgets.command_bar import BarCommand, CommandBar
from hostdesk.tui.widgets.dialogs import (
    ConfirmDialog,
    PromptDialog,
    TypedConfirmDialog,
    error_messages,
)
from hostdesk.tui.widgets.key_footer import KeyFooter
from hostdesk.tui.widgets.payment_methods import method_choices
from hostdesk.tui.widgets.tick import Tick
from hostdesk.tui.screens.service_dialogs import (
    AddAddonDialog,
    CancellationDialog,
    EditAddonDialog,
    MoveDialog,
    PromotionPicker,
)
from hostdesk.tui.screens.service_commands import (
    ACTIONS,
    BY_NAME,
    CUSTOM_KEYS,
    MODULE,
    MODULE_COMMANDS,
    PASSWORD,
    REASON,
    TYPED,
)
from hostdesk.tui.screens.service_view import (
    FIELDS,
    COLUMNS,
    SAVE_TICKS,
    AddonTable,
    LabelledSection,
    addon_row,
    config_options_text,
    field_widget,
    header_text,
    hidden_line,
)

# Reading and building the page ahead holds the UI thread for 150-200 ms (a key pressed then
# waits for it): done once the admin has stopped for this long.
BUILD_AHEAD_IDLE_SECONDS = 1.0


class ServiceScreen(FormScreen):
    """One service: its fields (ctrl+s saves), module commands, addons and actions."""

    BINDINGS = [
        bind("save", "save", "Save", tooltip="write the fields in one transaction",
             id="service.save"),
        bind("reload", "reload", "Reload", tooltip="discard unsaved edits and re-read",
             id="service.reload"),
        Binding("ctrl+o", "pick_promotion", "Pick promotion", show=False,
                id="service.pick_promotion"),
        *(Binding(command.key, f"module('{command.name}')", command.label, show=False,
                  id=f"service.{command.name}") for command in MODULE),
        *(Binding(key, f"custom({n})", f"Module command {key}", show=False,
                  id=f"service.custom{key}") for n, key in enumerate(CUSTOM_KEYS)),
        # `d` deletes, as on every screen (the table's key; on the addons, the addon).
        *(bind("delete", command.name, command.label, show=False, id=f"service.{command.name}")
          if command.name == "delete" else
          Binding(command.key, command.name, command.label, show=False,
                  id=f"service.{command.name}") for command in ACTIONS),
    ]

    def __init__(self, service_id: int, data: ServiceView | None = None) -> None:
        super().__init__()
        self.service_id = service_id
        self.preloaded = data  # read before the screen was pushed (`HostdeskApp.open_read`)
        self.view: ServiceView | None = None
        self.loaded_form: dict[str, str] = {}
        self.version: int | None = None
        self.running: str | None = None  # the module command on its way
        self.busy = False  # a save or another action on its way
        self._filling = False
        self._composed_with = data  # the fields hold its values from the start
        self._generation = 0  # which record's answers are wanted (`refill` moves it on)

    # --- layout ------------------------------------------------------------------------------

    @property
    def heading(self) -> str:
        return f"Service #{self.service_id}"

    @property
    def HELP(self) -> str:  # noqa: N802 - read by the help screen like the class attribute
        text = ("The service page. Letters run the commands on the bar while the bar or the "
                "addons have focus (tab moves into the fields, escape back out); alt and the "
                "letter in a section's title go to it (alt+o: the save options), ctrl+f finds "
                "any field by name. ctrl+s saves "
                "every field in one transaction; if someone else saved this service since you "
                "opened it, the save is refused and your typing stays. Override suspend until "
                "takes a date, `never` or `00/00/0000`. Tick “create prorata invoice” to "
                "bill a new next due date instead of moving it now.")
        reasons = self.query_one(CommandBar).reasons() if self.is_mounted else []
        if reasons:
            text += "\n\nGreyed now:\n" + "\n".join(f"• {label}: {why}" for label, why in reasons)
        return text

    def compose(self) -> ComposeResult:
        view = self.preloaded
        values = form_values(view.service, view.promotion_code) if view is not None else None
        yield self.title_bar(self.heading)
        yield Static(header_text(view, self.app.settings.currency) if view is not None
                     else "loading…", id="service-header")
        yield CommandBar(id="command-bar")
        yield Static("", id="service-state", classes="status-line")
        with VerticalScroll(id="service-body"):
            form = Horizontal(id="service-form")
            # Laid out for the terminal's width from the start (a change of layout after
            # the first frame left the fields drawn at their old width).
            form.styles.layout = self._form_layout(self.app.size.width)
            with form:
                for column, sections in COLUMNS:
                    with Vertical(id=column, classes="form-column"):
                        for title, fields in sections:
                            if fields is SAVE_TICKS:
                                with FormSection(title):
                                    for tick_id, label in SAVE_TICKS:
                                        yield Tick(label, False, id=tick_id, compact=True)
                                continue
                            with LabelledSection(title, {f"field-{name}": label
                                                         for name, label, _kind in fields}):
                                for name, label, kind in fields:
                                    yield field_widget(name, kind, values, view)
                                    if name not in ("first_payment_amount", "recurring_amount"):
                                        continue
                                    if view is None:
                                        yield hidden_line(f"how-{name}", "field-how")
                                    else:
                                        how = (view.recurring_how if name == "recurring_amount"
                                               else view.first_how)
                                        yield Static(Text(how), id=f"how-{name}",
                                                     classes="field-how")
            yield Static("", id="form-error", classes="field-error")
            yield Static(config_options_text(view) if view is not None else "",
                         id="config-options")
            with FormSection("Addons", id="section-addons"):
                yield Label("a adds · enter edits · d deletes", classes="section-keys")
                yield AddonTable(id="addons", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(AddonTable)
        for key, title in (("id", "ID"), ("name", "Addon"), ("cycle", "Cycle"),
                           ("amount", "Recurring"), ("status", "Status"), ("due", "Next due")):
            table.add_column(title, key=key)
        self.query_one(CommandBar).focus()
        if self.preloaded is not None:
            # Filled before the first frame: the page is drawn once, with the service.
            self._show_loaded(self.preloaded)
        else:
            self.load()

    @staticmethod
    def _form_layout(width: int) -> str:
        return "horizontal" if width >= 110 else "vertical"  # two columns, or one

    def on_resize(self) -> None:
        form = self.query_one("#service-form")
        layout = self._form_layout(self.size.width)
        if form.styles.layout.name != layout:
            form.styles.layout = layout

    def reread(self) -> None:
        if self.preloaded is not None:
            self.preloaded = None  # shown first: just read, nothing to read again
            return
        if self.view is not None:
            self.load()

    def refill(self, service_id: int, view: ServiceView) -> None:
        """Show `view`, just read, on this page built for another service before
        (`HostdeskApp.open_read` keeps it): as a page just opened, with nothing left of the
        service before (typing, errors, focus, scroll, answers still on their way)."""
        self._generation += 1
        self.workers.cancel_node(self)
        self.service_id = service_id
        self.preloaded = view  # (not read again as it is pushed)
        self.view = None
        self.loaded_form = {}
        self.version = None
        self.running = None
        self.busy = False
        self.query_one(TitleBar).set_title(self.heading)
        self.query_one("#service-state", Static).update("")
        self.query_one("#service-body", VerticalScroll).scroll_home(animate=False)
        self.query_one(AddonTable).move_cursor(row=0, animate=False)
        self.set_focus(self.query_one(CommandBar), scroll_visible=False)
        self._show_loaded(view)
        self.refilled()

    # --- reading -------------------------------------------------------------------------------

    def load(self) -> None:
        self._load()

    def action_reload(self) -> None:
        self._load(refill=True)

    @staticmethod
    def read(app, service_id: int) -> ServiceView | None:
        """What the page shows (in a worker, with a connection open): the view function's
        read and the module commands that apply for this admin."""
        from hostdesk.automation.provisioning.runner import command_availability, command_labels

        view = load_service_view(service_id, app.settings.currency)
        if view is not None:
            view.availability = command_availability(view.service, app.admin)
            view.labels = command_labels(view.service)
        return view

    @classmethod
    def build_ahead(cls, app, back_on=None) -> None:
        """Build the page once the app is idle after start-up, off the stack, with a service
        read for it (the newest), and keep it (`HostdeskApp.build_ahead`): the first service
        opened in a session then refills it, as every later one does (issue 17)."""
        if app.is_built_ahead(cls) or cls._building_ahead.get(app) \
                or not has_permission(app.admin, VIEW_SERVICES):
            return
        cls._building_ahead[app] = True

        def read() -> ServiceView | None:
            newest = SOURCES["services"](timezone=app.settings.timezone).page(None, 1)
            return cls.read(app, newest[0]["id"]) if newest else None

        def build(view: ServiceView | None) -> None:
            if view is not None and app.is_running and not app.is_built_ahead(cls):
                app.build_ahead(cls(view.service.id, view), keep=True)

        def start() -> None:
            if app.is_running and not app.is_built_ahead(cls):
                run_in_background(app, read, build,
                                  lambda _error: None,  # the first open then builds it
                                  group="service-ahead", description="read a service ahead")

        app.when_idle(start, BUILD_AHEAD_IDLE_SECONDS)

    _building_ahead: WeakKeyDictionary = WeakKeyDictionary()  # app -> started

    def _in_background(self, work, done, failed, **options) -> None:
        """`run_in_background` for the service shown now: an answer about the service shown
        before the page was refilled (a read, a save, a module command) is dropped, as it is
        for a page closed."""
        generation = self._generation

        def current(callback):
            return lambda value: callback(value) if generation == self._generation else None

        run_in_background(self, work, current(done), current(failed), **options)

    def _load(self, refill: bool = False) -> None:
        app, service_id = self.app, self.service_id
        self._in_background(lambda: self.read(app, service_id),
                            lambda view: self._show_loaded(view, refill=refill),
                            self._load_failed, group="service-load",
                            description="read the service")

    def _load_failed(self, error: Exception) -> None:
        self.query_one("#service-header", Static).update(
            Text(f"Could not read service #{self.service_id}: {error}"))

    def _show_loaded(self, view: ServiceView | None, *, refill: bool = False) -> None:
        if view is None:
            self.view = None
            self.query_one("#service-header", Static).update(
                f"Service #{self.service_id} does not exist (any more).")
            self._show_bar()
            self.refresh_bindings()
            return
        first = self.view is None
        keep_typing = not first and self.dirty and not refill
        composed_with_it = first and view is self._composed_with  # the fields hold it already
        self._composed_with = None
        self.view = view
        if not composed_with_it:  # (composed with the header and the explanations)
            self._show_header(view)
            self._show_explanations(view)
        self._show_addons(view)
        if keep_typing:
            # What was typed stays, with the version it was typed against: if the service
            # changed meanwhile, saving is refused rather than overwriting the change.
            state = self.query_one("#service-state", Static)
            if view.service.version != self.version and not str(state.render()).startswith(
                    "Not saved"):
                state.update("The service changed while you were editing; your edits are kept "
                             "(ctrl+r discards them and shows the stored values).")
        else:
            self._fill_form(view, set_widgets=not composed_with_it)
        self._show_bar()
        self.refresh_bindings()

    def _show_header(self, view: ServiceView) -> None:
        self.query_one("#service-header", Static).update(
            header_text(view, self.app.settings.currency))

    def _show_addons(self, view: ServiceView) -> None:
        table = self.query_one(AddonTable)
        cursor = table.cursor_row
        table.clear()
        currency = self.app.settings.currency
        for addon in view.addons:
            table.add_row(*addon_row(addon, currency), key=str(addon.id))
        if view.addons:
            table.move_cursor(row=min(cursor, len(view.addons) - 1))
        options = self.query_one("#config-options", Static)
        if str(options.content) != (text := config_options_text(view)):
            options.update(text)

    def _show_explanations(self, view: ServiceView) -> None:
        for name, how in (("recurring_amount", view.recurring_how),
                          ("first_payment_amount", view.first_how)):
            line = self.query_one(f"#how-{name}", Static)
            line.update(Text(how))
            line.display = True

    def _fill_form(self, view: ServiceView, *, set_widgets: bool = True) -> None:
        values = form_values(view.service, view.promotion_code)
        self._filling = set_widgets
        try:
            if set_widgets:
                self._set_fields(view, values)
        finally:
            self._filling = False
        self.loaded_form = values
        self.version = view.service.version
        self._clear_errors()

    def _set_fields(self, view: ServiceView, values: dict[str, str]) -> None:
        self.query_one("#field-product", Select).set_options(view.products)
        self.query_one("#field-server", Select).set_options(view.servers)
        self.query_one("#field-payment_method", Select).set_options(
            method_choices(view.payment_methods, view.service.payment_method))
        for name, _label, kind in FIELDS:
            widget = self.query_one(f"#field-{name}")
            value = values[name]
            if kind == "select":
                widget.value = (int(value) if name in ("product", "server") and value
                                else (value or Select.NULL))
            elif kind == "checkbox":
                widget.value = value == "yes"
            else:
                widget.value = value
        self.query_one("#auto-recalculate", Checkbox).value = False
        self.query_one("#create-prorata", Checkbox).value = False

    # --- the form ----------------------------------------------------------------------------

    def read_form(self) -> dict[str, str]:
        form = {}
        for name, _label, kind in FIELDS:
            widget = self.query_one(f"#field-{name}")
            if kind == "select":
                form[name] = "" if widget.value is Select.NULL else str(widget.value)
            elif kind == "checkbox":
                form[name] = "yes" if widget.value else "no"
            else:
                form[name] = widget.value
        return form

    def changed_fields(self) -> dict[str, str]:
        if not self.loaded_form:
            return {}
        return {k: v for k, v in self.read_form().items() if v != self.loaded_form.get(k)}

    @property
    def dirty(self) -> bool:
        return bool(self.changed_fields())

    def _clear_errors(self) -> None:
        for line in self.query(".field-error"):
            line.update("")
            if line.id != "form-error":
                line.display = False

    def _show_errors(self, exc: Exception) -> None:
        general, focused = [], False
        for field_name, message in error_messages(exc):
            line = self._error_line(field_name) if field_name else None
            if line is not None:
                line.update(Text(message))
                line.display = True
                if not focused:
                    self.query_one(f"#field-{field_name}").focus()
                    focused = True
            else:
                general.append(message if not field_name else f"{field_name}: {message}")
        self.query_one("#form-error", Static).update(Text("\n".join(general)))

    def _error_line(self, field_name: str) -> Static | None:
        """The line under a field that says what is wrong with it, mounted the first time it
        is needed (a page of hidden lines costs a fifth of the opening)."""
        found = self.query(f"#error-{field_name}")
        if found:
            return found.first()
        field = self.query(f"#field-{field_name}")
        if not field:
            return None
        row = field.first().parent
        line = Static("", id=f"error-{field_name}", classes="field-error")
        row.parent.mount(line, after=row)
        return line

    def action_save(self) -> None:
        if self.view is None or self.busy:
            return
        changed = self.changed_fields()
        recalc = self.query_one("#auto-recalculate", Checkbox).value
        prorata = self.query_one("#create-prorata", Checkbox).value
        if not changed and not recalc:
            self.say_status("Nothing changed: nothing to save.")
            return
        self._start_save(changed, recalc, prorata, confirmed=False)

    def _start_save(self, changed: dict[str, str], recalc: bool, prorata: bool, *,
                    confirmed: bool) -> None:
        self.busy = True
        self._clear_errors()
        self.query_one("#service-state", Static).update("saving…")
        self.refresh_bindings()
        self._save(changed, self.version, recalc, prorata, confirmed)

    def _save(self, changed: dict[str, str], version: int, recalc: bool, prorata: bool,
              confirmed: bool) -> None:
        service_id, admin = self.service_id, self.app.admin
        clock, settings = self.app.clock, self.app.settings
        self._in_background(
            lambda: save_service_page(service_id, version, changed, admin,
                                      clock=clock, settings=settings,
                                      auto_recalculate=recalc, create_prorata=prorata,
                                      confirm_far_ndd=confirmed),
            lambda saved: self._saved(saved.text, None),
            # the request goes with a refusal: sent again once a far date is confirmed
            lambda error: self._saved("", error, (changed, recalc, prorata)),
            group="service-save")

    def _ask_confirmation(self, error: ConfirmationNeeded, request: tuple) -> None:
        changed, recalc, prorata = request

        def answered(yes: bool | None) -> None:
            if yes:
                self._start_save(changed, recalc, prorata, confirmed=True)
            else:
                self.clear_status()
                self._show_errors(error)

        self.app.push_screen(ConfirmDialog("Save this next due date?", error.message,
                                           yes="save it"), answered)

    def _saved(self, text: str, error: Exception | None, request: tuple = ()) -> None:
        self.busy = False
        if isinstance(error, ConfirmationNeeded):
            self._ask_confirmation(error, request)
        elif error is None:
            self.say_done(text)
            self._load(refill=True)
        elif isinstance(error, StaleRecordError):
            self.say_error("Not saved", f"{error}. Your edits are still on the page; "
                                        "ctrl+r shows the stored values (and drops your edits).")
        elif isinstance(error, HostdeskError):
            self.clear_status()  # bad input: said under each field it names
            self._show_errors(error)
        else:
            self.say_error("Not saved", error)
        self.refresh_bindings()

    def action_pick_promotion(self) -> None:
        def chosen(code: str | None) -> None:
            if code is not None:
                self.query_one("#field-promotion", Input).value = code

        self.app.push_screen(PromotionPicker(self.app.settings.currency), chosen)

    LEAVE_TITLE = "Leave the service page?"
    LEAVE_TEXT = "Your edits are not saved: they will be lost."
    LEAVE_YES = "discard them"

    def action_back(self) -> None:
        focused = self.focused
        if focused is not None and any(node.id == "service-form" for node in focused.ancestors):
            self.query_one(CommandBar).focus()  # out of the fields first, keeping what was typed
            return
        super().action_back()  # asks first when an edit is not saved

    # --- which commands apply ------------------------------------------------------------------

    def _permission(self, permission: str) -> tuple[bool, str]:
        if has_permission(self.app.admin, permission):
            return True, ""
        return False, needs_permission(permission)

    def _module_state(self, command: str) -> tuple[bool, str]:
        view = self.view
        if view is None:
            return False, "the service is not loaded"
        if self.running is not None:
            label = view.labels.get(self.running, self.running)
            return False, f"{label} is running"
        return view.availability.get(command, (False, "the module has no such command"))

    def _action_state(self, action: str) -> tuple[bool, str]:
        view = self.view
        if view is None:
            return False, "the service is not loaded"
        if self.busy:
            return False, "another change is on its way"
        ok, why = self._permission(EDIT_SERVICES if action == "save"
                                   else BY_NAME[action].permission)
        if not ok:
            return ok, why
        if action == "delete" and self.running is not None:
            return False, "a module command is running"
        if action == "delete" and isinstance(self.focused, AddonTable):
            # `d` on the addons deletes an addon, never the service under them.
            return False, "the addons have focus: d deletes the highlighted addon"
        if action == "cancel_request":
            return view.cancellable
        return True, ""

    def custom_commands(self) -> list[str]:
        """The module's own commands, in its order (keys 1…9)."""
        if self.view is None:
            return []
        return [c for c in self.view.labels if c not in MODULE_COMMANDS][:len(CUSTOM_KEYS)]

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "module":
            return True if self._module_state(parameters[0])[0] else None
        if action == "custom":
            commands = self.custom_commands()
            index = parameters[0]
            if index >= len(commands):
                return False  # no such key for this module: hidden
            return True if self._module_state(commands[index])[0] else None
        if action in {command.name for command in ACTIONS} | {"save"}:
            return True if self._action_state(action)[0] else None
        if action == "delete_addon":
            return True if not self._why_not_delete_addon() else None
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "module":
            return self._module_state(parameters[0])[1]
        if action == "custom":
            commands = self.custom_commands()
            return self._module_state(commands[parameters[0]])[1] \
                if parameters[0] < len(commands) else ""
        if action == "delete_addon":
            return self._why_not_delete_addon()
        if action in {command.name for command in ACTIONS} | {"save"}:
            return self._action_state(action)[1]
        return super().why_greyed(action, parameters)

    def _why_not_delete_addon(self) -> str:
        if self.view is None or not self.view.addons:
            return "the service has no addons"
        if self.busy:
            return "another change is on its way"
        return self._permission(DELETE_SERVICES)[1]

    def _show_bar(self) -> None:
        bar = self.query_one(CommandBar)
        view = self.view
        if view is None:
            bar.show([])
            return
        module = []
        for command in MODULE:
            ok, why = self._module_state(command.name)
            module.append(BarCommand(command.key, view.labels.get(command.name, command.label),
                                     ok, why, running=self.running == command.name))
        for key, command in zip(CUSTOM_KEYS, self.custom_commands()):
            ok, why = self._module_state(command)
            module.append(BarCommand(key, view.labels.get(command, command), ok, why,
                                     running=self.running == command))
        actions = []
        for command in ACTIONS:
            ok, why = self._action_state(command.name)
            actions.append(BarCommand(command.key, command.label, ok, why))
        bar.show([("Module", module), ("Service", actions)])

    # --- module commands ------------------------------------------------------------------------

    def action_module(self, command: str) -> None:
        view = self.view
        if view is None or not self._module_state(command)[0]:
            return
        entry = BY_NAME[command]
        title, text = entry.question(**self._facts())
        if entry.asks == REASON:
            self.app.push_screen(PromptDialog(
                title, text, "Reason (leave blank for non-payment: it is unsuspended when paid)",
                yes=entry.answer),
                lambda reason: reason is not None and self._run_command(command, reason=reason))
        elif entry.asks == TYPED:
            self.app.push_screen(TypedConfirmDialog(title, text, self._typed_answers(),
                                                    entry.answer),
                                 lambda yes: yes and self._run_command(command))
        elif entry.asks == PASSWORD:
            self.app.push_screen(PromptDialog(
                title, text, "New password", yes=entry.answer, password=True, required=True),
                lambda password: password and self._run_command(command, new_password=password))
        else:
            self._run_command(command)

    def _facts(self) -> dict:
        """What the questions of service_commands.py name."""
        view = self.view
        service = view.service
        return dict(id=service.id, domain=service.domain or "no domain",
                    client=view.client.display_name, product=view.product.name,
                    addons=len(view.addons), user=service.username or "—")

    def _typed_answers(self) -> list[str]:
        return [str(self.view.service.id), self.view.service.domain]

    def action_custom(self, index: int) -> None:
        commands = self.custom_commands()
        if index < len(commands) and self._module_state(commands[index])[0]:
            self._run_command(commands[index])

    def _run_command(self, command: str, **arguments) -> None:
        if self.running is not None:
            return
        self.running = command
        label = self.view.labels.get(command, command) if self.view else command
        self.query_one("#service-state", Static).update(Text(f"{label} running…", style="bold"))
        self._show_bar()
        self.refresh_bindings()
        self._module_worker(command, arguments)

    def _module_worker(self, command: str, arguments: dict) -> None:
        from hostdesk.automation.provisioning.runner import run_command

        admin, clock, settings = self.app.admin, self.app.clock, self.app.settings
        service_id = self.service_id
        self._in_background(
            lambda: run_command(service_id, command, admin=admin, clock=clock,
                                settings=settings, source="admin", **arguments),
            lambda result: self._command_done(command, result, None),
            lambda error: self._command_done(command, None, error),
            group="module-command", exclusive=False)

    def _command_done(self, command: str, result, error: Exception | None) -> None:
        self.running = None
        label = self.view.labels.get(command, command) if self.view else command
        if error is not None:
            self.say_error(f"{label} refused", error)
        elif result.success:
            self.say_done(f"{label} succeeded" + (f": {result.message}"
                                                  if result.message else ""))
        else:
            self.say_error(f"{label} failed",
                           f"{result.message}\n\nThe service was not changed.")
        self._show_bar()
        self.refresh_bindings()
        self.load()

    # --- service actions ----------------------------------------------------------------------

    def action_upgrade(self) -> None:
        from hostdesk.tui.screens.upgrade import UpgradeScreen

        if self.view is not None:
            self.app.open_read(UpgradeScreen, self.service_id)

    def _after_dialog(self, text: str | None) -> None:
        if text:
            self.say_done(text)
        self.load()

    def action_move(self) -> None:
        if self.view is not None:
            self.app.push_screen(MoveDialog(self.view, self.app.admin), self._after_dialog)

    def action_add_addon(self) -> None:
        if self.view is not None:
            self.app.push_screen(AddAddonDialog(self.view, self.app.admin, self.app.clock.today()),
                                 self._after_dialog)

    def action_cancel_request(self) -> None:
        if self.view is not None:
            self.app.push_screen(CancellationDialog(self.view, self.app.admin, self.app.settings),
                                 self._after_dialog)

    def _highlighted_addon(self) -> ServiceAddon | None:
        if self.view is None or not self.view.addons:
            return None
        row = self.query_one(AddonTable).cursor_row
        return self.view.addons[row] if 0 <= row < len(self.view.addons) else None

    @on(DataTable.RowSelected, "#addons")
    def _edit_addon(self) -> None:
        addon = self._highlighted_addon()
        if addon is None:
            return
        if not has_permission(self.app.admin, EDIT_SERVICES):
            self.say_status(f"Edit addon: {needs_permission(EDIT_SERVICES)}", warning=True)
            return
        self.app.push_screen(EditAddonDialog(addon, self.app.admin), self._after_dialog)

    def action_delete_addon(self) -> None:
        addon = self._highlighted_addon()
        if addon is None:
            return
        self.app.push_screen(ConfirmDialog(
            "Delete this addon?",
            f"Addon #{addon.id} “{addon.name}” of service #{self.service_id} is deleted (its "
            "invoices stay). The record is kept in the activity log.",
            yes="delete it"),
            lambda yes: yes and self._act(lambda: self._delete_addon(addon.id)))

    def _delete_addon(self, addon_id: int) -> str:
        services.delete_addon(addon_id, self.app.admin)
        return f"Addon #{addon_id} deleted"

    def action_welcome(self) -> None:
        service_id = self.service_id  # (the job runs in a thread: named now)
        self._act(lambda: self._welcome(service_id))

    def _welcome(self, service_id: int) -> str:
        email = services.resend_welcome(service_id, self.app.admin,
                                        company_name=self.app.settings.company_name)
        return f"Welcome email queued again for {email}"

    def action_delete(self) -> None:
        view = self.view
        if view is None:
            return
        entry = BY_NAME["delete"]
        title, text = entry.question(**self._facts())
        self.app.push_screen(TypedConfirmDialog(title, text, self._typed_answers(), entry.answer),
                             lambda yes: yes and self._act(lambda: self._delete(view.service.id),
                                                           gone=True))

    def _delete(self, service_id: int) -> str:
        services.delete_service(service_id, self.app.admin)
        return (f"Service #{service_id} deleted; the server account was not touched and the "
                "record is in the activity log")

    def _act(self, job, *, gone: bool = False) -> None:
        if self.busy:
            return
        self.busy = True
        self.query_one("#service-state", Static).update("working…")
        self.refresh_bindings()
        self._action_worker(job, gone)

    def _action_worker(self, job, gone: bool) -> None:
        self._in_background(job, lambda text: self._action_done(text, None, gone),
                            lambda error: self._action_done("", error, False),
                            group="service-action")

    def _action_done(self, text: str, error: Exception | None, gone: bool) -> None:
        self.busy = False
        if error is not None:
            self.say_error("Refused", error)
        else:
            self.say_done(text)
            if gone:
                self.loaded_form = {}
                self.app.action_back()
                return
        self.refresh_bindings()
        self.load()
