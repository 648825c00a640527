"""The service page's command bar: one key per command, shown with the command.

Every command stays on the bar: one that does not apply is greyed (the reason is in the
bar's tooltip and in F1 help), one that is running says so. The bar only draws; the screen
owns the keys (`check_action`) and the state.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.widget import Widget

@dataclass(frozen=True)
class BarCommand:
    key: str  # as shown: "s", "U", "1"
    label: str
    available: bool = True
    why_not: str = ""
    running: bool = False


class CommandBar(Widget, can_focus=True):
    """Rows of `key Label`; greyed when not available, marked while running."""

    HELP_NAME = "the command bar"
    HELP = ("The service's commands, one key each. Greyed commands do not apply to this "
            "service now; the list below says why. tab moves into the fields.")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.groups: list[tuple[str, list[BarCommand]]] = []

    def show(self, groups: list[tuple[str, list[BarCommand]]]) -> None:
        self.groups = groups
        self.refresh(layout=True)
        reasons = self.reasons()
        self.tooltip = "\n".join(f"{label}: {why}" for label, why in reasons) or None

    def reasons(self) -> list[tuple[str, str]]:
        """(label, why it is greyed) for every unavailable command."""
        return [(c.label, c.why_not) for _, commands in self.groups for c in commands
                if not c.available and not c.running and c.why_not]

    def plain(self) -> str:
        """The bar as text (for tests and help)."""
        return self._content(10_000).plain

    def render(self) -> Content:
        return self._content(max(20, self.content_region.width or self.size.width or 80))

    def get_content_height(self, container, viewport, width: int) -> int:
        # Wrapped for the width it is laid out at (the first layout comes before the bar
        # knows its size: measured at another width, it was laid out a second time).
        return len(self._content(max(20, width)).split("\n"))

    def on_resize(self) -> None:
        if len(self.render().split("\n")) != self.content_region.height:
            self.refresh(layout=True)

    def _chunks(self, command: BarCommand) -> tuple[list, int]:
        """The pieces of one command and how many cells they take."""
        label = command.label
        if command.running:
            text = f"{command.key} {label} (running…)"
            return [(text, "bold reverse $warning")], len(text)
        if command.available:
            return [(command.key, "bold $accent"), f" {label}"], len(command.key) + 1 + len(label)
        text = f"{command.key} {label}"
        return [(text, "dim $text-disabled")], len(text)

    def _content(self, width: int) -> Content:
        """One group per line, wrapped between commands, never inside one."""
        parts: list = []
        for number, (title, commands) in enumerate(self.groups):
            if number:
                parts.append("\n")
            parts.append((f"{title}:", "$text-muted"))
            used = len(title) + 1
            for command in commands:
                chunks, size = self._chunks(command)
                if used + 2 + size > width:
                    parts.append("\n" + " " * (len(title) + 1))
                    used = len(title) + 1
                parts.append("  ")
                parts += chunks
                used += 2 + size
        return Content.assemble(*parts)
