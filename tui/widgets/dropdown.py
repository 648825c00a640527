"""Dropdown: Textual's Select, drawn as one line, with its list of choices built when it first
opens.

A Select is six widgets (the line: a box, the text and two arrows; the list of choices), and
the list is filled as it mounts: on a form with several of them that is most of the time the
screen takes to open (issue 17). A Dropdown is two widgets until it is opened, and behaves as
a Select in everything else (value, `Select.Changed`, `set_options`, typing to search the
open list), so the screens and their tests treat it as one.
"""

from __future__ import annotations

from rich.text import Text
from textual.content import Content
from textual.widgets import Select
from textual.widgets._select import SelectCurrent, SelectOverlay

PLACEHOLDER_STYLE = "$foreground 50%"  # as Select draws its prompt and arrow


class OneLineCurrent(SelectCurrent):
    """What a Select shows when closed (text, then ▼), drawn as one line by one widget."""

    def compose(self):
        return iter(())

    def get_content_height(self, container, viewport, width: int) -> int:
        return 1  # the text line; a box without children would be 0 high

    def update(self, label) -> None:
        self.label = label
        self.has_value = label is not Select.NULL
        self.refresh()

    def _watch_has_value(self, has_value: bool) -> None:
        self.set_class(has_value, "-has-value")
        self.refresh()

    def render(self) -> Content:
        label = self.label
        if label is Select.NULL:
            shown = Content(self.placeholder)
        elif isinstance(label, Text):
            shown = Content.from_rich_text(label)
        else:
            shown = Content(str(label))
        if not self.has_value:
            shown = shown.stylize(PLACEHOLDER_STYLE)
        width = max(0, self.content_size.width - 2)
        shown = shown.truncate(width, ellipsis=True, pad=True)
        expanded = isinstance(self.parent, Select) and self.parent.expanded
        return Content.assemble(shown, " ", ("▲" if expanded else "▼", PLACEHOLDER_STYLE))


class Dropdown(Select):
    """A Select whose list of choices is made on the first open (see the module)."""

    _list_made = False

    def compose(self):
        yield OneLineCurrent(self.prompt)

    def _current(self) -> OneLineCurrent | None:
        found = self.query_children(OneLineCurrent)
        return found.first() if found else None

    def _setup_options_renderables(self) -> None:
        if self._list_made:  # otherwise the choices are read when the list is made
            super()._setup_options_renderables()

    async def _make_list(self) -> None:
        if self._list_made:
            return
        self._list_made = True
        overlay = SelectOverlay(type_to_search=self._type_to_search)
        overlay.compact = self.compact
        await self.mount(overlay)
        super()._setup_options_renderables()
        if self.value != self.NULL:  # highlighted as a Select's list is when its value is set
            for index, (_prompt, value) in enumerate(self._options):
                if value == self.value:
                    overlay.highlighted = index
                    break

    async def action_show_overlay(self) -> None:
        await self._make_list()
        super().action_show_overlay()

    def _watch_expanded(self, expanded: bool):
        if expanded and not self._list_made:  # opened by a click: make the list first
            return self._expand_when_made()
        super()._watch_expanded(expanded)
        current = self._current()
        if current is not None:
            current.refresh()  # its arrow
        return None

    async def _expand_when_made(self) -> None:
        await self._make_list()
        self._watch_expanded(self.expanded)

    def _watch_value(self, value) -> None:
        self._value = value
        current = self._current()
        if current is None:
            return  # not composed yet: shown as it mounts
        if value == self.NULL:
            current.update(self.NULL)
        else:
            for index, (prompt, option_value) in enumerate(self._options):
                if option_value == value:
                    if self._list_made:
                        self.query_one(SelectOverlay).highlighted = index
                    current.update(prompt)
                    break
        self.post_message(self.Changed(self, value))

    def _watch_prompt(self, prompt: str) -> None:
        current = self._current()
        if current is None:
            return
        current.placeholder = prompt
        if not self._allow_blank:
            return
        if self.value == self.NULL:
            current.update(self.NULL)
        if self._list_made:
            self.query_one(SelectOverlay).replace_option_prompt_at_index(
                0, Text(prompt, style="dim"))
