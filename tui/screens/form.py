"""The one base of every editing screen (record forms, the order form, the service page).

What it gives each form, so that they all behave alike (ux.md, forms):
- escape never leaves unsaved changes without asking (`dirty` says whether there are any);
- `ctrl+f` finds a field or a section by name (`tui.widgets.field_finder`);
- titled sections (`FormSection`), each with its own key, `alt` and a letter of its title
  (`alt+b` Billing), shown in the title (alt and a digit does not reach the screen in every
  terminal: textual reads ESC 3 as `£`).

Focus is drawn by the stylesheet (the focused field and its label stand out) and ticks are
`tui.widgets.tick.Tick` (an empty box or a ✓, never told apart by colour alone).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Checkbox, Label

from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.field_finder import FieldFinder, FinderEntry


class FormSection(Vertical):
    """A titled part of a form; `alt` and a letter of its title go to its first field.

    While focus is inside it, its top rule and title take the accent colour (the stylesheet's
    `form-section--focused`), set on the section alone: a `:focus-within` rule would restyle
    every widget of the section at each focus move (issue 17)."""

    COMPONENT_CLASSES = {"form-section--focused"}

    def __init__(self, title: str, *children: Widget, id: str | None = None,
                 classes: str = "") -> None:
        slug = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
        super().__init__(*children, id=id or f"section-{slug}",
                         classes=f"form-section {classes}".strip())
        self.title = title
        self.key = ""  # `alt+b`, given by the screen
        self._lit = False

    def on_mount(self) -> None:
        # The whole form is in the DOM by now: every section takes its key at once.
        screen = self.screen
        if isinstance(screen, FormScreen) and not self.key:  # (not keyed with an earlier one)
            screen.key_sections()

    def label_of(self, widget: Widget) -> str:
        """The label this section draws for `widget` (none: each field has its own row)."""
        return ""

    def show_key(self, key: str) -> None:
        self.key = key
        self.border_title = f" {self.title} · {key} " if key else f" {self.title} "

    def on_descendant_focus(self) -> None:
        self._light(True)

    def on_descendant_blur(self) -> None:
        self._light(self.has_focus_within)

    def _light(self, lit: bool) -> None:
        if lit == self._lit:
            return
        self._lit = lit
        styles = self.styles
        if lit:
            color = self.get_component_styles("form-section--focused").color
            styles.border_top = ("solid", color)
            styles.border_title_color = color
        else:
            styles.clear_rule("border_top")
            styles.clear_rule("border_title_color")
            self.refresh()


def label_content(label: str, lit: bool) -> Content:
    """A field's label as its row or section draws it: in the accent colour while the field
    has focus, otherwise in the row's own colour (the stylesheet's: muted)."""
    return Content.styled(label, "bold $accent") if lit else Content(label)


class FieldRow(Horizontal):
    """One line of a form: the field's label, drawn by the row itself (in the accent colour
    while the field has focus), then the field, placed after the label by the stylesheet.

    A row may hold more fields, each with its own label (`labelled`): the row draws that label
    just before the field, in the gap the stylesheet leaves there (a margin).

    (A Label widget per field is one more widget per field to style and lay out when a long
    form opens, issue 17.)"""

    def __init__(self, label: str, *children: Widget, id: str | None = None,
                 classes: str = "") -> None:
        super().__init__(*children, id=id, classes=f"field-row {classes}".strip())
        self.label = label

    def label_of(self, child: Widget) -> str:
        """The label a field of this row is shown with."""
        return getattr(child, "row_label", "") or self.label

    def render(self) -> Content:
        focused = self.screen.focused if self.has_focus_within else None
        owner = None  # the child of this row holding the focus
        while focused is not None and focused is not self:
            owner, focused = focused, focused.parent
        lit = getattr(owner, "row_label", "") if owner is not None else None
        inner = []
        for child in self.children:
            label = getattr(child, "row_label", "")
            if label and child.display:
                try:  # it ends one column before the field, which is laid out by now
                    end = child.region.x - self.content_region.x - 1
                except Exception:  # noqa: BLE001 - not laid out yet: drawn at the next render
                    continue
                inner.append((max(0, end - len(label)), label_content(label, lit == label)))
        if not inner:
            return label_content(self.label, lit == "")
        parts, at = [label_content(self.label, lit == "")], len(self.label)
        for start, content in sorted(inner, key=lambda item: item[0]):
            if start > at:
                parts.append(" " * (start - at))
            parts.append(content)
            at = max(at, start) + len(content)
        return Content.assemble(*parts)

    def on_descendant_focus(self) -> None:
        self.refresh()

    def on_descendant_blur(self) -> None:
        self.refresh()


def labelled(widget: Widget, label: str) -> Widget:
    """`widget` with its own label in a `FieldRow` (drawn before it by the row)."""
    widget.row_label = label
    return widget


SMALL_WORDS = frozenset({"a", "and", "by", "for", "in", "of", "on", "per", "the", "to"})


def section_letter(title: str, taken: set[str]) -> str:
    """The first letter of a word of the title that no other section has, else any letter
    of it, else none."""
    words = [word for word in title.lower().split() if word not in SMALL_WORDS]
    for letter in [word[0] for word in words] + [c for c in title.lower()]:
        if letter.isascii() and letter.isalpha() and letter not in taken:
            return letter
    return ""


def field_label(widget: Widget) -> str:
    """What a field is called on screen: the label in front of it, or a tick's own text."""
    node = widget
    for _ in range(2):  # the field's row, or the row of the widget the field is part of
        parent = node.parent
        if isinstance(parent, FormSection) and (label := parent.label_of(node)):
            return label  # a section that draws its fields' labels itself
        if parent is None or isinstance(parent, FormSection):
            break
        if isinstance(parent, FieldRow):
            return parent.label_of(node)
        if isinstance(parent, Checkbox):  # the field a tick enables (`TickRow`)
            return str(node.label) if isinstance(node, Checkbox) else str(parent.label)
        label = ""
        for sibling in parent.children:
            if sibling is node:
                break
            if isinstance(sibling, Label):
                label = str(sibling.content)
        if label:
            return label
        node = parent
    if isinstance(widget, Checkbox):
        return str(widget.label)
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
    ]  # and alt+letter per section, bound as the sections mount (`key_sections`)
    LEAVE_TITLE = "Leave without saving?"
    LEAVE_TEXT = "The changes are not saved: they will be lost."
    LEAVE_YES = "Leave"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._section_keys: dict[str, str] = {}  # letter -> section id

    @property
    def dirty(self) -> bool:
        """Whether leaving now would lose something typed."""
        return False

    heading = ""  # what the form is about ("Service #12"), for the finder and the questions

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

    def key_sections(self) -> None:
        """Give each section a key not taken by an earlier one, and bind it."""
        keys = self._section_keys
        for section in self.sections():
            if section.key:
                continue
            letter = section_letter(section.title, set(keys))
            if not letter:
                section.show_key("")
                continue
            keys[letter] = section.id
            # Bound on this screen only (each form has its own sections), above the fields:
            # a terminal sends alt+b with the character "b", which an input would type.
            self._bindings._add_binding(Binding(
                f"alt+{letter}", f"go_section('{section.id}')", f"Go to {section.title}",
                show=False, priority=True, id=f"form.section_{letter}"))
            section.show_key(f"alt+{letter}")

    def action_go_section(self, section_id: str) -> None:
        found = self.query(f"#{section_id}")
        if found:
            self.go_to(found.first())

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
        chain = self.focus_chain
        holders = {id(node) for widget in chain for node in widget.ancestors}
        # Not the scrolling body of the form: it takes focus, but holds the fields.
        return [widget for widget in chain if widget.id and id(widget) not in holders]

    def finder_entries(self) -> list[FinderEntry]:
        entries = []
        for section in self.sections():
            entries.append(FinderEntry(section.title, f"section · {section.key}".rstrip(" ·"),
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

        self.app.push_screen(FieldFinder(self.heading or self.TITLE or "this form",
                                         self.finder_entries()), chosen)

