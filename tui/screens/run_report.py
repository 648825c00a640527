"""One daily run's report, for reading: a table of the tasks (done, failed, details), then
every failure with its item and reason, then (a dry run) what each task would act on."""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Label, Static

from hostdesk.models.listing import RunReportView, run_report
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.cells import format_datetime
from hostdesk.tui.widgets.key_footer import KeyFooter

ITEMS_SHOWN = 20  # per task, of a dry run's items; the JSON report (`cron --json`) has all


class RunReportScreen(HostdeskScreen):
    HELP = ("A daily run's report: each task with how many items it did and how many failed, "
            "then every failure with its item and the reason. A dry run also lists what "
            "each task would act on. Tab moves between the tables; escape goes back.")

    AUTO_FOCUS = "#run-tasks"

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        yield self.title_bar(f"Daily run #{self.run_id}")
        with VerticalScroll(id="run-report"):
            yield Static("loading…", id="run-state")
            yield Label("Tasks", classes="section-title")
            yield DataTable(id="run-tasks", cursor_type="row", zebra_stripes=True)
            yield Label("Failures", classes="section-title")
            yield DataTable(id="run-failures", cursor_type="row", zebra_stripes=True)
            yield Label("Would act on (dry run)", classes="section-title -hidden",
                        id="run-items-title")
            yield DataTable(id="run-items", cursor_type="row", zebra_stripes=True,
                            classes="-hidden")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#run-tasks", DataTable).add_columns("Task", "Done", "Failed", "Details")
        self.query_one("#run-failures", DataTable).add_columns("Task", "Item", "Reason")
        self.query_one("#run-items", DataTable).add_columns("Task", "Items")
        self.load()

    def _reason_width(self, view: RunReportView) -> int:
        task_width = max((len(t.name) for t in view.tasks), default=4)
        item_width = max((len(item) for t in view.tasks for item, _ in t.failures), default=4)
        return max(20, self.size.width - task_width - item_width - 12)

    def load(self) -> None:
        run_in_background(self, lambda: run_report(self.run_id), self._loaded,
                          group="run-report")

    def _loaded(self, view: RunReportView | None) -> None:
        state = self.query_one("#run-state", Static)
        if view is None:
            state.update(f"Daily run #{self.run_id} no longer exists.")
            return
        timezone = self.app.settings.timezone
        lines = [f"For {view.run_date.isoformat()}{' (dry run: nothing was changed)' if view.dry_run else ''}"
                 f" · {view.status} · started {format_datetime(view.started_at, timezone)}"
                 f" · finished {format_datetime(view.finished_at, timezone) or '—'}"]
        if view.stopped:
            lines.append(f"Stopped early: {view.stopped}")
        if view.not_run:
            lines.append(f"Tasks not run: {', '.join(view.not_run)}")
        if view.alert:
            lines.append(f"Admins' notice: {view.alert}")
        state.update(Text("\n".join(lines)))
        tasks = self.query_one("#run-tasks", DataTable)
        failures = self.query_one("#run-failures", DataTable)
        items = self.query_one("#run-items", DataTable)
        for table in (tasks, failures, items):
            table.clear()
        for task in view.tasks:
            details = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in task.details)
            tasks.add_row(Text(task.name.replace("_", " ")), Text(f"{task.done:,}"),
                          Text(f"{len(task.failures):,}", style="bold" if task.failures else ""),
                          Text(details))
            for item, reason in task.failures:
                # Wrapped to the screen, never cut: a reason is what the admin came to read.
                lines = textwrap.wrap(reason, self._reason_width(view)) or [""]
                failures.add_row(Text(task.name.replace("_", " ")), Text(item),
                                 Text("\n".join(lines)), height=len(lines))
            if task.items:
                shown = ", ".join(task.items[:ITEMS_SHOWN])
                more = len(task.items) - ITEMS_SHOWN
                items.add_row(Text(task.name.replace("_", " ")),
                              Text(shown + (f" and {more:,} more" if more > 0 else "")))
        if not failures.row_count:
            failures.add_row(Text("—"), Text("no failures"), Text(""))
        has_items = items.row_count > 0
        for widget in (items, self.query_one("#run-items-title")):
            widget.set_class(not has_items, "-hidden")
