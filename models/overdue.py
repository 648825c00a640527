"""What the daily run suspends, terminates and reminds about (rules §4, §11).

Each selection excludes what is already done (status changed, reminder queued, module job
pending), so running the same day again finds nothing new.
"""

import pendulum
from peewee import Tuple, fn

from hostdesk.models.db import database, ids_in
from hostdesk.models.emails import queue_email
from hostdesk.models.schema import (
    Client,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ItemType,
    ModuleJob,
    Service,
    ServiceStatus,
)
from hostdesk.models.settings import Settings


def _services_with_unpaid_line_due_by(cutoff: pendulum.Date):
    """Ids of services on an unpaid invoice due by `cutoff`: read from the few unpaid overdue
    invoices (an index on status and due date), not by testing every service."""
    return (InvoiceLine.select(InvoiceLine.item_id).join(Invoice)
            .where((Invoice.status == InvoiceStatus.UNPAID) & (Invoice.due_date <= cutoff)
                   & (InvoiceLine.item_type == ItemType.SERVICE)
                   & (InvoiceLine.cancelled == False)))  # noqa: E712


def _not_overridden(today: pendulum.Date, grace_days: int = 0):
    """Not exempted by override auto-suspend: off, or its until date passed more than
    `grace_days` ago (rules §6: suspension the day after, termination only after the usual
    grace between suspension and termination, so it never follows the exemption at once)."""
    return ((Service.override_suspend == False)  # noqa: E712
            | (Service.override_suspend_until.is_null(False)
               & (Service.override_suspend_until < today.subtract(days=grace_days))))


def _no_pending_job(command: str):
    return ~fn.EXISTS(ModuleJob.select(ModuleJob.id).where(
        (ModuleJob.service == Service.id) & (ModuleJob.command == command)
        & ModuleJob.status.in_(("queued", "failed"))))


def overdue_services(today: pendulum.Date, days: int, statuses: tuple, command: str, *,
                     after_id: int = 0, limit: int = 500, override_grace_days: int = 0) -> list[int]:
    """Ids of services with an unpaid line due at least `days` ago, not exempted by override
    (nor within `override_grace_days` after its until date)."""
    cutoff = today.subtract(days=days)
    overdue_ids = sorted({item_id for (item_id,) in _services_with_unpaid_line_due_by(cutoff).tuples()
                          if item_id > after_id})
    found = []
    for start in range(0, len(overdue_ids), 1000):
        query = (Service.select(Service.id)
                 .where(ids_in(Service.id, overdue_ids[start:start + 1000])
                        & Service.status.in_(statuses)
                        & _not_overridden(today, override_grace_days)
                        & _no_pending_job(command))
                 .order_by(Service.id))
        found.extend(row[0] for row in query.tuples())
        if len(found) >= limit:
            break
    return found[:limit]


def services_to_suspend(today, settings: Settings, **page) -> list[int]:
    if not settings.suspend_enabled:
        return []
    return overdue_services(today, settings.suspend_days, (ServiceStatus.ACTIVE,), "suspend", **page)


def services_to_terminate(today, settings: Settings, **page) -> list[int]:
    if not settings.terminate_enabled:
        return []
    return overdue_services(today, settings.terminate_days,
                            (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED), "terminate",
                            override_grace_days=max(0, settings.terminate_days - settings.suspend_days),
                            **page)


# --- reminders -----------------------------------------------------------------------------

REMINDER_TEMPLATES = ("invoice_reminder", "overdue_reminder_1", "overdue_reminder_2",
                      "overdue_reminder_3")


def reminder_level(invoice_due: pendulum.Date, today: pendulum.Date, settings: Settings) -> str | None:
    """The reminder an unpaid invoice is due for today: the latest level reached, or None."""
    level = None
    if (invoice_due - today).days <= settings.reminder_days_before and today < invoice_due:
        level = "invoice_reminder"
    for number, days in enumerate(settings.overdue_reminder_days, start=1):
        if (today - invoice_due).days >= days:
            level = f"overdue_reminder_{min(number, 3)}"
    return level


def queue_reminders(today: pendulum.Date, settings: Settings, *, dry_run: bool = False,
                    after: tuple | None = None, limit: int = 500,
                    found: list | None = None) -> tuple[int, tuple | None]:
    """Queue today's reminders for one page of unpaid invoices. Returns (queued, the page's
    last (due date, id)), to pass as `after` for the next page; None after the last page.
    `found`, when given, gets "invoice #ID (template)" for each reminder due.

    Each level is sent at most once per invoice: an outbox row for it means it was sent.
    Pages follow the (status, due_date, id) index: in id order, each page walked the primary
    key over every paid invoice ever written.
    """
    horizon = today.add(days=settings.reminder_days_before)
    query = (Invoice.select(Invoice, Client).join(Client)
             .where((Invoice.status == InvoiceStatus.UNPAID) & (Invoice.due_date <= horizon)))
    if after is not None:
        due, invoice_id = after
        query = query.where(Tuple(Invoice.due_date, Invoice.id)
                            > Tuple(Invoice.due_date.db_value(due), invoice_id))
    invoices = list(query.order_by(Invoice.due_date, Invoice.id).limit(limit))
    if not invoices:
        return 0, None
    sent = {(row.related_id, row.template) for row in EmailOutbox.select(
        EmailOutbox.related_id, EmailOutbox.template).where(
        (EmailOutbox.related_type == "invoice")
        & EmailOutbox.related_id.in_([i.id for i in invoices])
        & EmailOutbox.template.in_(REMINDER_TEMPLATES))}
    queued = 0
    with database.atomic():
        for invoice in invoices:
            level = reminder_level(invoice.due_date, today, settings)
            if level is None or (invoice.id, level) in sent:
                continue
            queued += 1
            if found is not None:
                found.append(f"invoice #{invoice.id} ({level})")
            if dry_run:
                continue
            queue_email(level, to=invoice.client.email, client_id=invoice.client_id,
                        related_type="invoice", related_id=invoice.id,
                        context={"client": invoice.client, "invoice": invoice,
                                 "days_until_due": (invoice.due_date - today).days,
                                 "days_overdue": (today - invoice.due_date).days,
                                 "company_name": settings.company_name,
                                 "currency": settings.currency})
    return queued, (invoices[-1].due_date, invoices[-1].id)
