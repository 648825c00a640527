"""What the screens say about the module commands an action has just queued and run (the
running is `automation.module_jobs`)."""

from __future__ import annotations

from automation.module_jobs import (
    DONE,
    NOT_RUN,
    WAITING,
    last_module_job_id,
    queued_jobs_since,
    run_module_jobs,
)
from models.clock import Clock
from models.settings import Settings

__all__ = ["last_module_job_id", "run_new_module_jobs"]


def run_new_module_jobs(service_ids, after_job_id: int, login: str, clock: Clock,
                        settings: Settings) -> list[str]:
    """Run the module jobs queued for these services since `after_job_id` (a payment's
    provisioning, Change Package or unsuspension) now; one line per job saying how it went."""
    outcomes = run_module_jobs(queued_jobs_since(service_ids, after_job_id), login=login,
                               clock=clock, settings=settings)
    if outcomes and outcomes[0].status == WAITING:
        return [f"{len(outcomes)} module command(s) {outcomes[0].message}"]
    said = []
    for outcome in outcomes:
        label = outcome.command.replace("_", " ")
        if outcome.status == NOT_RUN:
            said.append(f"{label} of service #{outcome.service_id} not run: {outcome.message}")
            continue
        state = "done" if outcome.status == DONE else "failed (kept in the module queue)"
        detail = f": {outcome.message}" if outcome.message else ""
        said.append(f"{label} of service #{outcome.service_id} {state}{detail}")
    return said
