"""The module queue (rules §8): module commands started by automation that failed, with the
module's error. An admin retries them now (`r`) or dismisses them (`d`); the daily run
retries the rest. Space ticks rows to act on several at once.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from hostdesk.automation.provisioning.runner import retry_jobs
from hostdesk.models import modulequeue
from hostdesk.models.listing import ModuleQueueSource, QueueFilter
from hostdesk.models.permissions import SERVER_OPERATIONS, has_permission
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.areas import BY_KEY
from hostdesk.tui.screens.base import needs_permission
from hostdesk.tui.screens.invoices import ConfirmDialog
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.widgets.biglist import BigList


class ModuleQueueScreen(ListScreen):
    HELP = ("Module commands started by automation (the daily run) that failed, newest first, "
            "with the module's error (the full text of the highlighted job is under the list). "
            "r retries the highlighted job (or the ticked ones) now; d dismisses them: they "
            "leave the queue and are never retried. o shows every job or only the waiting "
            "ones (queued or failed). enter opens the service.")

    BINDINGS = [
        Binding("r", "retry", "Retry now", id="module_queue.retry"),
        bind("delete", "dismiss_jobs", "Dismiss", id="module_queue.dismiss"),
        Binding("o", "toggle_open", "Open/all", tooltip="only waiting jobs, or every job",
                id="module_queue.toggle"),
    ]

    def __init__(self) -> None:
        super().__init__(BY_KEY["module_queue"], ModuleQueueSource())
        self.working = False

    def compose_above_list(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        super().on_mount()
        self.biglist.filter = QueueFilter()
        self.mount(Static("", id="job-error"), after=self.query_one("#list-status"))

    @property
    def queue_filter(self) -> QueueFilter:
        flt = self.biglist.filter
        return flt if isinstance(flt, QueueFilter) else QueueFilter(text=flt.text)

    @on(BigList.Changed)
    def show_status(self, message: BigList.Changed | None = None) -> None:
        if message is not None:
            message.prevent_default()
        super().show_status()
        status = self.query_one("#list-status", Static)
        shown = ("waiting jobs only (o: all)" if self.queue_filter.open_only
                 else "all jobs (o: waiting only)")
        status.update(f"{status.content}   ·   {shown}")
        row = self.biglist.cursor_row
        errors = self.query("#job-error")
        if errors:
            text = ""
            if row is not None and row.get("last_error"):
                text = f"#{row['id']} {row['command'].replace('_', ' ')}: {row['last_error']}"
            errors.first().update(Text(text))
        self.refresh_bindings()

    @on(BigList.Opened)
    def open_row(self, message: BigList.Opened) -> None:
        message.prevent_default()
        if message.row.get("service_id"):
            self.app.open_record("services", message.row["service_id"])

    def action_toggle_open(self) -> None:
        self.biglist.set_filter(replace(self.queue_filter,
                                        open_only=not self.queue_filter.open_only))

    def chosen_jobs(self) -> list[int]:
        """The ticked jobs, or else the highlighted one; only those still waiting."""
        biglist = self.biglist
        if biglist.ticked:
            return sorted(biglist.ticked)
        row = biglist.cursor_row
        return [row["id"]] if row is not None and row["status"] in modulequeue.OPEN else []

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("retry", "dismiss_jobs"):
            allowed = has_permission(self.app.admin, SERVER_OPERATIONS)
            return True if allowed and not self.working and self.chosen_jobs() else None
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if not has_permission(self.app.admin, SERVER_OPERATIONS):
            return needs_permission(SERVER_OPERATIONS)
        if self.working:
            return "another change is on its way"
        if not self.chosen_jobs():
            return "no waiting job is ticked or highlighted"
        return super().why_greyed(action, parameters)

    def action_retry(self) -> None:
        jobs = self.chosen_jobs()
        if jobs and not self.working:
            self._start(f"retrying {len(jobs)} job(s)…")
            self._retry(jobs)

    def action_dismiss_jobs(self) -> None:
        jobs = self.chosen_jobs()
        if not jobs or self.working:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._start(f"dismissing {len(jobs)} job(s)…")
                self._dismiss(jobs)

        self.app.push_screen(ConfirmDialog(
            f"Dismiss {len(jobs)} module job(s)?",
            "They leave the queue and are never retried; the services stay as they are.",
            yes="dismiss"), answered)

    def _start(self, text: str) -> None:
        self.working = True
        self.refresh_bindings()
        self.query_one("#list-status", Static).update(text)

    def _retry(self, jobs: list[int]) -> None:
        admin, clock, settings = self.app.admin, self.app.clock, self.app.settings
        run_in_background(self, lambda: retry_jobs(jobs, admin=admin, clock=clock,
                                                   settings=settings),
                          lambda done: self._done("Retry", *done),
                          lambda error: self._done("Retry", [str(error)], True),
                          group="module-queue")

    def _dismiss(self, jobs: list[int]) -> None:
        admin = self.app.admin
        run_in_background(self, lambda: modulequeue.dismiss_jobs(jobs, admin),
                          lambda lines: self._done("Dismiss", lines, False),
                          lambda error: self._done("Dismiss", [str(error)], True),
                          group="module-queue")

    def _done(self, title: str, lines: list[str], failing: bool) -> None:
        self.working = False
        self.biglist.action_tick_none()
        text = "\n".join(lines)
        if failing:
            self.say_error(f"{title}: not everything worked", text)
        else:
            self.say_done(text)
        self.biglist.reload()
        self.refresh_bindings()
