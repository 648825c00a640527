"""The footer of every screen: the screen's keys on one line, drawn by one widget.

Textual's Footer is a widget per key, built after the screen's first frame and rebuilt
whenever the screen's bindings are announced as updated (every focus change, every time a
screen comes back on top): each open of a screen paid for a second round of widgets to
style, lay out and draw (issue 17). This one draws the same line itself, with the screen's
first frame, and redraws it only when the keys, their labels or their state change.
A click on a key presses it, as on Textual's footer; a greyed key is drawn dim.
"""

from __future__ import annotations

from typing import NamedTuple

from textual import events
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget

KEY_STYLE = "bold $footer-key-foreground"
PALETTE_BAR = "▏"


class FooterEntry(NamedTuple):
    key: str  # as pressed ("ctrl+s")
    display: str  # as shown ("^s")
    description: str
    enabled: bool
    tooltip: str
    palette: bool = False  # the command palette's key, drawn on the right: "▏^p Commands "

    @property
    def width(self) -> int:
        return self.content().cell_length

    def content(self) -> Content:
        if self.palette:
            shown = Content.assemble((self.display, KEY_STYLE), f" {self.description} ")
        else:
            shown = Content.assemble((f" {self.display} ", KEY_STYLE), f"{self.description} ")
        return shown if self.enabled else shown.stylize("dim")


class KeyFooter(Widget):
    ALLOW_SELECT = False
    shown: tuple | None = None  # (keys, palette key) as last drawn

    def keys_to_show(self, screen: Screen) -> tuple[tuple[FooterEntry, ...], FooterEntry | None]:
        """The screen's shown keys (the first key of each action, as Textual's footer shows
        them) and the command palette's key, drawn on the right."""
        app = self.app
        active = screen.active_bindings
        entries, actions = [], set()
        for _, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            entries.append(FooterEntry(binding.key, app.get_key_display(binding),
                                       binding.description, enabled, tooltip))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and (found := active.get(app.COMMAND_PALETTE_BINDING)):
            _, binding, enabled, _tooltip = found
            palette = FooterEntry(binding.key, app.get_key_display(binding), binding.description,
                                  enabled, binding.tooltip or binding.description, palette=True)
        return tuple(entries), palette

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and self.keys_to_show(screen) != self.shown:
            self.refresh()

    def _placed(self) -> list[tuple[int, FooterEntry]]:
        """(first column, entry) of each key as drawn, the palette's key last."""
        keys, palette = self.shown or ((), None)
        placed, column = [], 0
        for entry in keys:
            placed.append((column, entry))
            column += entry.width
        if palette is not None:
            placed.append((self.size.width - palette.width, palette))
        return placed

    def render(self) -> Content:
        self.shown = keys, palette = self.keys_to_show(self.screen)
        width = self.size.width
        line = Content.assemble(*(entry.content() for entry in keys))
        if palette is None:
            return line
        room = max(0, width - palette.width - len(PALETTE_BAR))
        line = line.truncate(room, pad=True)
        return Content.assemble(line, (PALETTE_BAR, "$foreground 20%"), palette.content())

    def plain(self) -> str:
        """The line as text (for tests)."""
        keys, palette = self.keys_to_show(self.screen)
        return " ".join(entry.content().plain.strip() for entry in (*keys, palette) if entry)

    def _entry_at(self, x: int) -> FooterEntry | None:
        for column, entry in self._placed():
            if column <= x < column + entry.width:
                return entry
        return None

    def on_click(self, event: events.Click) -> None:
        entry = self._entry_at(event.x)
        if entry is not None:
            # As pressed: a greyed key says why in the status line (the screens' `on_key`).
            self.app.simulate_key(entry.key)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        entry = self._entry_at(event.x)
        self.tooltip = (entry.tooltip or None) if entry is not None else None
