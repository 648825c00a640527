"""Mass update (issue 6): tick services, choose what changes, read the preview, apply it.

Opened with a `models.selection.Selection` (every service a list shows under its filter,
e.g. the services list filtered by product) or with service ids (the client summary). The
checklist reads only the page on screen; `A` ticks every matching row without loading any.

ctrl+s builds the preview in a thread worker: the ticked ids are resolved by keyset, then
`models.massupdate.preview` (or, for a module command, `automation.bulk.unsupported`) runs a
chunk at a time with a progress bar; escape stops it. The preview shows the first items with
their values before and after, what is refused and why, and the prorata lines and totals.
ctrl+s again applies it: field changes in one transaction (`massupdate.apply`); a module
command item by item (`automation.bulk.run_bulk_command`) after a confirmation naming how
many items, with a progress bar, `x` to stop, and a result list. The rules live in those
modules; this screen only presents them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Sequence

from rich.console import Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, ProgressBar, Select, Static
from textual.worker import get_current_worker

from hostdesk.automation.bulk import BulkResult, run_bulk_command, unsupported
from hostdesk.automation.provisioning.base import COMMAND_LABELS
from hostdesk.models import massupdate
from hostdesk.models.cycles import Cycle
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.lifecycle import (
    CHANGE_PACKAGE,
    CREATE,
    RENEW,
    SUSPEND,
    TERMINATE,
    UNSUSPEND,
    suspension_reason,
)
from hostdesk.models.massupdate import ItemPreview, MassChange
from hostdesk.models.money import format_money, sum_money
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.permissions import MASS_UPDATE, SERVER_OPERATIONS, has_permission
from hostdesk.models.prorata import ProrataLine
from hostdesk.models.schema import Service, ServiceStatus
from hostdesk.models.selection import Selection, ServiceFilter, Ticks
from hostdesk.tui.background import run_in_background
from hostdesk.tui.keys import bind
from hostdesk.tui.screens.base import TitleBar
from hostdesk.tui.screens.form import FieldRow, FormScreen
from hostdesk.tui.widgets.biglist import BigList
from hostdesk.tui.widgets.dialogs import ConfirmDialog
from hostdesk.tui.widgets.dropdown import Dropdown
from hostdesk.tui.widgets.key_footer import KeyFooter
from hostdesk.tui.widgets.mass_checklist import MassChecklist
from hostdesk.tui.widgets.payment_methods import method_choices
from hostdesk.tui.widgets.tick import Tick, TickRow

PREVIEW_ROWS = 100  # items listed in the preview and the result list; the counts cover all
CLIENT_ROWS = 20  # prorata totals listed per client
CHUNK = 2_000  # services per preview step: progress and cancel between steps
WIDE = 110  # columns from which the fields stand beside the list

FIELDS = (
    ("recurring_amount", "Recurring amount"),
    ("billing_cycle", "Billing cycle"),
    ("next_due_date", "Next due date"),
    ("status", "Status"),
    ("payment_method", "Payment method"),
    ("override_suspend_until", "Override suspend"),
)
# Bulk module commands: every built-in one but Change Password (one password for many
# services makes no sense).
COMMANDS = (CREATE, SUSPEND, UNSUSPEND, TERMINATE, CHANGE_PACKAGE, RENEW)
SHORT_NAMES = {"recurring_amount": "amount", "billing_cycle": "cycle",
               "next_due_date": "next due", "status": "status", "payment_method": "payment",
               "anchor_day": None, "override_suspend": None, "override_suspend_until": None,
               "command": None}


class Phase:
    CHOOSE = "choose"  # ticking rows and filling the form
    PREVIEWING = "previewing"  # building the preview in the background
    PREVIEW = "preview"  # reading it; ctrl+s applies
    APPLYING = "applying"  # field changes being written (one transaction)
    RUNNING = "running"  # a module command going item by item
    DONE = "done"  # the module command's results


@dataclass
class Plan:
    """What ctrl+s will do, as the preview showed it: the ids are applied as resolved."""

    ids: list[int]
    change: MassChange | None = None
    command: str | None = None
    arguments: dict = field(default_factory=dict)
    accepted_ids: list[int] = field(default_factory=list)
    refused_count: int = 0
    shown: list[ItemPreview] = field(default_factory=list)  # the first accepted items
    refused_shown: list[ItemPreview] = field(default_factory=list)
    prorata_lines: dict[int, ProrataLine] = field(default_factory=dict)  # of shown items
    prorata_count: int = 0
    prorata_totals: dict[int, list] = field(default_factory=lambda: defaultdict(list))
    client_names: dict[int, str] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return len(self.accepted_ids)

    @property
    def prorata_total(self) -> Decimal:
        return sum_money(a for amounts in self.prorata_totals.values() for a in amounts)

    def add(self, part: massupdate.Preview) -> None:
        """Count one chunk's preview, keeping only the first items for the screen."""
        for item in part.items:
            if item.refused:
                self.refused_count += 1
                if len(self.refused_shown) < PREVIEW_ROWS:
                    self.refused_shown.append(item)
            else:
                self.accepted_ids.append(item.service_id)
                if len(self.shown) < PREVIEW_ROWS:
                    self.shown.append(item)
        if part.prorata is not None:
            shown = {item.service_id for item in self.shown}
            for line in part.prorata.lines:
                self.prorata_count += 1
                self.prorata_totals[line.client_id].append(line.amount)
                if line.item_id in shown:
                    self.prorata_lines[line.item_id] = line


# --- building the preview (thread workers; no widget is touched here) --------------------


def field_plan(ids: list[int], change: MassChange, settings, progress: Callable[[int, int], None],
               stopped: Callable[[], bool]) -> Plan | None:
    plan = Plan(ids=ids, change=change)
    for start in range(0, len(ids), CHUNK):
        if stopped():
            return None
        plan.add(massupdate.preview(ids[start:start + CHUNK], change, settings))
        progress(min(start + CHUNK, len(ids)), len(ids))
    clients = sorted(plan.prorata_totals)[:CLIENT_ROWS]
    plan.client_names = massupdate.client_names(clients)
    return plan


def command_plan(ids: list[int], command: str, arguments: dict,
                 progress: Callable[[int, int], None], stopped: Callable[[], bool]) -> Plan | None:
    plan = Plan(ids=ids, command=command, arguments=arguments)
    label = COMMAND_LABELS[command]
    for start in range(0, len(ids), CHUNK):
        if stopped():
            return None
        chunk = ids[start:start + CHUNK]
        refused = unsupported(chunk, command)
        plan.accepted_ids += [i for i in chunk if i not in refused]
        plan.refused_count += len(refused)
        wanted = [i for i in chunk if (i in refused and len(plan.refused_shown) < PREVIEW_ROWS)
                  or (i not in refused and len(plan.shown) < PREVIEW_ROWS)]
        for item in massupdate.command_previews(wanted, label, refused):
            (plan.refused_shown if item.refused else plan.shown).append(item)
        progress(min(start + CHUNK, len(ids)), len(ids))
    return plan


service_titles = massupdate.service_titles


# --- showing it ---------------------------------------------------------------------------


def _override(on, until) -> str:
    if not on:
        return "none"
    return f"until {until}" if until else "never"


def change_text(item: ItemPreview, line: ProrataLine | None, currency: str) -> str:
    """`amount 10.00 → 35.00 USD · next due 2012-01-01 → 2012-01-10 when paid (8.71 USD)`."""
    parts = []
    for name, after in item.after.items():
        short = SHORT_NAMES.get(name, name)
        if short is None:
            continue
        before = item.before.get(name)
        if name == "recurring_amount":
            parts.append(f"amount {before} → {format_money(Decimal(after), currency)}")
        else:
            parts.append(f"{short} {before or '—'} → {after}")
    if "override_suspend" in item.after:
        parts.append("override " + _override(item.before["override_suspend"],
                                             item.before["override_suspend_until"])
                     + " → " + _override(item.after["override_suspend"],
                                         item.after["override_suspend_until"]))
    if "command" in item.after:
        parts.append(f"{item.after['command']} · status now {item.before['status']}")
    if line is not None:
        parts.append(f"next due {line.old_ndd} → {line.new_ndd} when paid "
                     f"({format_money(line.amount, currency)})")
    return " · ".join(parts) or "no change"


def _items_table(rows: list[tuple[str, str, Text | str]], third: str) -> Table:
    table = Table(box=None, expand=True, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("ID", justify="right", no_wrap=True, width=7)
    table.add_column("Service", no_wrap=True, overflow="ellipsis", ratio=1, min_width=12)
    # A change is never cut off: it wraps onto as many lines as it needs.
    table.add_column(third, overflow="fold", ratio=3)
    for row in rows:
        table.add_row(*row)
    return table


def preview_report(plan: Plan, currency: str, can_apply: str | None) -> Group:
    """The preview: counts, the first items before → after, the refused, the prorata."""
    parts: list = []
    what = (f"Run {COMMAND_LABELS[plan.command]} on" if plan.command else "Change")
    head = Text.assemble((f"{what} {plan.accepted:,} service(s)", "bold"),
                         f" of {len(plan.ids):,} ticked")
    if plan.refused_count:
        head.append(f" · {plan.refused_count:,} refused", style="bold red")
    if plan.command == SUSPEND:
        head.append(f" · reason: {plan.arguments.get('reason') or 'non-payment'}")
    parts.append(head)
    if plan.change is not None and plan.change.create_prorata_invoice:
        parts.append(Text.assemble(
            ("Prorata: ", "bold"),
            f"{plan.prorata_count:,} line(s) on {len(plan.prorata_totals):,} invoice(s) "
            f"(one per client), total ", (format_money(plan.prorata_total, currency), "bold"),
            "; the next due dates move only when an invoice is paid."))
    if can_apply:
        parts.append(Text(f"⚠ {can_apply}", style="bold"))
    if plan.shown:
        more = f" (the first {len(plan.shown):,})" if plan.accepted > len(plan.shown) else ""
        parts.append(Text(f"\nWill change{more}:" if not plan.command
                          else f"\nWill run on{more}:", style="bold"))
        parts.append(_items_table(
            [(str(i.service_id), i.title, change_text(i, plan.prorata_lines.get(i.service_id),
                                                      currency)) for i in plan.shown],
            "Before → after"))
    if plan.refused_shown:
        more = (f" (the first {len(plan.refused_shown):,})"
                if plan.refused_count > len(plan.refused_shown) else "")
        parts.append(Text(f"\nRefused{more}, left as they are:", style="bold"))
        parts.append(_items_table([(str(i.service_id), i.title, Text(i.refused, style="red"))
                                   for i in plan.refused_shown], "Why"))
    if plan.prorata_totals:
        parts.append(Text("\nProrata invoices:", style="bold"))
        table = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                      header_style="bold")
        table.add_column("Client", no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column("Lines", justify="right", width=6)
        table.add_column("Total", justify="right", no_wrap=True, width=18)
        for client_id in sorted(plan.prorata_totals)[:CLIENT_ROWS]:
            amounts = plan.prorata_totals[client_id]
            table.add_row(plan.client_names.get(client_id, f"client #{client_id}"),
                          str(len(amounts)), format_money(sum_money(amounts), currency))
        table.add_row(Text("Total", style="bold"), str(plan.prorata_count),
                      Text(format_money(plan.prorata_total, currency), style="bold"))
        parts.append(table)
        if plan.prorata_lines:
            parts.append(Text("\nProrata lines of the items above:", style="bold"))
            lines = Table(box=None, expand=True, pad_edge=False, show_edge=False,
                          show_header=False)
            lines.add_column("Line", no_wrap=True, overflow="ellipsis", ratio=1)
            lines.add_column("Amount", justify="right", no_wrap=True, width=18)
            for line in plan.prorata_lines.values():
                lines.add_row(line.label, format_money(line.amount, currency))
            parts.append(lines)
    return Group(*parts)


def result_report(command: str, result: BulkResult, total: int, titles: dict[int, str]) -> Group:
    """Each failure with the module's whole message, then the successes."""
    label = COMMAND_LABELS[command]
    head = Text.assemble((f"{label}: ", "bold"),
                         (f"{len(result.succeeded):,} succeeded", "bold green"), ", ",
                         (f"{len(result.failed):,} failed", "bold red" if result.failed else ""))
    if result.cancelled:
        head.append(f" · stopped after {len(result.outcomes):,} of {total:,}; the rest were "
                    "not run", style="bold")
    parts: list = [head]
    if result.failed:
        more = (f" (the first {PREVIEW_ROWS})" if len(result.failed) > PREVIEW_ROWS else "")
        parts.append(Text(f"\nFailed{more}, queued for retry in the module queue (g m):",
                          style="bold"))
        for outcome in result.failed[:PREVIEW_ROWS]:
            parts.append(Text.assemble(("✗ ", "bold red"), f"#{outcome.service_id} ",
                                       (titles.get(outcome.service_id, ""), "bold")))
            message = " ".join((outcome.message or "failed").split())
            parts.append(Padding(Text(message, style="red"), (0, 0, 0, 2)))
    if result.succeeded:
        shown = result.succeeded[:PREVIEW_ROWS]
        more = f" (the first {len(shown):,})" if len(result.succeeded) > len(shown) else ""
        parts.append(Text(f"\nSucceeded{more}:", style="bold"))
        parts.append(_items_table(
            [(str(o.service_id), titles.get(o.service_id, ""),
              Text(f"✓ {' '.join((o.message or 'done').split())}", style="green"))
             for o in shown], "Result"))
    return Group(*parts)


def field_error_id(name: str) -> str:
    return f"error-{name}"


# --- the screen -----------------------------------------------------------------------------


class MassUpdateScreen(FormScreen):
    """Tick services, choose field changes or a module command, preview, apply."""

    HELP = ("Mass update. Tick the services in the list (space, a on screen, A every matching "
            "row, N none, i invert), then tab to the fields: tick each field to change and "
            "give its value, or choose a module command instead. ctrl+s shows the preview: "
            "each item before and after, the prorata lines and totals, and what is refused "
            "and why. ctrl+s again applies it (field changes all together in one "
            "transaction, refused items left out) or runs the command item by item (x stops "
            "it); escape goes back to change the choice.")

    AUTO_FOCUS = "#mass-list"
    BINDINGS = [
        bind("save", "preview", "Preview", id="mass.preview",
                tooltip="see what would change before anything is written"),
        bind("save", "apply", "Apply", id="mass.apply",
                tooltip="apply the preview: field changes in one transaction, or run the command"),
        Binding("x", "stop", "Stop", id="mass.stop",
                tooltip="stop the module command after the item it is on"),
        bind("reload", "reload", "Reload", show=False, id="mass.reload"),
    ]

    class Progress(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    def __init__(self, items: Selection | Sequence[int], *, ticked: Sequence[int] | Ticks = (),
                 label: str = "", shown: BigList | None = None, ahead: bool = False) -> None:
        """`shown`: the list of `items` it is opened from, whose rows it starts with.
        `ahead`: built ahead, off the stack (`build_ahead`); `aim` gives it what it is
        opened for."""
        super().__init__()
        self.ahead = ahead
        self._take(items, ticked, label, shown)
        self.phase = Phase.CHOOSE
        self.plan: Plan | None = None
        self.note = ""  # the last result, kept on the status line until the next preview
        self._request = 0  # which preview the screen waits for (a stopped one is ignored)
        self._stop = threading.Event()

    def _take(self, items: Selection | Sequence[int], ticked: Sequence[int] | Ticks,
              label: str, shown: BigList | None) -> None:
        self.shown = shown
        self.selection = items if isinstance(items, Selection) else Selection.of_services(items)
        if self.selection.model is not Service:
            raise ValueError("mass update works on services")
        if isinstance(ticked, Ticks):
            self.initial_ticks = ticked.copy()
        else:
            self.initial_ticks = Ticks(marked=set(ticked))
        self.label = label or self._describe()
        self.heading = f"Mass update · {self.label}"  # the help screen's title

    @classmethod
    def build_ahead(cls, app, back_on=None) -> None:
        """Build the mass update of the services list off the stack, when that list is come
        back to (`HostdeskApp.build_ahead`): `M` on it then aims it at its selection (`aim`)
        and pushes it, without composing it (issue 17)."""
        if app.is_built_ahead(cls) or getattr(back_on, "name", None) != "services":
            return
        app.build_ahead(cls(Selection(back_on.source), ahead=True))

    def aim(self, items: Selection, *, ticked: Sequence[int] | Ticks = (),
            shown: BigList | None = None) -> MassUpdateScreen:
        """What this screen, built ahead, is opened for (as the constructor takes it)."""
        self._take(items, ticked, "", shown)
        self.ahead = False
        self.query_one(TitleBar).set_title(self.heading)
        self.checklist.aim(self.selection, self.initial_ticks)
        self._start()
        return self

    def _describe(self) -> str:
        flt = self.selection.flt
        if isinstance(flt, ServiceFilter):
            return flt.describe()
        return f"search “{flt.term}”" if flt.term else "every service"

    # --- layout -----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Wide or not before the widgets mount: set on the first resize, it would style and
        # lay out the whole screen a second time.
        self.set_class(self.app.size.width >= WIDE, "-wide", update=False)
        yield self.title_bar(self.heading)
        with Vertical(id="mass-body"):
            yield MassChecklist(self.selection, self.initial_ticks,
                                currency=self.app.settings.currency, today=self.app.clock.today,
                                id="mass-list")
            with Vertical(id="mass-form"):
                yield from self._compose_fields()
        # The report, the progress bar and the messages under the fields are made when
        # first needed (`_report`, `_progress`, `_error_widget`): the screen opens faster.
        yield Static("", id="mass-status", classes="status-line")
        yield KeyFooter()

    def _compose_fields(self) -> ComposeResult:
        # One widget per field and its tick (`TickRow`), labels drawn by their rows: each
        # widget costs 1-3 ms to open (issue 17).
        for name, label in FIELDS:
            fields = [self._value_widget(name)]
            if name == "next_due_date":
                fields.append(Tick("create prorata invoice", id="prorata", compact=True))
            yield TickRow(label, *fields, id=f"tick-{name}")
        yield FieldRow("Or module command",
                       Dropdown([(COMMAND_LABELS[c], c) for c in COMMANDS], id="command",
                                prompt="none", compact=True),
                       Input("", id="command-reason",
                             placeholder="suspend reason (blank: non-payment)", compact=True,
                             disabled=True),
                       id="command-row")

    @staticmethod
    def _value_widget(name: str):
        widget_id = f"value-{name}"
        if name == "billing_cycle":
            return Dropdown([(c.label, c.value) for c in Cycle], id=widget_id, prompt="choose",
                          compact=True)
        if name == "status":
            return Dropdown([(s.capitalize(), s) for s in ServiceStatus.ALL], id=widget_id,
                          prompt="choose", compact=True)
        if name == "payment_method":  # the managed list, filled once read (_load_methods)
            return Dropdown([], id=widget_id, prompt="choose", compact=True)
        placeholder = {"recurring_amount": "0.00", "next_due_date": "YYYY-MM-DD",
                       "override_suspend_until": "YYYY-MM-DD, never, or empty to clear"}[name]
        return Input("", id=widget_id, placeholder=placeholder, compact=True)

    def _error_widget(self, name: str) -> Static:
        """The message line under a field (`fields`: under them all), made the first time."""
        found = self.query(f"#{field_error_id(name)}")
        if found:
            return found.first(Static)
        line = Static("", id=field_error_id(name), classes="field-error")
        form = self.query_one("#mass-form")
        if name == "command":
            form.mount(line, after="#command-row")
        elif name in dict(FIELDS):
            form.mount(line, after=f"#tick-{name}")
        else:
            form.mount(line)
        return line

    def _report(self) -> VerticalScroll:
        """Where the preview and the results are shown, made the first time."""
        found = self.query("#mass-report")
        if found:
            return found.first(VerticalScroll)
        report = VerticalScroll(id="mass-report", classes="-hidden")
        self.mount(report, after="#mass-body")
        report.mount(Static("", id="mass-report-text"))  # in the DOM at once, unlike children
        return report

    def _report_text(self, text) -> None:
        self._report().query_one("#mass-report-text", Static).update(text)

    def _progress(self) -> Horizontal:
        """The progress line of a preview or a run, made the first time."""
        found = self.query("#mass-progress")
        if found:
            return found.first(Horizontal)
        progress = Horizontal(id="mass-progress", classes="-hidden")
        self.mount(progress, before="#mass-status")
        progress.mount(Label("", id="mass-progress-label"),
                       ProgressBar(show_eta=False, id="mass-progress-bar"))
        return progress

    def on_mount(self) -> None:
        if not has_permission(self.app.admin, MASS_UPDATE):
            self.mount(Static(f"⚠ Your role ({self.app.admin.role}) lacks the permission "
                              f"“{MASS_UPDATE}”: you can preview, but not apply.",
                              id="mass-banner", classes="warning-banner"), before="#mass-body")
        self._read_at_mount = True
        if self.ahead:
            self._load_methods()  # (off the stack: read now, not as it opens)
        else:
            self._start()

    def _start(self) -> None:
        checklist = self.checklist
        # Drawn at once with the rows of the list it was opened from, read again meanwhile;
        # else read now, while the screen is laid out, not once it is shown (`reread`).
        started = self.shown is not None and checklist.start_from(self.shown)
        self.shown = None  # (not kept: the list may change while this screen is open)
        self._show_phase(Phase.CHOOSE)
        if started:
            # Once it is drawn and the admin pauses: a thread reading meanwhile would slow
            # the drawing down (on PostgreSQL its new connection costs the server a process).
            # The rows shown are the list's, just read.
            self.call_after_refresh(self.app.when_idle, self._read_after_drawn)
        else:
            checklist.reload()
        if not self._methods_read:
            if started:
                self.call_after_refresh(self._load_methods)
            else:
                self._load_methods()

    def _read_after_drawn(self) -> None:
        if self.is_attached and self.phase == Phase.CHOOSE:  # (not left, nothing started)
            self.checklist.reread_quietly()

    _methods_read = False  # the payment methods were read (built ahead: before it opened)

    def _load_methods(self) -> None:
        run_in_background(self, enabled_methods, self._methods_loaded, group="mass-methods")

    def _methods_loaded(self, methods: list[str]) -> None:
        if not self.is_attached:  # left before the list was read
            return
        self._methods_read = True
        picker = self.query_one("#value-payment_method", Select)
        chosen = picker.value
        with picker.prevent(Select.Changed):  # a reload neither ticks nor unticks the field
            picker.set_options(method_choices(methods))
            if chosen in methods:  # and keeps what was picked
                picker.value = chosen

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    _read_at_mount = False

    def reread(self) -> None:
        if self._read_at_mount:  # shown first: what it shows was just read
            self._read_at_mount = False
            return
        if self.phase == Phase.CHOOSE:
            self.checklist.reload()  # coming back shows the database's truth
            self._load_methods()

    @property
    def checklist(self) -> MassChecklist:
        return self.query_one(MassChecklist)

    def _show_phase(self, phase: str) -> None:
        self.phase = phase
        choosing = phase == Phase.CHOOSE
        self.query_one("#mass-body").display = choosing
        if not choosing or self.query("#mass-report"):
            self._report().set_class(choosing, "-hidden")
        working = phase in (Phase.PREVIEWING, Phase.APPLYING, Phase.RUNNING)
        if working or self.query("#mass-progress"):
            self._progress().set_class(not working, "-hidden")
        if choosing:
            self.checklist.focus()
        elif phase in (Phase.PREVIEW, Phase.DONE):
            self._report().focus()
        self.refresh_bindings()
        self._say_status()

    def _say_status(self, text: str | None = None) -> None:
        status = self.query_one("#mass-status", Static)
        if text is not None:
            status.update(Text(text))
            return
        if self.phase == Phase.CHOOSE:
            checklist = self.checklist
            ticked = checklist.ticked_count
            parts = [checklist.range_text, f"{ticked:,} ticked"
                     + (" (all matching)" if checklist.ticks.everything and ticked else "")]
            if self.note:
                parts.append(self.note)
            status.update(Text("   ·   ".join(parts)))
        elif self.phase == Phase.PREVIEW and self.plan is not None:
            verb = "run" if self.plan.command else "apply"
            status.update(f"ctrl+s {verb} to {self.plan.accepted:,} service(s)   ·   "
                          "escape back to the choice")
        elif self.phase == Phase.PREVIEWING:
            status.update("escape stops the preview (nothing is written)")
        elif self.phase == Phase.APPLYING:
            status.update("writing every change in one transaction…")
        elif self.phase == Phase.RUNNING:
            status.update("x stops the command after the service it is on")
        elif self.phase == Phase.DONE:
            status.update("escape back to the list")

    @on(MassChecklist.Changed)
    def _list_changed(self) -> None:
        if self.phase == Phase.CHOOSE:
            self._say_status()

    # --- the form ---------------------------------------------------------------------

    @on(Input.Changed, ".tick-row > Input")
    def _typed(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("value-")
        if event.value.strip() and name in dict(FIELDS):
            self.query_one(f"#tick-{name}", Checkbox).value = True

    @on(Select.Changed)
    def _chosen(self, event: Select.Changed) -> None:
        if event.select.id == "command":
            is_suspend = event.value == SUSPEND
            self.query_one("#command-reason", Input).disabled = not is_suspend
            return
        name = (event.select.id or "").removeprefix("value-")
        if event.value != Select.NULL and name in dict(FIELDS):
            self.query_one(f"#tick-{name}", Checkbox).value = True

    @on(Checkbox.Changed, "#prorata")
    def _prorata_ticked(self, event: Checkbox.Changed) -> None:
        if event.value:
            self.query_one("#tick-next_due_date", Checkbox).value = True

    def read_choice(self) -> tuple[MassChange | None, str | None, dict]:
        """(field change, module command, its arguments) from the form; ValidationErrors
        names each bad field."""
        form = {}
        for name, _ in FIELDS:
            if not self.query_one(f"#tick-{name}", Checkbox).value:
                continue
            value = self.query_one(f"#value-{name}").value
            form[name] = "" if value == Select.NULL else str(value)
        prorata = self.query_one("#prorata", Checkbox).value
        command = self.query_one("#command", Select).value
        if command != Select.NULL:
            if form or prorata:
                raise ValidationErrors([ValidationError(
                    "command", "choose field changes or a module command, not both")])
            arguments = {}
            if command == SUSPEND:
                reason = self.query_one("#command-reason", Input).value
                try:  # said now, not once per service after the run
                    suspension_reason(reason)
                except ValidationError as exc:
                    raise ValidationErrors([ValidationError(
                        "command", f"the suspend reason {exc.message}")]) from None
                arguments["reason"] = reason
            return None, command, arguments
        return massupdate.parse_mass_change(form, create_prorata_invoice=prorata), None, {}

    def _clear_errors(self) -> None:
        for line in self.query(".field-error"):
            line.update("")
            line.display = False

    def _show_errors(self, errors: list[ValidationError]) -> None:
        """Each message under the field it names (the first such field gets the focus)."""
        fields = dict(FIELDS)
        by_line: dict[str, list[str]] = {}
        for error in errors:
            if error.field == "create_prorata_invoice":
                if any(e.field == "next_due_date" for e in errors):
                    continue  # the date itself is wrong; say that only
                by_line.setdefault("next_due_date", []).append(error.message)
            elif error.field in fields or error.field == "command":
                by_line.setdefault(error.field, []).append(error.message)
            else:
                by_line.setdefault("fields", []).append(str(error))
        for name, messages in by_line.items():
            line = self._error_widget(name)
            line.update(Text("; ".join(messages)))
            line.display = True
        first = next(iter(by_line), None)
        if first in fields:
            self.query_one(f"#value-{first}").focus()
        elif first == "command":
            self.query_one("#command").focus()

    # --- keys ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "preview":
            return True if self.phase == Phase.CHOOSE else False
        if action == "apply":
            if self.phase != Phase.PREVIEW:
                return False
            return True if self.plan is not None and not self._cannot_apply(self.plan) else None
        if action == "stop":
            return True if self.phase == Phase.RUNNING else False
        return super().check_action(action, parameters)

    def why_greyed(self, action: str, parameters: tuple) -> str:
        if action == "apply":
            if self.plan is None:
                return "no preview yet"
            return self._cannot_apply(self.plan) or ""
        return super().why_greyed(action, parameters)

    def _cannot_apply(self, plan: Plan) -> str | None:
        """Why this admin cannot apply the plan, or None."""
        admin = self.app.admin
        for permission in (MASS_UPDATE, SERVER_OPERATIONS if plan.command else None):
            if permission and not has_permission(admin, permission):
                return (f"Your role ({admin.role}) lacks the permission “{permission}”: "
                        "nothing can be applied.")
        if not plan.accepted:
            return "Every ticked item is refused: nothing to apply."
        return None

    def action_back(self) -> None:
        if self.phase == Phase.PREVIEWING:
            self._request += 1
            self.workers.cancel_group(self, "mass-preview")
            self._show_phase(Phase.CHOOSE)
            self.notify("Preview stopped; nothing was written.")
        elif self.phase == Phase.PREVIEW:
            self.plan = None
            self._show_phase(Phase.CHOOSE)
        elif self.phase == Phase.DONE:
            # What was applied is done: the next escape leaves without asking.
            self.plan = None
            self.checklist.ticks.clear()
            self._clear_choice()
            self._show_phase(Phase.CHOOSE)
            self.checklist.reload()
        elif self.phase == Phase.RUNNING:
            self.notify("The module command is running: x stops it after the current item.")
        elif self.phase == Phase.CHOOSE:
            if self._has_choice():
                self.app.push_screen(
                    ConfirmDialog("Leave the mass update?",
                                  "The ticked fields and rows are not applied.", "leave"),
                    lambda leave: super(MassUpdateScreen, self).action_back() if leave else None)
            else:
                super().action_back()

    def _clear_choice(self) -> None:
        for name, _ in FIELDS:
            self.query_one(f"#tick-{name}", Checkbox).value = False
        self.query_one("#command", Select).clear()

    def _has_choice(self) -> bool:
        ticked = any(self.query_one(f"#tick-{name}", Checkbox).value for name, _ in FIELDS)
        return ticked or self.query_one("#command", Select).value != Select.NULL

    def action_reload(self) -> None:
        if self.phase == Phase.CHOOSE:
            self.checklist.reload()
            self._load_methods()

    def action_preview(self) -> None:
        if self.phase != Phase.CHOOSE:
            return
        self._clear_errors()
        try:
            change, command, arguments = self.read_choice()
        except ValidationErrors as exc:
            self._show_errors(exc.errors)
            return
        if self.checklist.ticked_count == 0:
            self.note = "tick at least one service first (space, or A for all matching)"
            self._say_status()
            return
        self.plan = None
        self.note = ""
        ticked = self.checklist.ticked_count
        self._report_text(Text(f"Building the preview of {ticked:,} ticked service(s)…"))
        self._start_progress("reading the ticked services…", None)
        self._show_phase(Phase.PREVIEWING)
        self._request += 1
        self._build_preview(self._request, self.checklist.ticks.copy(), change, command,
                            arguments)

    def action_apply(self) -> None:
        plan = self.plan
        if self.phase != Phase.PREVIEW or plan is None or self._cannot_apply(plan):
            return
        if plan.command is None:
            self._start_progress(f"applying to {plan.accepted:,} service(s) in one "
                                 "transaction…", None)
            self._show_phase(Phase.APPLYING)
            self._apply(plan)
            return
        label = COMMAND_LABELS[plan.command]
        refused = (f" {plan.refused_count:,} refused item(s) are left out."
                   if plan.refused_count else "")
        message = (f"{label} runs on {plan.accepted:,} service(s), one at a time: each "
                   f"service's module is called, and its status changes only when the module "
                   f"succeeds. Failures are queued for retry.{refused}")
        self.app.push_screen(
            ConfirmDialog(f"{label} {plan.accepted:,} service(s)?", message,
                          f"{label.lower()} {plan.accepted:,} service(s)"),
            lambda yes: self._run_command(plan) if yes else None)

    def action_stop(self) -> None:
        if self.phase == Phase.RUNNING:
            self._stop.set()
            self._progress().query_one("#mass-progress-label", Label).update(
                "stopping after this item…")

    # --- progress -----------------------------------------------------------------------

    def _start_progress(self, text: str, total: int | None) -> None:
        progress = self._progress()
        progress.query_one("#mass-progress-label", Label).update(text)
        bar = progress.query_one("#mass-progress-bar", ProgressBar)
        bar.update(total=total, progress=0)

    def on_mass_update_screen_progress(self, message: Progress) -> None:
        what = {Phase.PREVIEWING: "previewing", Phase.RUNNING: COMMAND_LABELS.get(
            self.plan.command if self.plan else "", "running")}.get(self.phase, "working")
        progress = self._progress()
        progress.query_one("#mass-progress-label", Label).update(
            f"{what} {message.done:,} of {message.total:,}")
        progress.query_one("#mass-progress-bar", ProgressBar).update(total=message.total,
                                                                    progress=message.done)

    # --- workers ------------------------------------------------------------------------

    def _build_preview(self, request: int, ticks: Ticks, change: MassChange | None,
                       command: str | None, arguments: dict) -> None:
        settings = self.app.settings

        def preview() -> Plan | None:
            worker = get_current_worker()
            ids = self.selection.resolve(ticks)

            def progress(done: int, total: int) -> None:
                self.post_message(self.Progress(done, total))

            def stopped() -> bool:
                return worker.is_cancelled

            if command is not None:
                return command_plan(ids, command, arguments, progress, stopped)
            return field_plan(ids, change, settings, progress, stopped)

        run_in_background(self, preview, lambda plan: self._previewed(request, plan, None),
                          lambda error: self._previewed(request, None, error),
                          group="mass-preview")

    def _previewed(self, request: int, plan: Plan | None, error: Exception | None) -> None:
        if self.phase != Phase.PREVIEWING or request != self._request:
            return  # an answer to a preview that was stopped
        if error is not None:
            self._show_phase(Phase.CHOOSE)
            self._refused(error, "Preview failed")
            return
        if plan is None:
            return  # stopped before it was built
        if not plan.ids:
            self.note = "none of the ticked services matches any more"
            self._show_phase(Phase.CHOOSE)
            return
        self.plan = plan
        self._report_text(preview_report(plan, self.app.settings.currency,
                                         self._cannot_apply(plan)))
        self._report().scroll_home(animate=False)
        self._show_phase(Phase.PREVIEW)

    def _apply(self, plan: Plan) -> None:
        admin, settings, today = self.app.admin, self.app.settings, self.app.clock.today()
        run_in_background(self, lambda: massupdate.apply(plan.ids, plan.change, admin, settings,
                                                         today),
                          self._applied, self._not_applied, group="mass-apply")

    def _not_applied(self, error: Exception) -> None:
        self._show_phase(Phase.PREVIEW)
        self._refused(error, "Mass update refused; nothing was changed")  # rolled back

    def _applied(self, result: massupdate.ApplyResult) -> None:
        text = f"Mass update applied: {result.updated:,} service(s) changed"
        note = f"applied: {result.updated:,} changed"
        if result.refused:
            text += f", {result.refused:,} refused and left as they were"
            note += f", {result.refused:,} refused"
        if result.invoice_ids:
            numbers = ", ".join(f"#{i}" for i in result.invoice_ids[:10])
            more = "…" if len(result.invoice_ids) > 10 else ""
            text += (f"; prorata invoice(s) {numbers}{more} — the next due dates move when "
                     "they are paid")
            note += f", invoice(s) {numbers}{more}"
        self.app.notify(text, timeout=10)
        self.plan = None
        self.note = note
        self.checklist.ticks.clear()
        self._show_phase(Phase.CHOOSE)
        self.checklist.reload()

    def _run_command(self, plan: Plan) -> None:
        if self.phase != Phase.PREVIEW:
            return
        self._stop.clear()
        self._start_progress(f"{COMMAND_LABELS[plan.command]} 0 of {plan.accepted:,}",
                             plan.accepted)
        self._show_phase(Phase.RUNNING)
        self._run(plan)

    def _run(self, plan: Plan) -> None:
        admin, clock, settings = self.app.admin, self.app.clock, self.app.settings

        def run() -> tuple[BulkResult, dict[int, str]]:
            worker = get_current_worker()
            result = run_bulk_command(
                plan.accepted_ids, plan.command, admin=admin, clock=clock, settings=settings,
                arguments=plan.arguments,
                progress=lambda done, total: self.post_message(self.Progress(done, total)),
                should_stop=lambda: self._stop.is_set() or worker.is_cancelled)
            shown = result.failed[:PREVIEW_ROWS] + result.succeeded[:PREVIEW_ROWS]
            return result, service_titles([o.service_id for o in shown])

        run_in_background(self, run, lambda ran: self._ran(*ran), self._not_run,
                          group="mass-run")

    def _not_run(self, error: Exception) -> None:
        self._show_phase(Phase.PREVIEW)
        self._refused(error, "Module command refused")

    def _ran(self, result: BulkResult, titles: dict[int, str]) -> None:
        plan = self.plan
        self._report_text(result_report(plan.command, result, plan.accepted, titles))
        self._report().scroll_home(animate=False)
        self._show_phase(Phase.DONE)
        label = COMMAND_LABELS[plan.command]
        severity = "warning" if result.failed or result.cancelled else "information"
        self.app.notify(f"{label}: {len(result.succeeded):,} succeeded, "
                        f"{len(result.failed):,} failed", severity=severity, timeout=8)

    def _refused(self, error: Exception, title: str) -> None:
        errors = error.errors if isinstance(error, ValidationErrors) else (
            [error] if isinstance(error, ValidationError) else [])
        if self.phase == Phase.CHOOSE:
            self._show_errors(errors)
            self.note = f"{title}: {error}"
            self._say_status()
        else:
            self._say_status(f"{title}: {error}")
        self.app.notify(str(error), title=title, severity="error", timeout=12)
