"""The email log (g e): every email the outbox holds, and "retry now" for one that failed.

An email whose body carries a service password (a welcome email) is stored encrypted until it
is delivered; this screen never decrypts it: enter shows `HIDDEN_BODY` in its place."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.binding import Binding

from hostdesk.automation.mail import deliver_one
from hostdesk.models.listing import EmailSource
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.screens.detail import DetailScreen
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.biglist import BigList

HIDDEN_BODY = "(contains a password — hidden)"


class EmailLogSource(EmailSource):
    """The outbox, with the body of an email that carries a password never shown."""

    def detail(self, row_id: int) -> list[tuple[str, Any]] | None:
        fields = super().detail(row_id)
        if fields is None or not dict(fields).get("body_encrypted"):
            return fields
        return [(name, HIDDEN_BODY if name == "body" else value) for name, value in fields]


class EmailLogScreen(ListScreen):
    HELP = ("Every email hostdesk wrote, newest first: queued ones wait for the daily run (or "
            "`r`), failed ones show the last delivery error and are retried with a growing "
            "pause. `r` sends the highlighted email now; enter shows it in full.")

    BINDINGS = [Binding("r", "retry", "Send now", id="email-log.retry")]

    def __init__(self) -> None:
        super().__init__(BY_KEY["email"], EmailLogSource())

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "retry":
            row = self.biglist.cursor_row if self.is_mounted else None
            return None if row is None or row.get("status") == "sent" else True
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "retry":
            return "the email was sent already" if self.biglist.cursor_row else "no email here"
        return super().why_greyed(action, parameters)

    @on(BigList.Opened)
    def open_email(self, message: BigList.Opened) -> None:
        message.prevent_default()  # the app's generic record view would show the stored body
        self.app.push_screen(DetailScreen(self.source, message.row_id))

    def action_retry(self) -> None:
        row = self.biglist.cursor_row
        if row is not None and row.get("status") != "sent":
            self.say_status(f"sending email #{row['id']}…")
            self.send_now(row["id"])

    def send_now(self, email_id: int) -> None:
        settings, admin = self.app.settings, self.app.admin
        run_in_background(self, lambda: deliver_one(email_id, settings, admin=admin),
                          lambda result: self._done(_describe(email_id, result), "information"),
                          lambda error: self._done(str(error), "error"), group="send-email")

    def _done(self, message: str, severity: str) -> None:
        if severity == "error":
            self.say_error("Not sent", message)
        else:
            self.say_done(message)
        self.biglist.reload()


def _describe(email_id: int, result) -> str:
    if getattr(result, "sent", 0):
        return f"Email #{email_id} sent."
    errors = getattr(result, "errors", None) or []
    return f"Email #{email_id} not sent: {errors[0][1] if errors else 'see the log'}"
