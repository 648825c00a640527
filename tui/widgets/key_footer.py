"""The footer of every screen: Textual's Footer, redrawn only when its keys change.

Textual's Footer rebuilds all its key widgets whenever the screen's bindings are announced
as updated, which happens on every focus change and every time a screen comes back on top.
Rebuilding ten keys costs more than reading a page of a million-row list, so this one keeps
what it shows when the keys, their labels and their enabled state are the same.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _shown: tuple | None = None

    def _keys_to_show(self, screen: Screen) -> tuple:
        bindings = tuple((binding.key, binding.description, binding.action, enabled, tooltip,
                          binding.group)
                         for _, binding, enabled, tooltip in screen.active_bindings.values()
                         if binding.show)
        palette = screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        return bindings, palette[1:] if palette else None

    def bindings_changed(self, screen: Screen) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            keys = self._keys_to_show(screen)
            if keys == self._shown and self._bindings_ready:
                return
            self._shown = keys
        super().bindings_changed(screen)
