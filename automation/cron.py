"""The daily run (rules §11): take the lock, run the tasks in order, keep the report.

Each task is a function `task(ctx) -> TaskResult` that selects its own work with indexed
queries, processes it in bounded batches with short transactions, and skips what is already
done for the day, which is what makes a second run the same day add nothing.
"""

import json
import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

import pendulum
from peewee import OperationalError

from hostdesk.automation.run_context import RunContext, RunStopped, TaskResult
from hostdesk.models import runlock
from hostdesk.models.clock import Clock
from hostdesk.models.db import (bounded_page_cache, database, database_error_text, is_postgres,
                                run_costs)
from hostdesk.models.errors import RuleViolation, RunInProgress, ValidationError
from hostdesk.models.schema import Admin, CronRun
from hostdesk.models.settings import Settings

log = logging.getLogger("hostdesk.cron")
LOGGED_FAILURES = 100  # per task: the report keeps them all, the log the first ones
HEARTBEAT_SECONDS = 5.0  # the lock is refreshed (and checked) at most this often
RUN_PAGE_CACHE_KIB = 32_000  # SQLite's page cache during the tasks (memory: models.db)


class _RunGuard:
    """`ctx.heartbeat()`: cheap enough to call per item. Raises RunStopped when the deadline
    passed or when the lock, refreshed every few seconds, turns out no longer to be ours."""

    def __init__(self, holder: str | None, deadline_minutes: int,
                 timer: Callable[[], float] = time.monotonic):
        self.holder = holder  # None: a dry run, which holds no lock
        self.minutes = deadline_minutes
        self.timer = timer
        self.deadline = timer() + deadline_minutes * 60
        self._last_beat = timer()

    def __call__(self) -> None:
        now = self.timer()
        if now >= self.deadline:
            raise RunStopped(f"the run's deadline of {self.minutes} minutes "
                             "(setting run_deadline_minutes) passed")
        if self.holder is None or now - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        try:
            ours = runlock.heartbeat(holder=self.holder)
        except OperationalError as exc:
            raise RunStopped(f"the run lock's heartbeat failed ({database_error_text(exc)})"
                             ) from exc
        if not ours:
            raise RunStopped("the run lock is no longer held by this run (taken over or "
                             "removed), so it stopped at once: two runs never work side by side")


@dataclass
class RunReport:
    date: str
    dry_run: bool
    tasks: dict  # task name -> TaskResult as dict
    started_at: str
    finished_at: str = ""
    run_id: int | None = None
    stopped: str = ""  # why the run stopped before its end ("" when it did not)
    not_run: list = field(default_factory=list)  # tasks the run did not reach
    held_terminations: int = 0  # terminations waiting for an admin (termination guard)
    alert: dict = field(default_factory=dict)  # the admins' notice: {"to": [...]} or error

    @property
    def ok(self) -> bool:
        return not self.stopped and all(not t["failures"] for t in self.tasks.values())

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "ok": self.ok}, indent=2, default=str)


def _registered_tasks() -> list[tuple[str, Callable[[RunContext], TaskResult]]]:
    """The tasks of rules §11, in their order. Filled in by the billing and provisioning code."""
    from hostdesk.automation import daily_tasks

    return daily_tasks.TASKS


def run_daily(settings: Settings, clock: Clock, *, dry_run: bool = False,
              send_emails: bool = True, progress=None, workers: int = 1,
              database_url: str = "", timer: Callable[[], float] = time.monotonic) -> RunReport:
    """Run the daily tasks for `clock.today()`. Raises RunInProgress if another run holds the lock.

    `workers` > 1 shares the invoicing among that many processes (PostgreSQL only: SQLite has
    one writer at a time, so more processes would only wait for each other).

    The run stops at its deadline (`run_deadline_minutes`, measured by `timer`) or as soon as
    its lock is no longer its own; the report then names the reason and the tasks not run."""
    from hostdesk.models.emails import configure_defaults

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
    guard = _RunGuard(None if dry_run else holder, settings.run_deadline_minutes, timer)
    try:
        if not dry_run:
            with database.atomic():
                run_row = CronRun.create(run_date=today, holder=holder, started_at=started)
        ctx = RunContext(today=today, settings=settings, dry_run=dry_run,
                         send_emails=send_emails, progress=progress or (lambda *a: None),
                         heartbeat=guard,
                         run_id=run_row.id if run_row is not None else None,
                         workers=workers, database_url=database_url)
        results, stopped, not_run = {}, "", []
        log.info("daily run for %s started%s", today, " (dry run)" if dry_run else "",
                 extra={"run_id": ctx.run_id, "run_date": today.isoformat(), "dry_run": dry_run,
                        "workers": workers})
        for name, task in _registered_tasks():
            if stopped:
                not_run.append(name)
                continue
            log.info("task %s started", name, extra={"task": name, "run_id": ctx.run_id})
            try:
                ctx.heartbeat()
                with bounded_page_cache(RUN_PAGE_CACHE_KIB), run_costs():
                    result = task(ctx)
            except RunStopped as exc:
                stopped = str(exc)
                result = TaskResult(failures=[{"item": name, "error": f"stopped: {exc}"}])
            except Exception as exc:  # a task's crash is reported, the next task still runs
                log.exception("task %s crashed", name, extra={"task": name, "run_id": ctx.run_id})
                result = TaskResult(failures=[{"item": name, "error": f"{type(exc).__name__}: {exc}",
                                               "trace": traceback.format_exc(limit=5)}])
            _log_task(name, result, ctx.run_id)
            results[name] = asdict(result)
        report = RunReport(date=today.isoformat(), dry_run=dry_run, tasks=results,
                           started_at=started.isoformat(),
                           finished_at=pendulum.now("UTC").isoformat(),
                           run_id=run_row.id if run_row is not None else None,
                           stopped=stopped, not_run=not_run,
                           held_terminations=ctx.terminations_held or 0)
        if run_row is not None and not report.ok:
            report.alert = alert_admins(report, run_row.id, settings, send=send_emails)
        log.log(logging.INFO if report.ok else logging.ERROR,
                "daily run for %s %s", today, "succeeded" if report.ok else "failed",
                extra={"run_id": ctx.run_id, "run_date": today.isoformat(), "ok": report.ok,
                       "failed_tasks": [n for n, t in results.items() if t["failures"]]})
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
                runlock.release(holder=holder)  # only ever our own row
            except OperationalError:
                pass  # the next run takes over a lock whose process is gone



def _log_task(name: str, result: TaskResult, run_id: int | None) -> None:
    extra = {"task": name, "run_id": run_id, "done": result.done,
             "failed": len(result.failures), "details": result.details}
    log.log(logging.INFO if result.ok else logging.WARNING,
            "task %s finished: %s done, %s failed", name, result.done, len(result.failures),
            extra=extra)
    for failure in result.failures[:LOGGED_FAILURES]:
        log.warning("task %s: %s: %s", name, failure["item"], failure["error"],
                    extra={"task": name, "run_id": run_id, "item": failure["item"]})
    if len(result.failures) > LOGGED_FAILURES:
        log.warning("task %s: %s more failures (see the run's report)", name,
                    len(result.failures) - LOGGED_FAILURES, extra={"task": name, "run_id": run_id})


def _notice_text(report: RunReport, run_id: int) -> tuple[str, str]:
    failed = {name: t for name, t in report.tasks.items() if t["failures"]}
    how = f"stopped: {report.stopped}" if report.stopped else "finished with failures"
    title = f"Daily run #{run_id} for {report.date} {how}"
    lines = [f"The daily run #{run_id} for {report.date} (started {report.started_at} UTC) "
             f"{how}.", ""]
    for name, task in failed.items():
        lines.append(f"{name}: {task['done']} done, {len(task['failures'])} failed")
        lines += [f"  {f['item']}: {f['error']}" for f in task["failures"][:10]]
        if len(task["failures"]) > 10:
            lines.append(f"  ... and {len(task['failures']) - 10} more")
    lines += ["", "The automation status (g a in hostdesk) shows the run's report; "
                  "`hostdesk cron` again finishes what is left."]
    return title, "\n".join(lines)


def alert_admins(report: RunReport, run_id: int, settings: Settings, *, send: bool = True) -> dict:
    """The run's final step when it failed or stopped: an `admin_notice` to every active
    full admin with an email address and to `admin_notice_email`, queued in one transaction
    and, unless the run sends no email, delivered at once (the run's email task is over).
    Returns what the report records: {"to": [...], "sent": n} or {"error": "..."}."""
    from hostdesk.automation.mail import deliver_one
    from hostdesk.models.admins import notice_recipients
    from hostdesk.models.emails import email_context, queue_email

    title, message = _notice_text(report, run_id)
    try:
        with database.atomic():
            recipients = notice_recipients(settings)
            queued = [queue_email("admin_notice", to=address,
                                  context=email_context(settings, title=title, message=message),
                                  related_type="cron_run", related_id=run_id)
                      for address in recipients]
    except Exception as exc:  # noqa: BLE001 - the run's own failure is what matters
        log.error("could not queue the admins' notice: %s", exc, extra={"run_id": run_id})
        return {"error": f"{type(exc).__name__}: {exc}"}
    log.info("admins' notice queued for %s", ", ".join(recipients),
             extra={"run_id": run_id, "recipients": recipients})
    sent = 0
    if send:
        for email in queued:
            try:
                delivered = deliver_one(email.id, settings)
            except Exception as exc:  # noqa: BLE001 - it stays queued for the next run
                log.warning("admins' notice #%s not sent now: %s", email.id, exc,
                            extra={"run_id": run_id})
                break
            sent += delivered.sent
            if delivered.failed:
                break  # the server is down or refusing: the rest wait for the next run
    return {"to": recipients, "sent": sent}


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
    from hostdesk.models.emails import configure_defaults
    from hostdesk.models.renewals import bill_pending_chunks
    from hostdesk.models.schema import BillingChunk

    configure_defaults(settings)
    run = (CronRun.select().join(BillingChunk, on=(BillingChunk.run == CronRun.id))
           .where((CronRun.status == "running") & (BillingChunk.status == "pending"))
           .order_by(CronRun.id.desc()).first())
    if run is None:
        return None, TaskResult()
    result = bill_pending_chunks(run.id, run.run_date, settings, worker=runlock.this_holder(),
                                 send_emails=send_emails, shared=True)
    return run.id, TaskResult(done=result.invoices, failures=result.failures,
                              details={"lines": result.lines, "amount": str(result.amount)})


@dataclass
class ConfirmResult:
    run_id: int
    terminated: list = field(default_factory=list)  # service ids
    failed: list = field(default_factory=list)  # {"item", "error"}
    skipped: list = field(default_factory=list)  # {"item", "reason"}: no longer due

    @property
    def ok(self) -> bool:
        return not self.failed


def confirm_terminations(run_id: int, *, admin: Admin, settings: Settings) -> ConfirmResult:
    """An admin confirms the terminations the termination guard held back in run `run_id`
    (`hostdesk cron --confirm-terminations RUN_ID`, the automation status screen). Performs
    exactly those, as of the run's date, skipping any no longer due (paid since, say); each
    is claimed once, so two admins confirming at once never terminate a service twice."""
    from hostdesk.automation.provisioning.runner import run_command
    from hostdesk.models import audit, terminationguard
    from hostdesk.models.permissions import RUN_DAILY_TASKS, require

    require(admin, RUN_DAILY_TASKS)
    run = CronRun.get_or_none(CronRun.id == run_id)
    if run is None:
        raise ValidationError("run", f"there is no daily run #{run_id}")
    held = terminationguard.waiting(run_id)
    if not held:
        raise ValidationError("run", f"daily run #{run_id} has no terminations waiting for "
                                     "confirmation")
    holder = runlock.this_holder()
    acquired, current = runlock.acquire(holder=holder)
    if not acquired:
        raise RunInProgress(f"a daily run is in progress ({current.holder if current else '?'}); "
                            "confirm its held terminations when it has finished")
    outcome = ConfirmResult(run_id)
    clock = Clock(settings.timezone, run.run_date)
    try:
        for row in held:
            if not terminationguard.claim(row.id, admin):
                continue  # another admin is confirming this one
            item = f"service #{row.service_id}"
            if not terminationguard.still_due(row, run.run_date, settings):
                terminationguard.finish(row.id, "skipped", "no longer due for termination")
                outcome.skipped.append({"item": item, "reason": "no longer due for termination"})
                continue
            try:
                result = run_command(row.service_id, "terminate", admin=admin,
                                     clock=clock, settings=settings, source="cron")
            except (RuleViolation, ValidationError) as exc:
                terminationguard.finish(row.id, "failed", str(exc))
                outcome.failed.append({"item": item, "error": str(exc)})
                continue
            terminationguard.finish(row.id, "done" if result.success else "failed",
                                    result.message)
            if result.success:
                outcome.terminated.append(row.service_id)
            else:
                outcome.failed.append({"item": item, "error": result.message})
            runlock.heartbeat(holder=holder)
        with database.atomic():
            audit.record(admin.login, "cron.confirm_terminations", "cron_run", run_id,
                         description=f"confirmed the held terminations of daily run #{run_id}: "
                                     f"{len(outcome.terminated)} terminated, "
                                     f"{len(outcome.failed)} failed, "
                                     f"{len(outcome.skipped)} no longer due",
                         after={"terminated": outcome.terminated})
    finally:
        runlock.release(holder=holder)
    return outcome


def last_runs(limit: int = 20) -> list[CronRun]:
    return list(CronRun.select().order_by(CronRun.id.desc()).limit(limit))
