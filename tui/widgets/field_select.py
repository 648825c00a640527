"""A form's dropdown, drawn once as it opens.

Textual's Select adds a class to two of its parts once they are mounted (`-has-value` when a
choice is shown, `-textual-compact` on the list of choices); each added class restyles the
part and everything in it. Built with those classes, there is nothing left to restyle (on
the service page, 45 of the 389 stylings done to open it).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay


class FieldSelect(Select):
    def compose(self) -> ComposeResult:
        current = SelectCurrent(self.prompt)
        # What `_init_selected_option` shows once mounted: the value, or the first choice.
        if self._value is not Select.NULL or (not self._allow_blank and self._options):
            current.set_reactive(SelectCurrent.has_value, True)
            current.add_class("-has-value")
        yield current
        overlay = SelectOverlay(type_to_search=self._type_to_search)
        overlay.compact = self.compact
        yield overlay.data_bind(compact=Select.compact)
