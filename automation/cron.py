"""The daily run (rules §11): take the lock, run the tasks in order, keep the report.

Each task is a function `task(ctx) -> TaskResult` that selects its own work with indexed
queries, processes it in bounded batches with short transactions, and skips what is already
done for the day, which is what makes a second run the same day add nothing.
"""

import json
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

import pendulum
from peewee import OperationalError

from models import runlock
from models.clock import Clock
from models.db import database, database_error_text
from models.errors import RunInProgress
from models.schema import CronRun
from models.settings import Settings


@dataclass
class TaskResult:
    done: int = 0  # items acted on (or, in a dry run, that would be)
    failures: list = field(default_factory=list)  # [{"item": "...", "error": "..."}]
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class RunContext:
    today: pendulum.Date
    settings: Settings
    dry_run: bool = False
    send_emails: bool = True
    progress: Callable[[str, int, int | None], None] = lambda task, done, total: None
    heartbeat: Callable[[], None] = lambda: None

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size


@dataclass
class RunReport:
    date: str
    dry_run: bool
    tasks: dict  # task name -> TaskResult as dict
    started_at: str
    finished_at: str = ""

    @property
    def ok(self) -> bool:
        return all(not t["failures"] for t in self.tasks.values())

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2, default=str)


def _registered_tasks() -> list[tuple[str, Callable[[RunContext], TaskResult]]]:
    """The tasks of rules §11, in their order. Filled in by the billing and provisioning code."""
    from automation import daily_tasks

    return daily_tasks.TASKS


def run_daily(settings: Settings, clock: Clock, *, dry_run: bool = False,
              send_emails: bool = True, progress=None) -> RunReport:
    """Run the daily tasks for `clock.today()`. Raises RunInProgress if another run holds the lock."""
    from models.emails import configure_defaults

    configure_defaults(settings)
    today = clock.today()
    started = pendulum.now("UTC")
    holder = runlock.this_holder()
    if not dry_run:
        acquired, current = runlock.acquire(holder=holder)
        if not acquired:
            raise RunInProgress(
                f"a daily run is in progress ({current.holder if current else 'unknown'}, "
                f"started {current.acquired_at.to_datetime_string() if current else '?'} UTC)"
            )
    run_row = None
    try:
        if not dry_run:
            with database.atomic():
                run_row = CronRun.create(run_date=today, holder=holder, started_at=started)
        ctx = RunContext(today=today, settings=settings, dry_run=dry_run,
                         send_emails=send_emails, progress=progress or (lambda *a: None),
                         heartbeat=(lambda: runlock.heartbeat(holder=holder)) if not dry_run
                         else (lambda: None))
        results = {}
        for name, task in _registered_tasks():
            try:
                result = task(ctx)
            except Exception as exc:  # a task's crash is reported, the next task still runs
                result = TaskResult(failures=[{"item": name, "error": f"{type(exc).__name__}: {exc}",
                                               "trace": traceback.format_exc(limit=5)}])
            results[name] = asdict(result)
            ctx.heartbeat()
        report = RunReport(date=today.isoformat(), dry_run=dry_run, tasks=results,
                           started_at=started.isoformat(),
                           finished_at=pendulum.now("UTC").isoformat())
        if run_row is not None:
            try:
                with database.atomic():
                    CronRun.update(status="succeeded" if report.ok else "failed",
                                   finished_at=pendulum.now("UTC"), report=report.to_json()
                                   ).where(CronRun.id == run_row.id).execute()
            except OperationalError as exc:  # e.g. the disk is full: still say so, and how
                report.tasks["run_record"] = asdict(TaskResult(failures=[{
                    "item": f"run #{run_row.id}",
                    "error": f"the run's report could not be saved: {database_error_text(exc)}"}]))
        return report
    except BaseException:
        if run_row is not None:
            try:
                with database.atomic():
                    CronRun.update(status="failed", finished_at=pendulum.now("UTC")
                                   ).where(CronRun.id == run_row.id).execute()
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        raise
    finally:
        if not dry_run:
            try:
                runlock.release(holder=holder)
            except OperationalError:
                pass  # the next run takes over a lock whose process is gone



def last_runs(limit: int = 20) -> list[CronRun]:
    return list(CronRun.select().order_by(CronRun.id.desc()).limit(limit))
