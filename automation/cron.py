"""The daily run (rules §11): take the lock, run the tasks in order, keep the report.

Each task is a function `task(ctx) -> TaskResult` that selects its own work with indexed
queries, processes it in bounded batches with short transactions, and skips what is already
done for the day, which is what makes a second run the same day add nothing.
"""

import json
import traceback
from dataclasses import asdict, dataclass
from typing import Callable

import pendulum
from peewee import OperationalError

from automation.run_context import RunContext, TaskResult
from models import runlock
from models.clock import Clock
from models.db import database, database_error_text, is_postgres
from models.errors import RunInProgress, ValidationError
from models.schema import CronRun
from models.settings import Settings


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
              send_emails: bool = True, progress=None, workers: int = 1,
              database_url: str = "") -> RunReport:
    """Run the daily tasks for `clock.today()`. Raises RunInProgress if another run holds the lock.

    `workers` > 1 shares the invoicing among that many processes (PostgreSQL only: SQLite has
    one writer at a time, so more processes would only wait for each other)."""
    from models.emails import configure_defaults

    _check_workers(workers, database_url)
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
                         else (lambda: None),
                         run_id=run_row.id if run_row is not None else None,
                         workers=workers, database_url=database_url)
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



def _check_workers(workers: int, database_url: str) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 64:
        raise ValidationError("workers", f"must be a whole number from 1 to 64, not {workers!r}")
    if workers > 1 and not is_postgres():
        raise ValidationError("workers", "more than one worker needs PostgreSQL: SQLite lets one "
                                         "process write at a time, so extra workers would only wait")
    if workers > 1 and not database_url:
        raise ValidationError("workers", "the extra workers need the database URL to connect to")


def join_run(settings: Settings, *, send_emails: bool = True) -> tuple[int | None, "TaskResult"]:
    """Help the daily run in progress with its invoicing (`hostdesk cron --join`, e.g. from
    another machine). Returns (the run's id or None when no run has chunks left, this share)."""
    from models.emails import configure_defaults
    from models.renewals import bill_pending_chunks
    from models.schema import BillingChunk

    configure_defaults(settings)
    run = (CronRun.select().join(BillingChunk, on=(BillingChunk.run == CronRun.id))
           .where((CronRun.status == "running") & (BillingChunk.status == "pending"))
           .order_by(CronRun.id.desc()).first())
    if run is None:
        return None, TaskResult()
    result = bill_pending_chunks(run.id, run.run_date, settings, worker=runlock.this_holder(),
                                 send_emails=send_emails)
    return run.id, TaskResult(done=result.invoices, failures=result.failures,
                              details={"lines": result.lines, "amount": str(result.amount)})


def last_runs(limit: int = 20) -> list[CronRun]:
    return list(CronRun.select().order_by(CronRun.id.desc()).limit(limit))
