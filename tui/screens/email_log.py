"""The email log (g e): every email the outbox holds, and "retry now" for one that failed."""

from __future__ import annotations

from textual import work
from textual.binding import Binding

from automation.mail import deliver_one
from models.db import connection
from models.errors import HostdeskError
from models.listing import EmailSource
from tui.screens.areas import BY_KEY
from tui.screens.lists import ListScreen


class EmailLogScreen(ListScreen):
    HELP = ("Every email hostdesk wrote, newest first: queued ones wait for the daily run (or "
            "`r`), failed ones show the last delivery error and are retried with a growing "
            "pause. `r` sends the highlighted email now; enter shows it in full.")

    BINDINGS = [Binding("r", "retry", "Send now", id="email-log.retry")]

    def __init__(self) -> None:
        super().__init__(BY_KEY["email"], EmailSource())

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "retry":
            row = self.biglist.cursor_row if self.is_mounted else None
            return None if row is None or row.get("status") == "sent" else True
        return super().check_action(action, parameters)

    def action_retry(self) -> None:
        row = self.biglist.cursor_row
        if row is not None and row.get("status") != "sent":
            self.notify(f"Sending email #{row['id']}…")
            self.send_now(row["id"])

    @work(thread=True, exclusive=True, exit_on_error=False, description="send an email now")
    def send_now(self, email_id: int) -> None:
        try:
            with connection():
                result = deliver_one(email_id, self.app.settings, admin_login=self.app.login)
            message, severity = _describe(email_id, result), "information"
        except (HostdeskError, OSError) as exc:
            message, severity = str(exc), "error"
        self.app.call_from_thread(self._done, message, severity)

    def _done(self, message: str, severity: str) -> None:
        self.notify(message, severity=severity)
        self.biglist.reload()


def _describe(email_id: int, result) -> str:
    if getattr(result, "sent", 0):
        return f"Email #{email_id} sent."
    errors = getattr(result, "errors", None) or []
    return f"Email #{email_id} not sent: {errors[0][1] if errors else 'see the log'}"
