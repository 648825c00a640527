"""The main screen: every area one key away, with the figures that say where to look first."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from automation.cron import last_runs
from models.db import connection
from models.listing import DashboardCounts, automation_warning, dashboard_counts
from models.schema import CronRun, ServiceStatus
from tui.screens.areas import AREAS, Area
from tui.screens.base import HostdeskScreen
from tui.widgets.cells import format_datetime
from tui.widgets.key_footer import KeyFooter

TITLE_WIDTH = 20


def area_figures(area: Area, counts: DashboardCounts, runs: list[CronRun]) -> str:
    """The short line of figures next to an area on the main screen."""
    if area.key == "clients":
        return f"{counts.clients_active:,} active"
    if area.key == "services":
        by_status = counts.services_by_status
        worth_a_look = (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED, ServiceStatus.PENDING)
        shown = [f"{by_status.get(status, 0):,} {status}" for status in worth_a_look
                 if by_status.get(status) or status == ServiceStatus.ACTIVE]
        return " · ".join(shown)
    if area.key == "orders":
        return f"{counts.orders_pending:,} pending"
    if area.key == "invoices":
        return f"{counts.invoices_unpaid:,} unpaid · {counts.invoices_overdue:,} overdue"
    if area.key == "cancellations":
        return f"{counts.cancellations_open:,} open"
    if area.key == "module_queue":
        return f"{counts.module_jobs_waiting:,} waiting"
    if area.key == "email":
        return f"{counts.emails_waiting:,} waiting to be sent"
    if area.key == "activity":
        return f"{counts.activity_today:,} today"
    if area.key == "automation":
        if not runs:
            return "never run"
        last = runs[0]
        return f"last run for {last.run_date.isoformat()}: {last.status}"
    return ""


def area_prompt(area: Area, figures: str = "") -> Content:
    return Content.assemble(
        (f" g {area.letter} ", "bold $accent"),
        f" {area.title:<{TITLE_WIDTH}} ",
        (figures, "$text-muted"),
    )


class DashboardScreen(HostdeskScreen):
    HELP = ("The main screen. Each line is an area: press `g` and its letter from anywhere, "
            "or pick it here with the arrows and enter. ctrl+k searches clients, services, "
            "domains and invoices at once; ctrl+p or : opens the command palette.")

    AUTO_FOCUS = "#areas"

    class Loaded(Message):
        def __init__(self, counts: DashboardCounts, runs: list[CronRun],
                     warning: str | None) -> None:
            super().__init__()
            self.counts = counts
            self.runs = runs
            self.warning = warning

    def __init__(self) -> None:
        super().__init__(name="dashboard")

    def compose(self) -> ComposeResult:
        yield self.title_bar("Main screen")
        yield OptionList(*(Option(area_prompt(area), id=area.key) for area in AREAS),
                         id="areas")
        yield Static("Daily run: checking…", id="automation-status")
        yield Static("ctrl+k search everything · ctrl+p or : commands · F1 or ? help · "
                     "ctrl+q quit", id="dashboard-hint", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#areas", OptionList).focus()

    def reread(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, description="count for the main screen")
    def load(self) -> None:
        clock = self.app.clock
        with connection():
            counts = dashboard_counts(clock.today())
            runs = last_runs(20)
        self.post_message(self.Loaded(counts, runs, automation_warning(runs, clock.now())))

    def on_dashboard_screen_loaded(self, message: Loaded) -> None:
        areas = self.query_one("#areas", OptionList)
        for area in AREAS:
            areas.replace_option_prompt(area.key,
                                        area_prompt(area, area_figures(area, message.counts,
                                                                       message.runs)))
        status = self.query_one("#automation-status", Static)
        status.set_class(message.warning is not None, "-warning")
        if message.warning:
            status.update(f"⚠ {message.warning}")
        else:
            last = next(r for r in message.runs if r.status == "succeeded" and not r.dry_run)
            status.update(f"Daily run: last succeeded for {last.run_date.isoformat()}, "
                          f"finished {format_datetime(last.finished_at)} UTC")

    @on(OptionList.OptionSelected, "#areas")
    def open_area(self, event: OptionList.OptionSelected) -> None:
        self.app.go(event.option.id)
