"""The main screen: every area one key away, with the figures that say where to look first."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import OptionList, Sparkline, Static
from textual.widgets.option_list import Option

from hostdesk.models.dashboard import DUE_DAYS, DashboardView, dashboard_view
from hostdesk.models.listing import DashboardCounts
from hostdesk.models.money import format_money, to_cents
from hostdesk.models.schema import CronRun, ServiceStatus
from hostdesk.tui.screens.areas import AREAS, Area
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.base import HostdeskScreen
from hostdesk.tui.widgets.cells import format_datetime
from hostdesk.tui.widgets.key_footer import KeyFooter

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


def money_lines(view: DashboardView, currency: str) -> tuple[str, str]:
    """The line above the sparkline and the one below it."""
    first, last = view.due_by_day[0][0], view.due_by_day[-1][0]
    due = (f"Due in the next {len(view.due_by_day)} days: "
           f"{format_money(view.due_total, currency)} (by day, {first.isoformat()} to "
           f"{last.isoformat()})")
    money = (f"Monthly recurring revenue {format_money(view.monthly_recurring, currency)}"
             f"   ·   Overdue {format_money(view.overdue_total, currency)} on "
             f"{view.overdue_invoices:,} invoice{'s' if view.overdue_invoices != 1 else ''}")
    return due, money


def run_line(view: DashboardView, timezone: str) -> str:
    """The last daily run: its day, how it went and when it finished."""
    run = view.last_run
    if run is None:
        return "Daily run: never run on this database"
    finished = (f", finished {format_datetime(run.finished_at, timezone)}"
                if run.finished_at else "")
    return f"Last daily run #{run.id} for {run.run_date.isoformat()}: {run.status}{finished} · {run.summary}"


class DashboardScreen(HostdeskScreen):
    HELP = ("The main screen. Each line is an area: press `g` and its letter from anywhere, "
            "or pick it here with the arrows and enter. Below: the recurring amounts falling "
            f"due each of the next {DUE_DAYS} days (active services, addons and domains), "
            "the monthly recurring revenue (each cycle's amounts per month), what overdue "
            "invoices still owe, and the last daily run. ctrl+k searches clients, services, "
            "domains and invoices at once; ctrl+p or : opens the command palette.")

    AUTO_FOCUS = "#areas"

    def __init__(self) -> None:
        super().__init__(name="dashboard")

    def compose(self) -> ComposeResult:
        yield self.title_bar("Main screen")
        yield OptionList(*(Option(area_prompt(area), id=area.key) for area in AREAS),
                         id="areas")
        yield Static("Revenue due: counting…", id="revenue-due")
        yield Sparkline([], id="revenue-sparkline")
        yield Static("", id="revenue-figures")
        yield Static("Daily run: checking…", id="automation-status")
        yield Static("ctrl+k search everything · ctrl+p or : commands · F1 or ? help · "
                     "ctrl+q quit", id="dashboard-hint", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#areas", OptionList).focus()

    def reread(self) -> None:
        self.load()

    def load(self) -> None:
        clock = self.app.clock
        run_in_background(self, lambda: dashboard_view(clock.today(), clock.now()),
                          self._loaded, group="dashboard")

    def _loaded(self, view: DashboardView) -> None:
        areas = self.query_one("#areas", OptionList)
        for area in AREAS:
            areas.replace_option_prompt(area.key,
                                        area_prompt(area, area_figures(area, view.counts,
                                                                       view.runs)))
        due, money = money_lines(view, self.app.settings.currency)
        self.query_one("#revenue-due", Static).update(due)
        # The bars' heights only: the figures themselves are the Decimal text above.
        self.query_one("#revenue-sparkline", Sparkline).data = [
            to_cents(amount) for _, amount in view.due_by_day]
        self.query_one("#revenue-figures", Static).update(money)
        status = self.query_one("#automation-status", Static)
        status.set_class(view.warning is not None, "-warning")
        line = run_line(view, self.app.settings.timezone)
        status.update(f"⚠ {view.warning}\n{line}" if view.warning else line)

    @on(OptionList.OptionSelected, "#areas")
    def open_area(self, event: OptionList.OptionSelected) -> None:
        self.app.go(event.option.id)
