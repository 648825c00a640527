"""The dialog of one order line's extras: a Select per configurable option of its product and
a tick per catalog addon it may take. ctrl+s keeps them, escape leaves them as they were."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Label, Select, Static

from hostdesk.models.orders import LineChoices
from hostdesk.tui.keys import bind
from hostdesk.tui.widgets.dialogs import AnswersOnce
from hostdesk.tui.widgets.tick import Tick


@dataclass
class LineExtras:
    """What a line chose, with the words the line shows for it."""

    config_options: dict[int, int] = field(default_factory=dict)  # option id -> choice id
    addons: list[int] = field(default_factory=list)  # catalog addon ids
    text: str = ""


class LineExtrasDialog(AnswersOnce, ModalScreen[LineExtras | None], inherit_bindings=False):
    BINDINGS = [
        bind("save", "keep", "Keep", id="line_extras.keep"),
        Binding("escape", "cancel", "Cancel", id="line_extras.cancel"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="line_extras.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                id="line_extras.previous"),
    ]

    def __init__(self, product_name: str, choices: LineChoices, current: LineExtras) -> None:
        super().__init__()
        self.product_name, self.choices, self.current = product_name, choices, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"{self.product_name}: options and addons", style="bold"),
                         classes="dialog--title")
            for option in self.choices.options:
                with Horizontal(classes="dialog--row"):
                    yield Label(option.name, classes="dialog--label")
                    chosen = self.current.config_options.get(option.id, option.default().choice_id)
                    yield Select([(name, choice_id) for choice_id, name in option.choices],
                                 value=chosen if chosen is not None else Select.NULL,
                                 allow_blank=option.option_type != "dropdown",
                                 prompt="no", compact=True, id=f"option-{option.id}",
                                 classes="dialog--input")
            for label, addon_id in self.choices.addons:
                yield Tick(f"Addon: {label}", addon_id in self.current.addons,
                               id=f"addon-{addon_id}", compact=True)
            if not self.choices.options and not self.choices.addons:
                yield Static("This product has no configurable options and no addons.")
            yield Static(Text.assemble(("ctrl+s", "bold"), " keep   ",
                                       ("escape", "bold"), " cancel"), classes="dialog--keys")

    def action_keep(self) -> None:
        extras, words = LineExtras(), []
        for option in self.choices.options:
            value = self.query_one(f"#option-{option.id}", Select).value
            if value != Select.NULL:
                extras.config_options[option.id] = value
                words.append(f"{option.name}: {dict(option.choices)[value]}")
        for label, addon_id in self.choices.addons:
            if self.query_one(f"#addon-{addon_id}", Checkbox).value:
                extras.addons.append(addon_id)
                words.append(f"addon {label.split(' (')[0]}")
        extras.text = " · ".join(words)
        self.dismiss(extras)

    def action_cancel(self) -> None:
        self.dismiss(None)
