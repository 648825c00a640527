"""The module queue (rules §8): module commands started by automation that failed.

A failed job keeps the last error for admins to read; the daily run retries it (at most once
a day, up to `module_max_attempts` tries), and an admin may retry or dismiss it by hand. One
open job per service and command: a command that fails again updates that job.

Running a module is `automation`'s work, so `retry` and `retry_due` take the function that
runs a job (`execute(job) -> result with .success and .message`) and do the bookkeeping.
"""

import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable

import pendulum
from peewee import JOIN

from hostdesk.models import audit
from hostdesk.models.db import database
from hostdesk.models.errors import HostdeskError, RuleViolation, ValidationError
from hostdesk.models.permissions import SERVER_OPERATIONS, SYSTEM_ADMIN, require
from hostdesk.models.schema import Admin, Client, ModuleJob, Service

QUEUED = "queued"
FAILED = "failed"
DONE = "done"
DISMISSED = "dismissed"
OPEN = (QUEUED, FAILED)
SECRET_ARGUMENTS = frozenset({"password", "new_password"})


@dataclass(frozen=True)
class _Failed:
    message: str
    success: bool = False


@dataclass
class QueueRunResult:
    """The shape of `automation.run_context.TaskResult`, so the daily run can report it as is."""

    done: int = 0
    failures: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    items: list = field(default_factory=list)  # dry run: the jobs it would retry


def enqueue_failure(service_id: int, command: str, arguments: dict, error: str, *,
                    source: str = "cron", admin: Admin) -> ModuleJob:
    """Record a failed automated command (call in the transaction that logs the failure)."""
    secrets = SECRET_ARGUMENTS & set(arguments)
    if secrets:
        raise ValidationError("arguments", f"{', '.join(sorted(secrets))} cannot be queued: "
                                           "the queue is not encrypted")
    now = pendulum.now("UTC")
    with database.atomic():
        job = (ModuleJob.select()
               .where(ModuleJob.service == service_id, ModuleJob.command == command,
                      ModuleJob.status.in_(OPEN))
               .order_by(ModuleJob.id).first())
        if job is None:
            job = ModuleJob.create(service=service_id, command=command, status=FAILED,
                                   arguments=json.dumps(arguments, sort_keys=True), attempts=1,
                                   last_error=error, source=source, created_at=now,
                                   updated_at=now)
            audit.record(admin.login, "module_job.queue", "module_job", job.id,
                         description=f"{command} of service #{service_id} failed; queued for "
                                     f"retry: {error}",
                         after=_job_state(job))
            return job
        before = _job_state(job)
        (ModuleJob.update(status=FAILED, attempts=ModuleJob.attempts + 1, last_error=error,
                          arguments=json.dumps(arguments, sort_keys=True), updated_at=now)
         .where(ModuleJob.id == job.id).execute())
        job = ModuleJob.get_by_id(job.id)
        audit.record(admin.login, "module_job.fail", "module_job", job.id,
                     description=f"{command} of service #{service_id} failed again: {error}",
                     before=before, after=_job_state(job))
        return job


def record_success(service_id: int, command: str, admin: Admin) -> int:
    """The command succeeded for this service: its open jobs are done. Returns how many."""
    with database.atomic():
        jobs = list(ModuleJob.select().where(ModuleJob.service == service_id,
                                             ModuleJob.command == command,
                                             ModuleJob.status.in_(OPEN)))
        for job in jobs:
            _set_status(job, DONE, admin, "module_job.done",
                        f"{command} of service #{service_id} succeeded")
    return len(jobs)


def withdraw(service_id: int, command: str, reason: str,
             admin: Admin) -> int:
    """The reason for a queued command is gone (e.g. the overdue invoice was paid, so a
    failed suspension must not be retried): its open jobs are dismissed. Returns how many."""
    with database.atomic():
        jobs = list(ModuleJob.select().where(ModuleJob.service == service_id,
                                             ModuleJob.command == command,
                                             ModuleJob.status.in_(OPEN)))
        for job in jobs:
            _set_status(job, DISMISSED, admin, "module_job.withdraw",
                        f"{command} of service #{service_id} withdrawn: {reason}", error=reason)
    return len(jobs)


def dismiss(job_id: int, admin: Admin) -> ModuleJob:
    """An admin gives up on a job: it leaves the queue and is never retried."""
    require(admin, SERVER_OPERATIONS)
    with database.atomic():
        job = open_job(job_id)
        _set_status(job, DISMISSED, admin, "module_job.dismiss",
                    f"{job.command} of service #{job.service_id} dismissed")
    return ModuleJob.get_by_id(job_id)


def dismiss_jobs(job_ids: list[int], admin: Admin) -> list[str]:
    """Dismiss each job; one line per job saying how it went."""
    said = []
    for job_id in job_ids:
        try:
            job = dismiss(job_id, admin)
            said.append(f"#{job.id} {job.command.replace('_', ' ')} of service "
                        f"#{job.service_id}: dismissed")
        except HostdeskError as exc:
            said.append(f"#{job_id}: {exc}")
    return said


def open_job(job_id: int) -> ModuleJob:
    job = ModuleJob.get_or_none(ModuleJob.id == job_id)
    if job is None:
        raise ValidationError("job", f"there is no module job #{job_id}")
    if job.status not in OPEN:
        raise ValidationError("job", f"module job #{job_id} is {job.status}, not waiting")
    return job


def arguments_of(job: ModuleJob) -> dict:
    return json.loads(job.arguments or "{}")


def retry(job_id: int, execute: Callable, *, admin: Admin):
    """Run an open job again now (by hand or from the daily run) and record the outcome.

    A job whose command no longer applies (the service changed status meanwhile) is
    closed with the reason, since running it would now be wrong.
    """
    job = open_job(job_id)
    try:
        result = execute(job)
    except RuleViolation as exc:
        with database.atomic():
            _set_status(job, DISMISSED, admin, "module_job.obsolete",
                        f"closed: {exc}", error=str(exc))
        raise
    except HostdeskError as exc:  # e.g. the module was uninstalled: a failed try, shown
        result = _Failed(str(exc))
    with database.atomic():
        current = ModuleJob.get_by_id(job.id)
        if result.success:
            if current.status in OPEN:
                _set_status(current, DONE, admin, "module_job.done",
                            f"{job.command} of service #{job.service_id} succeeded on retry")
        else:
            before = _job_state(current)
            (ModuleJob.update(status=FAILED, attempts=ModuleJob.attempts + 1,
                              last_error=result.message, updated_at=pendulum.now("UTC"))
             .where(ModuleJob.id == job.id).execute())
            audit.record(admin.login, "module_job.fail", "module_job", job.id,
                         description=f"retry of {job.command} for service #{job.service_id} "
                                     f"failed: {result.message}",
                         before=before, after=_job_state(ModuleJob.get_by_id(job.id)))
    return result


def pending_jobs(limit: int = 50, after_id: int = 0) -> list[ModuleJob]:
    """Open jobs for the module-queue screen, oldest first, a keyset page at a time."""
    return list(ModuleJob
                .select(ModuleJob, Service, Client)
                .join(Service, JOIN.LEFT_OUTER)
                .join(Client, JOIN.LEFT_OUTER)
                .where(ModuleJob.status.in_(OPEN), ModuleJob.id > after_id)
                .order_by(ModuleJob.id)
                .limit(limit))


def due_jobs(*, max_attempts: int, not_tried_since: pendulum.DateTime, limit: int,
             after_id: int = 0) -> list[ModuleJob]:
    """Service jobs the daily run should retry: never run, or failed before the given moment
    with tries left."""
    never_run = ModuleJob.status == QUEUED
    retryable = ((ModuleJob.status == FAILED) & (ModuleJob.updated_at < not_tried_since))
    return list(ModuleJob.select()
                .where(ModuleJob.service.is_null(False), ModuleJob.id > after_id,
                       ModuleJob.attempts < max_attempts, never_run | retryable)
                .order_by(ModuleJob.id)
                .limit(limit))


def retry_due(ctx, execute: Callable) -> QueueRunResult:
    """The daily run's retry of the queue (`ctx` is an hostdesk.automation.run_context.RunContext).

    A job is tried at most once per day, so running the daily run again the same day adds
    nothing.
    """
    day_start = pendulum.datetime(ctx.today.year, ctx.today.month, ctx.today.day,
                                  tz=ctx.settings.timezone).in_timezone("UTC")
    select = dict(max_attempts=ctx.settings.module_max_attempts, not_tried_since=day_start,
                  limit=ctx.batch_size)
    outcome = QueueRunResult(details={"retried": 0, "succeeded": 0, "failed": 0, "closed": 0})
    after_id = 0
    while batch := due_jobs(after_id=after_id, **select):
        for job in batch:
            after_id = job.id
            if ctx.dry_run:
                outcome.done += 1
                outcome.items.append(f"module job #{job.id} ({job.command} of service "
                                     f"#{job.service_id})")
                continue
            _retry_for_run(job, execute, outcome)
            ctx.heartbeat()
            ctx.progress("module_queue", outcome.details["retried"], None)
    return outcome


def _retry_for_run(job: ModuleJob, execute: Callable, outcome: QueueRunResult) -> None:
    outcome.details["retried"] += 1
    item = f"service #{job.service_id} {job.command} (module job #{job.id})"
    try:
        result = retry(job.id, execute, admin=SYSTEM_ADMIN)
    except RuleViolation:
        outcome.details["closed"] += 1
        return
    if result.success:
        outcome.done += 1
        outcome.details["succeeded"] += 1
    else:
        outcome.details["failed"] += 1
        outcome.failures.append({"item": item, "error": result.message})


def _set_status(job: ModuleJob, status: str, admin: Admin, action: str, description: str,
                *, error: str | None = None) -> None:
    before = _job_state(job)
    changes = {"status": status, "updated_at": pendulum.now("UTC")}
    if error is not None:
        changes["last_error"] = error
    ModuleJob.update(**changes).where(ModuleJob.id == job.id).execute()
    audit.record(admin.login, action, "module_job", job.id, description=description,
                 before=before, after=_job_state(ModuleJob.get_by_id(job.id)))


def _job_state(job: ModuleJob) -> dict:
    return {"status": job.status, "attempts": job.attempts, "last_error": job.last_error}


# --- queueing (the outbox for provisioning) ------------------------------------------------


_queued_jobs: ContextVar[list[int] | None] = ContextVar("queued_module_jobs", default=None)


@contextmanager
def collect_module_jobs():
    """The ids of the module jobs queued inside the block (a payment's provisioning, Change
    Package, unsuspension), so the caller can say which to run now."""
    jobs: list[int] = []
    token = _queued_jobs.set(jobs)
    try:
        yield jobs
    finally:
        _queued_jobs.reset(token)


def queue_module_job(service_id: int, command: str, *, source: str, arguments: dict | None = None,
                     addon_id: int | None = None) -> ModuleJob:
    """A module command to run outside this transaction (the outbox for provisioning)."""
    job = ModuleJob.create(service=service_id, addon=addon_id, command=command,
                           arguments=json.dumps(arguments or {}), status="queued", source=source)
    collecting = _queued_jobs.get()
    if collecting is not None:
        collecting.append(job.id)
    return job
