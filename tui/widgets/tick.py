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


class TickRow(Tick):
    """A tick and, on the same line, the field it enables (the mass update's "change this
    field to…"): the tick draws its mark and label, the field is its child, placed after the
    label by the stylesheet. One widget less than a row holding both (issue 17).

    Keys typed in the field stay in the field; a click on the field does not tick."""

    def __init__(self, label: str, *fields, id: str | None = None, classes: str = "") -> None:
        super().__init__(label, id=id, classes=f"tick-row {classes}".strip(), compact=True)
        self._fields = fields

    def compose(self):
        yield from self._fields

    async def _on_click(self, event) -> None:
        if event.widget is not self:
            event.prevent_default()  # a click in its field (or on a tick inside it)
