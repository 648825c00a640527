"""The headless actions that may queue module commands, with those commands run at once
instead of at the next daily run.

- A payment gateway's callback (`hostdesk payment-received`): the payment is recorded for the
  client (`models.portal_actions`), then the commands it queued (unsuspension, Change Package
  of a paid upgrade, provisioning) run.
- A self-service upgrade (`hostdesk upgrade-request`) whose invoice is zero (a downgrade) is
  paid and applied at once: its Change Package runs.

A command that fails stays in the module queue and is reported; the payment or the upgrade
stays recorded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from hostdesk.models.clock import Clock
from hostdesk.models.portal import Caller, money
from hostdesk.models.portal_actions import (
    PaymentReceived,
    UpgradeRequest,
    parse_payment,
    receive_payment,
    request_upgrade,
    upgrade_json,
)
from hostdesk.models.settings import Settings

if TYPE_CHECKING:
    from hostdesk.automation.provisioning.runner import JobOutcome


@dataclass(frozen=True)
class GatewayPayment:
    received: PaymentReceived
    jobs: list[JobOutcome]


def payment_received(invoice_text, who: Caller, *, amount, method, ref, date=None, fee=None,
                     clock: Clock, settings: Settings) -> GatewayPayment:
    """`date` (default today) is the day the payment was made; its effects (the unsuspension
    check) are judged as of that day, so a callback can be replayed."""
    payment = parse_payment(amount, method, ref, date, fee, today=clock.today())
    clock = clock.on(payment.date)
    received = receive_payment(invoice_text, payment, who, today=payment.date,
                               settings=settings)
    jobs = _run_now(received.job_ids, who, clock, settings)
    return GatewayPayment(received, jobs)


def payment_json(done: GatewayPayment, currency: str) -> dict:
    result, invoice = done.received.result, done.received.result.invoice
    payment = result.payment
    return {
        "duplicate": result.duplicate,
        "currency": currency,
        "invoice": {"id": invoice.id, "status": invoice.status, "total": money(invoice.total),
                    "amount_paid": money(invoice.amount_paid),
                    "balance": money(max(invoice.total - invoice.amount_paid,
                                         Decimal("0.00")))},
        "payment": None if payment is None else {
            "id": payment.id, "amount": money(payment.amount), "fee": money(done.received.fee),
            "method": payment.method, "ref": payment.transaction_ref,
            "date": payment.date.isoformat()},
        "credited": money(result.credited),
        "applied_lines": list(result.applied_lines),
        "module_jobs": _jobs_json(done.jobs),
    }


@dataclass(frozen=True)
class SelfServiceUpgrade:
    request: UpgradeRequest
    jobs: list[JobOutcome]


def upgrade_requested(service_text, product_text, cycle_text, who: Caller, *, clock: Clock,
                      settings: Settings, quote_only: bool = False) -> SelfServiceUpgrade:
    """`models.portal_actions.request_upgrade`, then the Change Package of an upgrade that
    was applied at once (nothing to pay)."""
    request = request_upgrade(service_text, product_text, cycle_text, who, today=clock.today(),
                              settings=settings, quote_only=quote_only)
    jobs = _run_now(request.order.module_jobs if request.order else [], who, clock, settings)
    return SelfServiceUpgrade(request, jobs)


def _run_now(job_ids: list[int], who: Caller, clock: Clock, settings: Settings) -> list:
    """The module jobs an action queued, run at once. The module runner (and the modules)
    are loaded only when there is a job: most calls queue none."""
    if not job_ids:
        return []
    from hostdesk.automation.provisioning.runner import run_queued_jobs

    return run_queued_jobs(job_ids, who.admin, clock=clock, settings=settings)


def upgrade_request_json(done: SelfServiceUpgrade, currency: str) -> dict:
    return {**upgrade_json(done.request, currency), "module_jobs": _jobs_json(done.jobs)}


def _jobs_json(jobs: list[JobOutcome]) -> list[dict]:
    return [{"job": job.job_id, "service": job.service_id, "command": job.command,
             "status": job.status, "message": job.message} for job in jobs]
