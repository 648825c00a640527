"""Small modal dialogs the service page and the queues share.

- `MessageDialog`: an error or a result that needs reading; enter or escape closes it.
- `TypedConfirmDialog`: a destructive action on one record; the admin types its id (or its
  domain) to go ahead (ux.md: terminate and delete of a single service).
- `PromptDialog`: one line of text (a suspension reason, a new password).
- `ChoiceDialog`: a question with a few answers, each on its own key.
- `FieldsDialog`: a small form whose submit runs in a thread worker; a refusal keeps what
  was typed and shows each message under the field it names.

- `ConfirmDialog`: a plain yes/no question; `y` or enter does it, `n` or escape does not.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.await_complete import AwaitComplete
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Select, Static

from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background


def keys_line(*pairs: tuple[str, str]) -> Text:
    """`enter confirm   escape cancel` with the keys in bold."""
    text = Text()
    for key, what in pairs:
        if text:
            text.append("   ")
        text.append(key, style="bold").append(f" {what}")
    return text


def error_messages(exc: Exception) -> list[tuple[str | None, str]]:
    """(field or None, message) for every problem an exception carries."""
    if isinstance(exc, ValidationErrors):
        return [(e.field, e.message) for e in exc.errors]
    if isinstance(exc, ValidationError):
        return [(exc.field, exc.message)]
    return [(None, str(exc))]


class AnswersOnce:
    """For a modal screen: only a screen still on the stack answers. Keys typed together (a
    paste, a fast hand over a slow SSH link) reach a dialog before it is gone; Textual's
    `dismiss` pops whatever screen is on top, so a second answer closed the screen beneath
    it, or ended the app with an error when nothing was beneath."""

    def dismiss(self, result=None):
        if self not in self.app.screen_stack:  # answered already
            return AwaitComplete()
        return super().dismiss(result)


class StyledOnce:
    """For a screen or a dialog: Textual restyles a whole screen each time it comes on top;
    the first time, every widget was styled as it was mounted a moment ago, and doing it
    again doubles the styling work of opening it (issue 17)."""

    _shown_once = False

    def _on_screen_resume(self, event) -> None:
        # (Textual's own handler, in ModalScreen's bases, runs after this one.)
        if not self._shown_once:
            self._shown_once = True
            event.refresh_styles = False


class ConfirmDialog(AnswersOnce, StyledOnce, ModalScreen[bool], inherit_bindings=False):
    """Says what will happen; `y` or enter does it, `n` or escape does not."""

    KEYS_ANSWER_A_QUESTION = True  # y/n answer it, whatever `n` means on screens

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes") -> None:
        super().__init__()
        self._title, self._message, self._yes = title, message, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog--title")
            yield Static(Text(self._message), classes="dialog--body")
            yield Static(Text.assemble(("y", "bold"), f"/enter {self._yes}   ",
                                       ("n", "bold"), "/escape keep as is"),
                         classes="dialog--keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class MessageDialog(AnswersOnce, StyledOnce, ModalScreen[None], inherit_bindings=False):
    """Says something that needs reading (a module's error); enter or escape closes it."""

    BINDINGS = [Binding("enter,escape", "close", "Close", id="message.close")]

    def __init__(self, title: str, message: str, *, error: bool = True) -> None:
        super().__init__()
        self._title, self._message, self._error = title, message, error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            style = "bold red" if self._error else "bold"
            yield Static(Text(self._title, style=style), classes="dialog--title")
            with VerticalScroll(classes="field-row"):
                yield Static(Text(self._message), id="message-body")
            yield Static(keys_line(("enter", "close")), classes="dialog--keys")

    def action_close(self) -> None:
        self.dismiss(None)


class TypedConfirmDialog(AnswersOnce, StyledOnce, ModalScreen[bool], inherit_bindings=False):
    """A destructive action: nothing happens until one of `accepted` is typed exactly."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="typed_confirm.cancel")]

    def __init__(self, title: str, message: str, accepted: list[str], yes: str) -> None:
        super().__init__()
        self._title, self._message, self._yes = title, message, yes
        self.accepted = [a for a in accepted if a]

    def compose(self) -> ComposeResult:
        what = " or ".join(f"“{a}”" for a in self.accepted)
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog--title")
            yield Static(Text(self._message), classes="dialog--body")
            yield Static(Text(f"Type {what} to {self._yes}:"), classes="dialog--label")
            yield Input("", id="typed", classes="dialog--input", compact=True)
            yield Static("", id="typed-error", classes="field-error")
            yield Static(keys_line(("enter", self._yes), ("escape", "keep as is")),
                         classes="dialog--keys")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    @on(Input.Submitted, "#typed")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip() in self.accepted:
            self.dismiss(True)
        else:
            what = " or ".join(f"“{a}”" for a in self.accepted)
            self.query_one("#typed-error", Static).update(
                Text(f"That is not {what}; nothing was done."))

    def action_cancel(self) -> None:
        self.dismiss(False)


class PromptDialog(AnswersOnce, StyledOnce, ModalScreen[str | None], inherit_bindings=False):
    """One line of text. Enter gives it (blank allowed unless `required`), escape gives None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, message: str, label: str, *, yes: str = "go ahead",
                 password: bool = False, required: bool = False, initial: str = "",
                 placeholder: str = "") -> None:
        super().__init__()
        self._title, self._message, self._label, self._yes = title, message, label, yes
        self._password, self._required = password, required
        self._initial, self._placeholder = initial, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog--title")
            if self._message:
                yield Static(Text(self._message), classes="dialog--body")
            yield Static(Text(self._label), classes="dialog--label")
            yield Input(self._initial, id="prompt", classes="dialog--input", compact=True,
                        password=self._password, placeholder=self._placeholder)
            yield Static("", id="prompt-error", classes="field-error")
            yield Static(keys_line(("enter", self._yes), ("escape", "cancel")),
                         classes="dialog--keys")

    def on_mount(self) -> None:
        self.query_one("#prompt", Input).focus()

    @on(Input.Submitted, "#prompt")
    def _submitted(self, event: Input.Submitted) -> None:
        if self._required and not event.value.strip():
            self.query_one("#prompt-error", Static).update(f"{self._label} is required")
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(AnswersOnce, StyledOnce, ModalScreen[Any], inherit_bindings=False):
    """A question with a few answers: (key, what it does, value). Escape gives None."""

    BINDINGS = [Binding("escape", "choose(-1)", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, message: str, choices: list[tuple[str, str, Any]]) -> None:
        super().__init__()
        self._title, self._message, self.choices = title, message, choices
        for index, (key, what, _value) in enumerate(choices):
            self._bindings.bind(key, f"choose({index})", what)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self._title, style="bold"), classes="dialog--title")
            yield Static(Text(self._message), classes="dialog--body")
            yield Static(keys_line(*((key, what) for key, what, _ in self.choices),
                                   ("escape", "cancel")), classes="dialog--keys")

    def action_choose(self, index: int) -> None:
        self.dismiss(self.choices[index][2] if index >= 0 else None)


class FieldsDialog(AnswersOnce, StyledOnce, ModalScreen[object], inherit_bindings=False):
    """A small form. Subclasses yield their fields from `fields()` (each widget with the id
    `field-NAME`, followed by `self.error_line(NAME)`) and do the work in `submit(values)`,
    which runs in a thread worker with a database connection; its return value is what the
    dialog gives back. ctrl+s (or enter in the last field) submits, escape cancels.
    """

    TITLE = ""
    INTRO = ""
    BINDINGS = [
        bind("save", "submit", "Save", id="fields.save"),
        Binding("escape", "cancel", "Cancel", id="fields.cancel"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="fields.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                id="fields.previous"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.working = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.TITLE, style="bold"), classes="dialog--title")
            if self.INTRO:
                yield Static(Text(self.INTRO), classes="dialog--body")
            yield from self.fields()
            yield Static("", id="form-error", classes="field-error")
            yield Static(keys_line(("ctrl+s", "save"), ("escape", "cancel"),
                                   ("tab", "next field")), classes="dialog--keys")

    def fields(self) -> ComposeResult:  # pragma: no cover - every dialog overrides it
        return iter(())

    @staticmethod
    def label(text: str) -> Static:
        return Static(text, classes="dialog--label")

    @staticmethod
    def error_line(name: str) -> Static:
        return Static("", id=f"error-{name}", classes="field-error")

    def on_mount(self) -> None:
        focusable = [w for w in self.query("Input, Select, Checkbox") if w.focusable]
        if focusable:
            focusable[0].focus()

    def values(self) -> dict[str, Any]:
        """Every `field-NAME` widget's value: text, a Select's value ("" when blank), a tick."""
        result: dict[str, Any] = {}
        for widget in self.query("Input, Select, Checkbox"):
            if not (widget.id or "").startswith("field-"):
                continue
            name = widget.id.removeprefix("field-")
            if isinstance(widget, Select):
                result[name] = "" if widget.value is Select.NULL else widget.value
            elif isinstance(widget, Checkbox):
                result[name] = bool(widget.value)
            else:
                result[name] = widget.value
        return result

    @on(Input.Submitted)
    def _enter_in_field(self, event: Input.Submitted) -> None:
        inputs = [w for w in self.query(Input) if (w.id or "").startswith("field-")]
        if inputs and event.input is inputs[-1]:
            self.action_submit()

    def action_cancel(self) -> None:
        if not self.working:
            self.dismiss(None)

    def action_submit(self) -> None:
        if self.working:
            return
        self.working = True
        for widget in self.query(".field-error"):
            widget.update("")
        self.query_one("#form-error", Static).update("working…")
        values = self.values()
        run_in_background(self, lambda: self.submit(values), self.dismiss, self.refused,
                          group="fields-dialog")

    def submit(self, values: dict[str, Any]):  # pragma: no cover - every dialog overrides it
        raise NotImplementedError

    def refused(self, exc: Exception) -> None:
        """Each message under its field (the first such field gets focus), others at the end."""
        self.working = False
        general, focused = [], False
        for field_name, message in error_messages(exc):
            lines = self.query(f"#error-{field_name}") if field_name else None
            if lines:
                lines.first().update(Text(message))
                widgets = self.query(f"#field-{field_name}")
                if widgets and not focused:
                    widgets.first().focus()
                    focused = True
            else:
                general.append(f"{field_name}: {message}" if field_name else message)
        self.query_one("#form-error", Static).update(Text("\n".join(general)))
