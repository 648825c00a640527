"""One list screen per area: a BigList over the area's list source, `/` to search it."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Input, Static

from hostdesk.automation.cron import last_runs
from hostdesk.models.errors import ValidationError
from hostdesk.models.listing import COUNT_CAP, ListSource, automation_warning
from hostdesk.tui.keys import bind
from hostdesk.tui.background import run_in_background
from hostdesk.tui.screens.areas import Area
from hostdesk.tui.screens.base import HostdeskScreen, needs_permission
from hostdesk.tui.widgets.biglist import BigList
from hostdesk.tui.widgets.key_footer import KeyFooter

SEARCH_DELAY = 0.02  # seconds of quiet typing before the list is searched (a keystroke is cheap)


class ListScreen(HostdeskScreen):
    HELP = ("A list of the whole area, newest first. `/` searches it; enter opens a row; "
            "space ticks rows for a later action; `e` exports the rows it shows (search and "
            "filters applied) as CSV or JSON. The line under the list says which rows you see "
            "out of how many match.")

    AUTO_FOCUS = "BigList"
    BINDINGS = [
        Binding("slash", "search_list", "Search", id="list-screen.search"),
        bind("reload", "reload", "Reload", show=False, id="list-screen.reload"),
        bind("export", "export", "Export", id="list-screen.export",
                tooltip="write the rows the list shows (the search and filters applied) "
                        "as CSV or JSON"),
        # `n` is the new record of the list: a client on the clients list, an order on the
        # orders list (above a focused widget's keys).
        bind("new", "new_record", "New", priority=True, id="list-screen.new_record"),
        Binding("M", "mass_update", "Mass update", id="list-screen.mass_update",
                tooltip="change fields or run a module command on the ticked or matching services"),
    ]

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "mass_update":
            return self.area.key == "services"
        if action == "new_record":
            return self.new_record_form() is not None and not self.search_input.has_focus
        return super().check_action(action, parameters)

    def new_record_form(self):
        """(form screen class, permission) of a new record of this list, or None."""
        if self.area.key == "clients":
            from hostdesk.models.permissions import MANAGE_CLIENTS
            from hostdesk.tui.screens.client_setup import ClientFormScreen

            return ClientFormScreen, MANAGE_CLIENTS
        if self.area.key == "orders":
            from hostdesk.models.permissions import ADD_ORDER
            from hostdesk.tui.screens.order_form import OrderFormScreen

            return OrderFormScreen, ADD_ORDER
        return None

    def action_new_record(self) -> None:
        from hostdesk.tui.screens.setup_forms import needs

        form, permission = self.new_record_form()
        if not needs(self, permission):
            return
        if hasattr(form, "read"):  # read first, then drawn once with what it starts with
            self.app.open_read(form, None)
        else:
            self.app.push_screen(form())

    def action_export(self) -> None:
        from hostdesk.tui.widgets.export_dialog import ExportDialog, ExportOutcome

        def done(outcome: ExportOutcome | None) -> None:
            if outcome is None:
                return
            if outcome.stopped:
                self.app.notify(f"Export stopped: {outcome.path} was not written",
                                severity="warning")
            else:
                self.app.notify(f"Exported {outcome.rows:,} rows to {outcome.path}")

        self.app.push_screen(ExportDialog(self.area.key, self.area.title, self.source,
                                          self.biglist.filter, self.app.admin,
                                          self.app.clock.today()), done)

    def action_mass_update(self) -> None:
        from hostdesk.models.selection import Selection
        from hostdesk.tui.screens.mass_update import MassUpdateScreen

        selection = Selection(self.source, self.biglist.filter)
        ticked = sorted(self.biglist.ticked)
        built = self.app.take_built_ahead(MassUpdateScreen)
        self.app.push_screen(built.aim(selection, ticked=ticked, shown=self.biglist)
                             if built is not None else
                             MassUpdateScreen(selection, ticked=ticked, shown=self.biglist))

    def __init__(self, area: Area, source: ListSource) -> None:
        super().__init__(name=area.key)
        self.area = area
        self.source = source
        self._search_timer: Timer | None = None
        self._search_problem: str | None = None  # why the text typed cannot be searched
        self.HELP = f"{type(self).HELP} Search by {source.search_hint}."  # F1 shows it whole

    @property
    def biglist(self) -> BigList:
        return self.query_one(BigList)

    @property
    def search_input(self) -> Input:
        return self.query_one("#list-search", Input)

    def compose(self) -> ComposeResult:
        yield self.title_bar(self.area.title)
        yield from self.compose_above_list()
        yield Input(placeholder=f"search by {self.source.search_hint}  (enter keeps it, "
                                f"escape clears it)", id="list-search", classes="-hidden")
        yield BigList(self.source, currency=self.app.settings.currency,
                      today=self.app.clock.today, timezone=self.app.settings.timezone,
                      count_cap=COUNT_CAP, id="list")
        yield Static("", id="list-status", classes="status-line")
        yield KeyFooter()

    def compose_above_list(self) -> ComposeResult:
        return iter(())

    def on_mount(self) -> None:
        self.biglist.focus()

    def reread(self) -> None:
        # Coming back shows the database's truth at the same place in the list.
        self.biglist.reload()

    @on(BigList.Changed)
    def show_status(self) -> None:
        biglist = self.biglist
        parts = [biglist.range_text]
        if biglist.filter.term:
            parts.append(f"search “{biglist.filter.term}”")
        if biglist.ticked:
            parts.append(f"{len(biglist.ticked):,} ticked")
        status = "   ·   ".join(parts)
        if self._search_problem:
            status = Content.assemble((f"⚠ {self._search_problem}", "$text-error"), "   ·   ",
                                      status)
        self.query_one("#list-status", Static).update(status, layout=False)  # one line, fixed size

    def clear_status(self) -> None:
        self.show_status()

    @on(BigList.Opened)
    def open_row(self, message: BigList.Opened) -> None:
        self.open_record(message.row_id)

    def open_record(self, row_id: int) -> None:
        self.app.open_record(self.area.key, row_id)

    # --- search ---------------------------------------------------------------------

    def action_search_list(self) -> None:
        search = self.search_input
        search.remove_class("-hidden")
        search.value = self.biglist.filter.text
        search.focus()

    def action_reload(self) -> None:
        self.biglist.reload()

    @on(Input.Changed, "#list-search")
    def search_soon(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self.apply_search)

    @on(Input.Submitted, "#list-search")
    def keep_search(self) -> None:
        self.apply_search()
        if self._search_problem is None:  # a search that cannot be read stays open to fix
            self._close_search()

    def apply_search(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        text = self.search_input.value
        self._search_problem = self.search_problem(text)
        if self._search_problem is None:
            # `replace` keeps whatever else a subclass's filter holds (status, client, dates).
            self.biglist.set_filter(replace(self.biglist.filter, text=text))
        self.show_status()  # the list keeps the last search it could read

    def search_problem(self, text: str) -> str | None:
        """Why the source cannot read `text` (its search raises ValidationError), or None.

        Asked before searching, so a half-typed `since:2026-1` is a hint in the status line,
        not a failed query.
        """
        term = text.strip()
        if not term:
            return None
        try:
            self.source.search(term)
        except ValidationError as problem:
            return problem.message
        return None

    def _close_search(self) -> None:
        self.search_input.add_class("-hidden")
        self.biglist.focus()

    def action_back(self) -> None:
        if self.search_input.has_focus:  # escape in the search box clears the search
            self.search_input.value = ""
            self.apply_search()
            self._close_search()
            return
        super().action_back()


class AutomationScreen(ListScreen):
    HELP = ("The last daily runs (`hostdesk cron`), newest first, with a warning when none "
            "succeeded in the last 24 hours. Enter shows a run's stored report. When a run "
            "held terminations back (the termination guard), `T` reviews and confirms them.")

    BINDINGS = [Binding("T", "confirm_terminations", "Confirm held terminations",
                        id="hostdesk.automation.confirm_terminations")]

    waiting: list = []  # (run, terminations waiting), oldest run first
    working = False

    def compose_above_list(self) -> ComposeResult:
        yield Static("", id="automation-warning", classes="warning-banner -hidden")

    def reread(self) -> None:
        super().reread()
        self.check_runs()

    def check_runs(self) -> None:
        from hostdesk.models.terminationguard import runs_waiting

        now = self.app.clock.now()
        run_in_background(self, lambda: (automation_warning(last_runs(20), now), runs_waiting()),
                          lambda checked: self._runs_checked(*checked),
                          group="automation-check")

    def _runs_checked(self, warning: str | None, waiting: list) -> None:
        self.waiting = waiting
        lines = [f"⚠ {warning}"] if warning else []
        for run, count in waiting:
            lines.append(f"⚠ Daily run #{run.id} ({run.run_date.isoformat()}) held {count} "
                         "terminations for an admin to confirm: T to review")
        banner = self.query_one("#automation-warning", Static)
        banner.update("\n".join(lines))
        banner.set_class(not lines, "-hidden")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "confirm_terminations":
            from hostdesk.models.permissions import RUN_DAILY_TASKS, has_permission

            allowed = has_permission(self.app.admin, RUN_DAILY_TASKS)
            return True if allowed and self.waiting and not self.working else None
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "confirm_terminations":
            from hostdesk.models.permissions import RUN_DAILY_TASKS, has_permission

            if not has_permission(self.app.admin, RUN_DAILY_TASKS):
                return needs_permission(RUN_DAILY_TASKS)
            if self.working:
                return "the held terminations are being confirmed"
            return "no daily run holds terminations back"
        return super().why_greyed(action, parameters)

    def action_confirm_terminations(self) -> None:
        from hostdesk.tui.widgets.dialogs import TypedConfirmDialog

        if not self.waiting or self.working:
            return
        run, count = self.waiting[0]

        def answered(yes: bool | None) -> None:
            if yes:
                self.working = True
                self.refresh_bindings()
                self._confirm(run.id)

        self.app.push_screen(TypedConfirmDialog(
            f"Terminate the {count} services held by daily run #{run.id}?",
            f"The run of {run.run_date.isoformat()} held back {count} terminations because "
            "there were more than the termination guard allows. Termination removes each "
            "customer's data from the server; services paid since are skipped.",
            [str(run.id)], f"terminate the services held by run #{run.id}"), answered)

    def _confirm(self, run_id: int) -> None:
        from hostdesk.automation.cron import confirm_terminations

        admin, settings = self.app.admin, self.app.settings

        def confirm() -> tuple[str, bool]:
            outcome = confirm_terminations(run_id, admin=admin, settings=settings)
            lines = [f"Daily run #{run_id}: {len(outcome.terminated)} terminated, "
                     f"{len(outcome.failed)} failed, {len(outcome.skipped)} no longer due"]
            lines += [f"{f['item']}: {f['error']}" for f in outcome.failed[:20]]
            return "\n".join(lines), outcome.ok

        run_in_background(self, confirm, lambda done: self._confirmed(*done),
                          lambda error: self._confirmed(str(error), False),
                          group="automation-confirm")

    def _confirmed(self, text: str, ok: bool) -> None:
        self.working = False
        if ok:
            self.say_done(text)
        else:
            self.say_error("Held terminations: not everything worked", text)
        self.reread()
