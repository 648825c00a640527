"""The checkbox of every form: an empty box or a ✓.

Textual's checkbox shows the same X either way and tells the states apart by colour only,
which a terminal over SSH with few colours may not show; this one draws the mark itself.
"""

from __future__ import annotations

from textual.widgets import Checkbox


class Tick(Checkbox):
    @property
    def BUTTON_INNER(self) -> str:  # noqa: N802 - the name Textual's ToggleButton reads
        return "✓" if self.value else " "
