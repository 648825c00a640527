"""The termination guard (rules §11): termination destroys a customer's data on the server,
so a daily run that would terminate more than `terminate_guard_percent` of the live services
or more than `terminate_guard_count` of them terminates nothing. It records the terminations
it held back, alerts the admins, and an admin with "run daily tasks" confirms that run's
terminations (`automation.cron.confirm_terminations`), which performs exactly those still due.

Live services are the active and suspended ones: suspended services still hold their data,
and counting them keeps the run's own suspensions from shrinking the base.
"""

from dataclasses import dataclass

import pendulum

from hostdesk.models import audit, cancellations, overdue
from hostdesk.models.admins import notice_recipients
from hostdesk.models.db import database, insert_rows
from hostdesk.models.emails import email_context, queue_email
from hostdesk.models.listing import service_totals
from hostdesk.models.schema import Admin, CronRun, HeldTermination, ServiceStatus
from hostdesk.models.settings import Settings

OVERDUE, FIXED_TERM = "overdue", "fixed_term"
PAGE = 1000


@dataclass(frozen=True)
class Plan:
    terminations: list  # [(service id, kind)]
    live: int

    @property
    def count(self) -> int:
        return len(self.terminations)


OPEN = ("held", "confirmed")


def held_among(service_ids) -> set[int]:
    """Which of `service_ids` wait in a held termination (no run terminates them unconfirmed)."""
    ids = list(service_ids)
    if not ids:
        return set()
    return {sid for (sid,) in HeldTermination.select(HeldTermination.service)
            .where(HeldTermination.service.in_(ids) & HeldTermination.status.in_(OPEN)).tuples()}


def live_services() -> int:
    """From the per-status counter the database keeps (migration 0022): counting the rows
    read a million index entries each run."""
    totals = service_totals()
    return totals.get(ServiceStatus.ACTIVE, 0) + totals.get(ServiceStatus.SUSPENDED, 0)


def plan(today: pendulum.Date, settings: Settings) -> Plan:
    """Every overdue and fixed-term termination the run would do today."""
    planned, seen = [], set()
    for kind, select in ((OVERDUE, lambda after: overdue.services_to_terminate(
                              today, settings, after_id=after, limit=PAGE)),
                         (FIXED_TERM, lambda after: [s.id for s in cancellations.due_fixed_term(
                              today, after_id=after, limit=PAGE)])):
        after = 0
        while ids := select(after):
            held = held_among(ids)  # already waiting for an admin: not planned again
            planned.extend((sid, kind) for sid in ids if sid not in seen and sid not in held)
            seen.update(ids)
            after = ids[-1]
    return Plan(planned, live_services())


def exceeds(count: int, live: int, settings: Settings) -> bool:
    return (count > settings.terminate_guard_count
            or count * 100 > settings.terminate_guard_percent * live)


def why(plan_: Plan, settings: Settings) -> str:
    return (f"{plan_.count} terminations of {plan_.live} live services exceed the termination "
            f"guard ({settings.terminate_guard_percent}% or {settings.terminate_guard_count})")


def confirm_command(run_id: int) -> str:
    return f"hostdesk cron --confirm-terminations {run_id}"


def hold(run_id: int, plan_: Plan, settings: Settings) -> int:
    """Record the held terminations and alert the admins, in one transaction. Returns the
    number of admins alerted."""
    now = pendulum.now("UTC")
    recipients = notice_recipients(settings)
    message = (f"The daily run #{run_id} suspended as usual but terminated nothing: "
               f"{why(plan_, settings)}.\n\nReview the services held back and confirm with\n"
               f"    {confirm_command(run_id)}\n(or from the automation status screen). "
               "Nothing is terminated until an admin confirms.")
    with database.atomic():
        insert_rows(HeldTermination, ("run", "service", "kind", "status", "detail",
                                      "confirmed_by", "created_at"),
                    [(run_id, sid, kind, "held", "", "", HeldTermination.created_at.db_value(now))
                     for sid, kind in plan_.terminations])
        for address in recipients:
            queue_email("admin_notice", to=address, related_type="cron_run",
                        related_id=run_id,
                        context=email_context(settings, title=f"Daily run #{run_id}: "
                                              f"{plan_.count} terminations wait for your "
                                              "confirmation", message=message))
        audit.record("system", "cron.terminations_held", "cron_run", run_id,
                     description=f"run #{run_id} held {plan_.count} terminations: "
                                 f"{why(plan_, settings)}; alerted {len(recipients)} admins",
                     after={"held": plan_.count, "live": plan_.live})
    return len(recipients)


def waiting(run_id: int) -> list[HeldTermination]:
    return list(HeldTermination.select().where((HeldTermination.run == run_id)
                                               & (HeldTermination.status == "held"))
                .order_by(HeldTermination.service))


def runs_waiting() -> list[tuple[CronRun, int]]:
    """Every run with terminations waiting for confirmation, and how many."""
    from peewee import fn

    counts = dict(HeldTermination.select(HeldTermination.run, fn.COUNT(HeldTermination.id))
                  .where(HeldTermination.status == "held").group_by(HeldTermination.run)
                  .tuples())
    runs = CronRun.select().where(CronRun.id.in_(list(counts))).order_by(CronRun.id)
    return [(run, counts[run.id]) for run in runs]


def claim(row_id: int, admin: Admin) -> bool:
    """Take one held termination for confirmation; False if another admin took it."""
    with database.atomic():
        return (HeldTermination.update(status="confirmed", confirmed_by=admin.login,
                                       updated_at=pendulum.now("UTC"))
                .where((HeldTermination.id == row_id) & (HeldTermination.status == "held"))
                .execute()) == 1


def finish(row_id: int, status: str, detail: str = "") -> None:
    with database.atomic():
        HeldTermination.update(status=status, detail=detail, updated_at=pendulum.now("UTC")
                               ).where(HeldTermination.id == row_id).execute()


def still_due(row: HeldTermination, run_date: pendulum.Date, settings: Settings) -> bool:
    """Whether the held termination still applies (the client may have paid since)."""
    after = row.service_id - 1
    if row.kind == OVERDUE:
        return overdue.services_to_terminate(run_date, settings, after_id=after,
                                             limit=1) == [row.service_id]
    return [s.id for s in cancellations.due_fixed_term(run_date, after_id=after,
                                                       limit=1)] == [row.service_id]
