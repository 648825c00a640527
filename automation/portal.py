"""A payment gateway's callback (`hostdesk payment-received`): the payment is recorded for the
client (`models.portal_actions`), then the module commands it queued (unsuspension, Change
Package of a paid upgrade, provisioning) run at once instead of at the next daily run. A
command that fails stays in the module queue and is reported; the payment stays recorded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from automation.module_jobs import JobOutcome, run_module_jobs
from models.clock import Clock
from models.portal import Caller, money
from models.portal_actions import PaymentReceived, parse_payment, receive_payment
from models.settings import Settings


@dataclass(frozen=True)
class GatewayPayment:
    received: PaymentReceived
    jobs: list[JobOutcome]


def payment_received(invoice_text, who: Caller, *, amount, method, ref, date=None, fee=None,
                     clock: Clock, settings: Settings) -> GatewayPayment:
    """`date` (default today) is the day the payment was made; its effects (the unsuspension
    check) are judged as of that day, so a callback can be replayed."""
    payment = parse_payment(amount, method, ref, date, fee, today=clock.today(),
                            settings=settings)
    clock = clock.on(payment.date)
    received = receive_payment(invoice_text, payment, who, today=payment.date,
                               settings=settings)
    jobs = run_module_jobs(received.job_ids, login=who.login, clock=clock, settings=settings)
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
        "module_jobs": [{"job": job.job_id, "service": job.service_id, "command": job.command,
                         "status": job.status, "message": job.message} for job in done.jobs],
    }
