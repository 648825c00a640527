"""Running, right away, the module commands a screen's action has just queued (a payment's
provisioning, a Change Package, an unsuspension), for the admin who is allowed to."""

from __future__ import annotations

from peewee import fn

from models.clock import Clock
from models.errors import HostdeskError
from models.permissions import SERVER_OPERATIONS, find_admin, has_permission
from models.schema import ModuleJob
from models.settings import Settings


def last_module_job_id() -> int:
    return ModuleJob.select(fn.COALESCE(fn.MAX(ModuleJob.id), 0)).scalar() or 0


def run_new_module_jobs(service_ids, after_job_id: int, login: str, clock: Clock,
                        settings: Settings) -> list[str]:
    """Run the module jobs queued for these services since `after_job_id` (a payment's
    provisioning, Change Package or unsuspension) now; one line per job saying how it went.

    Without the permission to perform server operations they stay queued for the daily run.
    """
    from automation.provisioning.runner import retry_job  # automation is loaded only when needed

    jobs = list(ModuleJob.select().where((ModuleJob.id > after_job_id)
                                         & ModuleJob.service.in_(list(service_ids) or [0])
                                         & (ModuleJob.status == "queued"))
                .order_by(ModuleJob.id))
    if not jobs:
        return []
    if not has_permission(find_admin(login), SERVER_OPERATIONS):
        return [f"{len(jobs)} module command(s) queued for the daily run "
                f"(running them needs “{SERVER_OPERATIONS}”)"]
    said = []
    for job in jobs:
        label = job.command.replace("_", " ")
        try:
            result = retry_job(job.id, admin_login=login, clock=clock, settings=settings)
        except HostdeskError as exc:
            said.append(f"{label} of service #{job.service_id} not run: {exc}")
            continue
        outcome = "done" if result.success else "failed (kept in the module queue)"
        detail = f": {result.message}" if result.message else ""
        said.append(f"{label} of service #{job.service_id} {outcome}{detail}")
    return said
