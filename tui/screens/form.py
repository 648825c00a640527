"""The one base of every editing screen (record forms, the order form, the service page).

What it gives each form, so that they all behave alike (ux.md, forms):
- escape never leaves unsaved changes without asking (`dirty` says whether there are any);
- `ctrl+f` finds a field or a section by name (`tui.widgets.field_finder`);
- titled sections (`FormSection`), numbered in screen order, `alt+1`…`alt+9` jump to one.

Focus is drawn by the stylesheet (the focused field and its label stand out) and ticks are
`tui.widgets.tick.Tick` (an empty box or a ✓, never told apart by colour alone).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import ScrollableContainer, Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, Label

from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.field_finder import FieldFinder, FinderEntry

SECTION_KEYS = 9


class FormSection(Vertical):
    """A titled part of a form; its number (and key, `alt+N`) is its place on the screen."""

    def __init__(self, title: str, *children: Widget, id: str | None = None,
                 classes: str = "") -> None:
        slug = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
        super().__init__(*children, id=id or f"section-{slug}",
                         classes=f"form-section {classes}".strip())
        self.title = title
        self.number = 0

    def on_mount(self) -> None:
        self.screen.call_after_refresh(self.screen_numbered)

    def screen_numbered(self) -> None:
        screen = self.screen
        if isinstance(screen, FormScreen):
            screen.number_sections()

    def show_number(self, number: int) -> None:
        self.number = number
        key = f" · alt+{number}" if number <= SECTION_KEYS else ""
        self.border_title = f" {number} {self.title}{key} "


def field_label(widget: Widget) -> str:
    """What a field is called on screen: a tick's own text, or the label in front of it."""
    if isinstance(widget, Checkbox):
        return str(widget.label)
    node = widget
    for _ in range(2):  # the field's row, or the row of the widget the field is part of
        parent = node.parent
        if parent is None or isinstance(parent, FormSection):
            break
        label = ""
        for sibling in parent.children:
            if sibling is node:
                break
            if isinstance(sibling, Label):
                label = str(sibling.content)
        if label:
            return label
        node = parent
    tooltip = widget.tooltip
    if isinstance(tooltip, str) and tooltip:
        return tooltip
    name = (widget.id or "").removeprefix("field-")
    return name.replace("_", " ").replace("-", " ")


class FormScreen(HostdeskScreen):
    """Base of the editing screens: see the module's docstring."""

    BINDINGS = [
        # Above the fields' own ctrl+f (delete a word): on a form it always finds a field.
        Binding("ctrl+f", "find_field", "Find field", priority=True, id="form.find_field"),
        *(Binding(f"alt+{n}", f"go_section({n})", f"Section {n}", show=False,
                  id=f"form.section_{n}") for n in range(1, SECTION_KEYS + 1)),
    ]
    LEAVE_TITLE = "Leave without saving?"
    LEAVE_TEXT = "The changes are not saved: they will be lost."
    LEAVE_YES = "Leave"

    @property
    def dirty(self) -> bool:
        """Whether leaving now would lose something typed."""
        return False

    @property
    def heading(self) -> str:
        return self.TITLE or "this form"

    # --- leaving ---------------------------------------------------------------------------

    def action_back(self) -> None:
        if not self.dirty:
            self.leave()
            return
        from hostdesk.tui.widgets.dialogs import ConfirmDialog

        def answered(leave: bool | None) -> None:
            if leave:
                self.leave()

        self.app.push_screen(ConfirmDialog(self.LEAVE_TITLE, self.LEAVE_TEXT,
                                           yes=self.LEAVE_YES), answered)

    def leave(self) -> None:
        """Go back, unsaved changes or not (they were asked about)."""
        super().action_back()

    # --- sections --------------------------------------------------------------------------

    def sections(self) -> list[FormSection]:
        return [section for section in self.query(FormSection) if section.display]

    def number_sections(self) -> None:
        for number, section in enumerate(self.sections(), start=1):
            section.show_number(number)

    def action_go_section(self, number: int) -> None:
        sections = self.sections()
        if not 1 <= number <= len(sections):
            self.notify(f"This form has {len(sections)} section(s).", severity="warning")
            return
        self.go_to(sections[number - 1])

    def go_to(self, target: Widget) -> None:
        """Focus a field, or the first field of a section, and bring it into view."""
        if not target.focusable:
            fields = [w for w in target.query("*") if w.focusable]
            if not fields:
                target.scroll_visible(top=True)
                return
            target.scroll_visible(top=True, animate=False)
            target = fields[0]
        target.focus()
        target.scroll_visible(animate=False)

    # --- the field finder ------------------------------------------------------------------

    def finder_fields(self) -> list[Widget]:
        """The fields the finder lists: every one that can take focus, in screen order."""
        return [widget for widget in self.focus_chain
                if widget.id and not isinstance(widget, ScrollableContainer)]

    def finder_entries(self) -> list[FinderEntry]:
        entries = []
        for section in self.sections():
            key = f" · alt+{section.number}" if section.number <= SECTION_KEYS else ""
            entries.append(FinderEntry(section.title, f"section {section.number}{key}",
                                       section.id, is_section=True))
        for widget in self.finder_fields():
            section = next((a for a in widget.ancestors if isinstance(a, FormSection)), None)
            entries.append(FinderEntry(field_label(widget), section.title if section else "",
                                       widget.id, also=widget.id.removeprefix("field-")))
        return entries

    def action_find_field(self) -> None:
        def chosen(target: str | None) -> None:
            if target:
                found = self.query(f"#{target}")
                if found:
                    self.go_to(found.first())

        self.app.push_screen(FieldFinder(self.heading, self.finder_entries()), chosen)

