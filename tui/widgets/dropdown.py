"""Dropdown: Textual's Select, drawn as one line by one widget, with its list of choices built
when it first opens.

A Select is six widgets (the line: a box, the text and two arrows; the list of choices), and
the list is filled as it mounts: on a form with several of them that is most of the time the
screen takes to open (issue 17). A Dropdown is one widget until it is opened (it draws its
line itself), and behaves as a Select in everything else (value, `Select.Changed`,
`set_options`, typing to search the open list, a click opens it), so the screens and their
tests treat it as one.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.content import Content
from textual.widgets import Select
from textual.widgets._select import SelectOverlay

PLACEHOLDER_STYLE = "$foreground 50%"  # as Select draws its prompt and arrow


class Dropdown(Select):
    """A Select that draws its own line and makes its list on the first open (see the module)."""

    _list_made = False
    _composed = False

    def compose(self):
        self._composed = True
        return iter(())  # the line is `render`; the list is made by `_make_list`

    def get_content_height(self, container, viewport, width: int) -> int:
        return 1  # the line (the list, once made, is an overlay below it)

    def render(self) -> Content:
        value = self.value
        shown: Content | None = None
        if value != self.NULL:
            for prompt, option_value in self._options:
                if option_value == value:
                    shown = (Content.from_rich_text(prompt) if isinstance(prompt, Text)
                             else Content(str(prompt)))
                    break
        if shown is None:
            shown = Content(self.prompt).stylize(PLACEHOLDER_STYLE)
        # As a compact Select's line: the text, a space, the arrow, one column of padding.
        width = max(0, self.content_size.width - 3)
        shown = shown.truncate(width, ellipsis=True, pad=True)
        return Content.assemble(shown, " ", ("▲" if self.expanded else "▼", PLACEHOLDER_STYLE),
                                " ")

    def _setup_options_renderables(self) -> None:
        if self._list_made:  # otherwise the choices are read when the list is made
            super()._setup_options_renderables()

    async def _make_list(self) -> None:
        if self._list_made:
            return
        self._list_made = True
        overlay = SelectOverlay(type_to_search=self._type_to_search)
        overlay.compact = self.compact
        overlay.styles.margin = (1, 0, 0, 0)  # under the line, which is no widget to follow
        await self.mount(overlay)
        super()._setup_options_renderables()
        self._highlight(overlay)

    def _highlight(self, overlay: SelectOverlay) -> None:
        """The chosen value highlighted in the list, as a Select's list has it."""
        if self.value != self.NULL:
            for index, (_prompt, value) in enumerate(self._options):
                if value == self.value:
                    overlay.highlighted = index
                    break

    async def action_show_overlay(self) -> None:
        await self._make_list()
        self.expanded = True
        overlay = self.query_one(SelectOverlay)
        if overlay.highlighted is None:  # opened for the first time: on the first choice
            overlay.action_first()

    def _on_click(self, event: events.Click) -> None:
        if event.widget is self:  # on the line (a click in the open list chooses)
            event.stop()
            self.expanded = not self.expanded

    def _watch_expanded(self, expanded: bool):
        if expanded and not self._list_made:  # opened by a click: make the list first
            return self._expand_when_made()
        self.refresh()  # its arrow
        if not self._list_made:
            return None
        self.set_class(expanded, "-expanded")
        if expanded:
            overlay = self.query_one(SelectOverlay)
            overlay.focus(scroll_visible=False)
            if self.value == self.NULL:
                overlay.select(None)
            else:
                for index, (_prompt, value) in enumerate(self._options):
                    if value == self.value:
                        overlay.select(index)
                        break
        return None

    async def _expand_when_made(self) -> None:
        await self._make_list()
        self._watch_expanded(self.expanded)

    def _watch_value(self, value) -> None:
        self._value = value
        self.refresh()
        if not self._composed:
            return  # set before it is in the DOM: said as it mounts, as a Select does
        if self._list_made and value != self.NULL:
            self._highlight(self.query_one(SelectOverlay))
        self.post_message(self.Changed(self, value))

    def _watch_prompt(self, prompt: str) -> None:
        self.refresh()
        if self._list_made and self._allow_blank:
            self.query_one(SelectOverlay).replace_option_prompt_at_index(
                0, Text(prompt, style="dim"))
