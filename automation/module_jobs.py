"""Running, right away, the module commands an action has just queued (a payment's
unsuspension or provisioning, an upgrade's Change Package), for the admin who is allowed to.

The screens and the headless `payment-received` both come through here. A job that fails
stays in the module queue with its error (the daily run retries it); the action that
queued it stays done.
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from models.clock import Clock
from models.errors import HostdeskError
from models.permissions import SERVER_OPERATIONS, find_admin, has_permission
from models.schema import ModuleJob
from models.settings import Settings

DONE, FAILED, NOT_RUN, WAITING = "done", "failed", "not_run", "queued"


@dataclass(frozen=True)
class JobOutcome:
    """How one queued job went: `done`, `failed` (kept in the module queue with the error),
    `not_run` (refused before the module was called, e.g. no longer applies) or `queued`
    (left for the daily run: the admin may not perform server operations)."""

    job_id: int
    service_id: int
    command: str
    status: str
    message: str = ""


def last_module_job_id() -> int:
    return ModuleJob.select(fn.COALESCE(fn.MAX(ModuleJob.id), 0)).scalar() or 0


def queued_jobs_since(service_ids, after_job_id: int) -> list[int]:
    """Ids of the jobs still queued for these services since `after_job_id`, oldest first."""
    return [job_id for (job_id,) in
            ModuleJob.select(ModuleJob.id)
            .where((ModuleJob.id > after_job_id) & ModuleJob.service.in_(list(service_ids) or [0])
                   & (ModuleJob.status == WAITING))
            .order_by(ModuleJob.id).tuples()]


def run_module_jobs(job_ids, *, login: str, clock: Clock, settings: Settings) -> list[JobOutcome]:
    """Run these queued module jobs now, in order, one outcome each.

    Without the permission to perform server operations they stay queued for the daily run.
    """
    jobs = list(ModuleJob.select().where(ModuleJob.id.in_(list(job_ids) or [0]))
                .order_by(ModuleJob.id))
    if not jobs:
        return []
    if not has_permission(find_admin(login), SERVER_OPERATIONS):
        why = f"queued for the daily run (running it now needs “{SERVER_OPERATIONS}”)"
        return [JobOutcome(job.id, job.service_id, job.command, WAITING, why) for job in jobs]
    from automation.provisioning.runner import retry_job  # loaded only when there is work

    outcomes = []
    for job in jobs:
        try:
            result = retry_job(job.id, admin_login=login, clock=clock, settings=settings)
        except HostdeskError as exc:
            outcomes.append(JobOutcome(job.id, job.service_id, job.command, NOT_RUN, str(exc)))
            continue
        outcomes.append(JobOutcome(job.id, job.service_id, job.command,
                                   DONE if result.success else FAILED, result.message or ""))
    return outcomes
