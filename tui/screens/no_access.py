"""What a login that is not an active admin sees, and nothing else."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.key_footer import KeyFooter


def no_access_text(login: str, known_but_inactive: bool, managers: list[str]) -> str:
    why = ("is deactivated" if known_but_inactive else "is not an admin of this installation")
    text = f"The login “{login}” {why}, so it has no access to hostdesk.\n\n"
    if managers:
        text += ("These admins may add or reactivate it (permission “manage admins”): "
                 f"{', '.join(managers)}.")
    else:
        text += "No active admin holds the permission “manage admins” to add it."
    return text + "\n\nctrl+q quits."


class NoAccessScreen(HostdeskScreen):
    HELP = "This login may not use hostdesk. Ask one of the admins named on the screen."
    heading = "No access"

    def __init__(self, login: str, known_but_inactive: bool, managers: list[str]) -> None:
        super().__init__()
        self.message = no_access_text(login, known_but_inactive, managers)

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.heading)
        yield Static(self.message, id="no-access-message")
        yield KeyFooter()
