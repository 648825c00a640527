"""The cancellation queue (rules §10): open and completed requests with the client, service,
type, reason, when it was asked and when the daily run acts on it. `p` processes an open
request now (the module's Terminate, then the service is cancelled); `d` deletes an open
request, offering to reopen the invoices it cancelled.
"""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.binding import Binding
from textual.widgets import Static

from hostdesk.models import cancellations
from hostdesk.models.clock import Clock
from hostdesk.models.listing import CancellationQueueSource, RequestFilter
from hostdesk.models.permissions import (
    MANAGE_CANCELLATIONS,
    SERVER_OPERATIONS,
    has_permission,
    require,
)
from hostdesk.models.settings import Settings
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.screens.base import needs_permission
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.biglist import BigList
from hostdesk.tui.widgets.dialogs import ChoiceDialog
from hostdesk.tui.widgets.dialogs import ConfirmDialog
from hostdesk.models.schema import Admin


def process_now(request_id: int, *, admin: Admin, clock: Clock, settings: Settings) -> str:
    """The daily run's step for one request, now (`automation.daily_tasks.process_request`)."""
    from hostdesk.automation.daily_tasks import process_request

    require(admin, MANAGE_CANCELLATIONS)
    return process_request(request_id, admin=admin, clock=clock, settings=settings,
                           source="admin")


class CancellationQueueScreen(ListScreen):
    HELP = ("Cancellation requests, newest first: open ones wait for the daily run (immediate: "
            "the next run; end of period: the service's next due date, shown under "
            "“Processed”), completed ones show the day. p processes the highlighted open "
            "request now (the module's Terminate, then the service is cancelled). d deletes "
            "an open request and offers to reopen the invoices it cancelled. o shows only the "
            "open requests. enter opens the service.")

    BINDINGS = [
        Binding("p", "process", "Process now", id="cancellations.process"),
        bind("delete", "delete_request", "Delete request", id="cancellations.delete"),
        Binding("o", "toggle_open", "Open/all", id="cancellations.toggle"),
    ]

    def __init__(self) -> None:
        super().__init__(BY_KEY["cancellations"], CancellationQueueSource())
        self.working = False

    def on_mount(self) -> None:
        super().on_mount()
        self.biglist.filter = RequestFilter()

    @property
    def request_filter(self) -> RequestFilter:
        flt = self.biglist.filter
        return flt if isinstance(flt, RequestFilter) else RequestFilter(text=flt.text)

    @on(BigList.Changed)
    def show_status(self, message: BigList.Changed | None = None) -> None:
        if message is not None:
            message.prevent_default()
        super().show_status()
        status = self.query_one("#list-status", Static)
        shown = "open requests (o: all)" if self.request_filter.open_only else \
            "all requests (o: open only)"
        status.update(f"{status.content}   ·   {shown}")
        self.refresh_bindings()

    @on(BigList.Opened)
    def open_row(self, message: BigList.Opened) -> None:
        message.prevent_default()
        self.app.open_record("services", message.row["service_id"])

    def action_toggle_open(self) -> None:
        self.biglist.set_filter(replace(self.request_filter,
                                        open_only=not self.request_filter.open_only))

    def open_row_under_cursor(self) -> dict | None:
        row = self.biglist.cursor_row
        return row if row is not None and row["status"] == "open" else None

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("process", "delete_request"):
            allowed = has_permission(self.app.admin, MANAGE_CANCELLATIONS)
            if action == "process":
                allowed = allowed and has_permission(self.app.admin, SERVER_OPERATIONS)
            ok = allowed and not self.working and self.open_row_under_cursor() is not None
            return True if ok else None
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        needed = [MANAGE_CANCELLATIONS] + ([SERVER_OPERATIONS] if action == "process" else [])
        for permission in needed:
            if not has_permission(self.app.admin, permission):
                return needs_permission(permission)
        if self.working:
            return "another change is on its way"
        if self.open_row_under_cursor() is None:
            return "the highlighted request is not open"
        return super().why_greyed(action, parameters)

    def action_process(self) -> None:
        row = self.open_row_under_cursor()
        if row is None or self.working:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._start("processing…")
                self._run(lambda: process_now(row["id"], admin=self.app.admin,
                                              clock=self.app.clock, settings=self.app.settings))

        self.app.push_screen(ConfirmDialog(
            f"Process request #{row['id']} now?",
            f"Service #{row['service_id']} ({row['domain'] or 'no domain'}) of {row['client']}: "
            "the module's Terminate runs on the server, then the service and its addons are "
            "cancelled.", yes="process it now"), answered)

    def action_delete_request(self) -> None:
        row = self.open_row_under_cursor()
        if row is None or self.working:
            return

        def answered(reopen: bool | None) -> None:
            if reopen is None:
                return
            self._start("deleting…")
            self._run(lambda: self._delete(row["id"], reopen))

        self.app.push_screen(ChoiceDialog(
            f"Delete request #{row['id']}?",
            f"The cancellation of service #{row['service_id']} ({row['domain'] or 'no domain'}) "
            "stops. The invoice lines the request cancelled can be reopened.",
            [("r", "delete and reopen the invoices", True),
             ("k", "delete, keep the invoices cancelled", False)]), answered)

    def _delete(self, request_id: int, reopen: bool) -> str:
        require(self.app.admin, MANAGE_CANCELLATIONS)
        cancellations.delete_request(request_id, self.app.admin, reopen_invoices=reopen)
        return f"Request #{request_id} deleted" + ("; its invoices are unpaid again" if reopen
                                                   else "")

    def _start(self, text: str) -> None:
        self.working = True
        self.refresh_bindings()
        self.query_one("#list-status", Static).update(text)

    def _run(self, job) -> None:
        run_in_background(self, job, lambda text: self._done(text, None),
                          lambda error: self._done("", error), group="cancellation-queue")

    def _done(self, text: str, error: Exception | None) -> None:
        self.working = False
        if error is not None:
            self.say_error("Refused", error)
        else:
            self.say_done(text)
        self.biglist.reload()
        self.refresh_bindings()
