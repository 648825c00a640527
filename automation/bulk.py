"""Bulk module commands (mass update): run one command on many services, item by item.

Each item is run through the provisioning runner, so the status changes only on the module's
success. A failure is reported in the result and queued in the module queue for retry. The
caller may cancel between items (`should_stop`); what was done stays done.
"""

from dataclasses import dataclass, field
from typing import Callable

from hostdesk.automation.provisioning.runner import command_availability, run_command
from hostdesk.models.clock import Clock
from hostdesk.models.db import connection
from hostdesk.models.errors import HostdeskError
from hostdesk.models.modulequeue import enqueue_failure
from hostdesk.models.permissions import MASS_UPDATE, SERVER_OPERATIONS, require
from hostdesk.models.schema import Admin, Service
from hostdesk.models.settings import Settings


@dataclass
class BulkOutcome:
    service_id: int
    success: bool
    message: str


@dataclass
class BulkResult:
    outcomes: list = field(default_factory=list)
    cancelled: bool = False

    @property
    def succeeded(self) -> list:
        return [o for o in self.outcomes if o.success]

    @property
    def failed(self) -> list:
        return [o for o in self.outcomes if not o.success]


def unsupported(service_ids: list[int], command: str) -> dict[int, str]:
    """Services on which `command` cannot run, with the reason (for the preview)."""
    refused = {}
    with connection():
        for service in Service.select().where(Service.id.in_(service_ids)):
            available, why = command_availability(service).get(command, (False, "unknown command"))
            if not available:
                refused[service.id] = why
    return refused


def run_bulk_command(service_ids: list[int], command: str, *, admin: Admin, clock: Clock,
                     settings: Settings, arguments: dict | None = None,
                     progress: Callable[[int, int], None] = lambda done, total: None,
                     should_stop: Callable[[], bool] = lambda: False) -> BulkResult:
    require(admin, MASS_UPDATE)
    require(admin, SERVER_OPERATIONS)
    result = BulkResult()
    for done, service_id in enumerate(service_ids, start=1):
        if should_stop():
            result.cancelled = True
            break
        module_failed = False
        try:
            outcome = run_command(service_id, command, admin=admin, clock=clock,
                                  settings=settings, **(arguments or {}))
            success, message = outcome.success, outcome.message
            module_failed = not success
        except HostdeskError as exc:  # refused before the module was called: nothing to retry
            success, message = False, str(exc)
        if module_failed:
            with connection():
                enqueue_failure(service_id, command, dict(arguments or {}), message,
                                source="admin", admin=admin)
        result.outcomes.append(BulkOutcome(service_id, success, message))
        progress(done, len(service_ids))
    return result
