"""Email templates (issue 15): the built-in templates with any override; edit the subject
and body with a live preview rendered against a real record; reset to the built-in.

Rendering, the checks (syntax, unknown variables) and the save are `models.emails`'.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label, Static, TextArea

from hostdesk.models.emails import get_template, list_templates, preview_template, reset_template, save_template
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.records import Form
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.form import FormSection
from hostdesk.tui.screens.setup_forms import SetupFormScreen, SetupListScreen, needs
from hostdesk.tui.widgets.dialogs import ConfirmDialog

PREVIEW_DELAY = 0.3  # seconds of quiet typing before the preview is rendered again


class TemplateFormScreen(SetupFormScreen):
    HELP = ("An email template: its subject and body (Jinja: {{ client.first_name }}, "
            "{{ invoice.total | money }}). The preview below renders what is typed, with sample "
            "values or against the record whose id you type (the service, invoice, order... "
            "the template is about); syntax errors and unknown variables show before saving. "
            "ctrl+s saves your version; ctrl+d resets it to the built-in.")
    TITLE = "Email template"
    WHAT = "email template"
    FIELDS = (("subject", "Subject"), ("body", "Body"))
    SECTIONS = (("Template", ("subject", "body")),)
    # Above the text fields' own ctrl+d: on this screen it always means reset.
    BINDINGS = [bind("delete", "reset", "Reset to built-in", form=True, priority=True,
                     id="template.reset")]

    def __init__(self, name: str) -> None:
        super().__init__(0)
        self.template_name = name
        self.info = None
        self._preview_timer: Timer | None = None

    @property
    def heading(self) -> str:
        return f"Email template {self.template_name}"

    def field_widget(self, name: str):
        if name == "body":
            return TextArea(id="field-body", soft_wrap=True)
        return super().field_widget(name)

    def compose_below_fields(self) -> ComposeResult:
        with FormSection("Preview"):
            with Horizontal(classes="settings-row"):
                yield Label("Preview with record #")
                yield Input(id="preview-record", placeholder="blank: sample values",
                            compact=True)
            yield Static("", id="error-record_id", classes="field-error")
            yield Static("", id="template-variables")
            yield Static("", id="template-preview")

    def read_form(self) -> Form:
        self.info = get_template(self.template_name)
        return Form(0, self.info.version, {"subject": self.info.subject, "body": self.info.body})

    def show_more(self, form: Form, extra: dict) -> None:
        names = ", ".join(name for name, _ in self.info.variables)
        self.query_one("#template-variables", Static).update(Text(
            f"{self.info.purpose} · variables: {names}", style="dim"))
        self.preview_soon()

    def loaded_state(self, form: Form) -> str:
        kind = (f"your version {form.version}" if self.info.customised
                else "the built-in (never edited)")
        return f"{kind} · ctrl+s saves · ctrl+d resets to the built-in"

    def write(self, form: Form):
        values = form.values
        return save_template(self.template_name, values["subject"], values["body"],
                             self.app.admin, form.version)

    # --- the live preview -------------------------------------------------------------------

    @on(Input.Changed)
    @on(TextArea.Changed)
    def preview_soon(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY, self._preview)

    def _preview(self) -> None:
        if self.info is None:
            return
        typed = self.typed_values()
        record = self.query_one("#preview-record", Input).value.strip()
        self.render_preview(typed["subject"], typed["body"], record)

    def render_preview(self, subject: str, body: str, record: str) -> None:
        def render() -> Text:
            if record and not record.isdigit():
                raise ValidationError("record_id", "is the id of a record (a number)")
            rendered = preview_template(self.template_name, subject, body,
                                        int(record) if record else None)
            text = Text()
            text.append("Subject: ", style="bold").append(rendered[0]).append("\n\n")
            return text.append(rendered[1])

        run_in_background(self, render, lambda text: self._previewed(text, None),
                          self._not_previewed, group="template-preview")

    def _not_previewed(self, error: Exception) -> None:
        if isinstance(error, ValidationErrors):
            self._previewed(Text(str(error)), error.errors[0])
        elif isinstance(error, ValidationError):
            self._previewed(Text(f"{error.field}: {error.message}"), error)
        else:
            self._previewed(Text(f"The preview cannot be rendered: {error}"), None)

    def _previewed(self, text: Text, error: ValidationError | None) -> None:
        for name in ("subject", "body", "record_id"):
            self._say(name, "")
        if error is not None:
            self._say(error.field, error.message)
            self.query_one("#template-preview", Static).update(
                Text("The preview cannot be rendered: fix the field marked above.",
                     style="bold"))
            return
        self.query_one("#template-preview", Static).update(text)

    # --- reset ------------------------------------------------------------------------------

    def action_reset(self) -> None:
        if self.info is None or not needs(self, self.PERMISSION):
            return
        if not self.info.customised:
            self.app.notify(f"{self.template_name} is the built-in already.")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.do_reset(self.info.version)

        self.app.push_screen(ConfirmDialog(
            f"Reset {self.template_name} to the built-in?",
            "Your version is deleted (it stays in the activity log).", yes="Reset"), answered)

    def do_reset(self, version: int) -> None:
        admin = self.app.admin
        run_in_background(self, lambda: reset_template(self.template_name, admin, version),
                          lambda _: self._saved(None), self._refused, group="template-reset")


class TemplateListScreen(SetupListScreen):
    HELP = ("The email templates: every built-in, edited or not, and your own extensions. "
            "Enter edits one (with a live preview).")
    TITLE = "Email templates"
    ONE = "email template"
    COLUMNS = ("Template", "Yours", "Subject")

    def rows(self):
        return [(t.name, [t.name, f"version {t.version}" if t.customised else "built-in",
                          t.subject]) for t in list_templates()]

    def action_new(self) -> None:
        self.app.notify("Templates are the built-ins: enter edits one (your version replaces "
                        "it until you reset it).")

    def form(self, key):
        return TemplateFormScreen(key)
