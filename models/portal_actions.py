"""What a client portal or a payment gateway asks hostdesk to do for one client (rules §5, §7,
§10, §12): a self-service upgrade, a payment received, a cancellation request.

Each checks the acting admin's permission, that the service or invoice is the client's,
validates every input before writing anything, then calls the same rule the admin's screens
use (`models.upgrades`, `models.invoicing`, `models.cancellations`) in one transaction with
an activity-log entry naming the client and the integration. Running the module jobs a
payment queued is `automation.portal`'s part (it talks to the servers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pendulum

from typing import TYPE_CHECKING

from hostdesk.models import audit
from hostdesk.models.db import database
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.parsing import clean_text, parse_amount, parse_date, parse_int_id
from hostdesk.models.permissions import (
    require,
    MANAGE_CANCELLATIONS,
    MANAGE_INVOICES,
    UPGRADE_ORDERS,
    VIEW_SERVICES,
)
from hostdesk.models.portal import Caller, money, owned_invoice, owned_service
from hostdesk.models.schema import CancellationRequest, Payment, ServiceStatus
from hostdesk.models.settings import Settings

if TYPE_CHECKING:
    from hostdesk.models import upgrades
    from hostdesk.models.invoicing import PaymentResult

# Each action imports the rules it calls (upgrade paths, upgrades, payment methods, invoicing,
# cancellations) when it runs: a headless command is a new process per request and loads only
# what its one action needs.


# --- self-service upgrade ------------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeRequest:
    quote: upgrades.Quote
    order: upgrades.UpgradeOrder | None  # None for a quote only


def request_upgrade(service_text, product_text, cycle_text, who: Caller, *,
                    today: pendulum.Date, settings: Settings,
                    quote_only: bool = False) -> UpgradeRequest:
    """The client moves its service to another product or cycle itself: the quote of
    rules §7, and unless `quote_only` the upgrade order and invoice, exactly as an admin's
    (applied when the invoice is paid). Refused unless the service is the client's and
    active, a self-service path allows the product and cycle, and no earlier upgrade invoice
    is unpaid."""
    from hostdesk.models.upgrades import create_upgrade

    service_id = parse_int_id(service_text, "service")
    product_id = parse_int_id(product_text, "product")
    require(who.admin, VIEW_SERVICES if quote_only else UPGRADE_ORDERS)
    if quote_only:
        return UpgradeRequest(_checked_quote(service_id, product_id, cycle_text, who, today,
                                             settings), None)
    with database.atomic():
        cycle = _checked_request(service_id, product_id, cycle_text, who)
        # quoted once, by create_upgrade, with the service locked
        order = create_upgrade(service_id, product_id, cycle, today, settings, admin=who.admin)
        quote = order.quote
        audit.record(who.admin.login, "portal.upgrade", "service", service_id,
                     client_id=who.client_id,
                     description=f"self-service upgrade {who.note}: {quote.summary()}, "
                                 f"order {order.order.number}, invoice #{order.invoice.id}",
                     after={"via": who.via, "upgrade": order.upgrade.id,
                            "invoice": order.invoice.id, "payable": quote.payable})
        return UpgradeRequest(quote, order)


def _checked_request(service_id: int, product_id: int, cycle_text, who: Caller):
    """The cycle asked for, once the service is the client's own and active and a
    self-service path allows the product and cycle."""
    from hostdesk.models.upgrade_paths import check_self_service

    service = owned_service(service_id, who.client_id)
    cycle = check_self_service(service.product_id, product_id, cycle_text)
    if service.status != ServiceStatus.ACTIVE:
        raise RuleViolation(f"service #{service.id} is {service.status}; a client may upgrade "
                            "only an active service", field="service")
    return cycle


def _checked_quote(service_id: int, product_id: int, cycle_text, who: Caller,
                   today: pendulum.Date, settings: Settings) -> upgrades.Quote:
    cycle = _checked_request(service_id, product_id, cycle_text, who)
    from hostdesk.models.upgrades import quote_upgrade

    return quote_upgrade(service_id, product_id, cycle, today, settings)


# --- payment received ----------------------------------------------------------------------


@dataclass
class PaymentReceived:
    result: PaymentResult
    fee: Decimal
    job_ids: list[int] = field(default_factory=list)  # module jobs the payment queued

    @property
    def duplicate(self) -> bool:
        return self.result.duplicate


@dataclass(frozen=True)
class PaymentInput:
    amount: Decimal
    method: str
    ref: str
    date: pendulum.Date
    fee: Decimal


def parse_payment(amount_text, method_text, ref_text, date_text, fee_text, *,
                  today: pendulum.Date) -> PaymentInput:
    """A gateway's payment, checked field by field: an amount above zero with at most two
    decimals, a known payment method, a transaction reference (what makes a retried callback
    a duplicate), a real date (default today) and an optional fee not above the amount."""
    from hostdesk.models.invoicing import CREDIT_METHOD
    from hostdesk.models.payment_methods import check_method

    amount = parse_amount(amount_text, "amount", allow_zero=False)
    method = check_method(method_text, "method")
    if method == CREDIT_METHOD:
        raise ValidationError("method", "credit is applied by an admin, not reported by a "
                                        "gateway")
    ref = clean_text(ref_text, "ref", 200, required=True)
    date = today if date_text in (None, "") else parse_date(date_text, "date")
    fee = Decimal("0.00") if fee_text in (None, "") else parse_amount(fee_text, "fee")
    if fee > amount:
        raise ValidationError("fee", "must not be more than the amount")
    return PaymentInput(amount, method, ref, date, fee)


def receive_payment(invoice_text, payment: PaymentInput, who: Caller, *,
                    today: pendulum.Date, settings: Settings) -> PaymentReceived:
    """Record a gateway's payment on the client's invoice (rules §5) through
    `invoicing.record_payment`: the same reference again is a duplicate and writes nothing;
    an overpayment becomes credit. Returns the module jobs (unsuspend, Change Package,
    create) the payment queued, for `automation.portal` to run at once."""
    from hostdesk.models.invoicing import record_payment

    invoice_id = parse_int_id(invoice_text, "invoice")
    require(who.admin, MANAGE_INVOICES)
    with database.atomic():
        owned_invoice(invoice_id, who.client_id)
        result = record_payment(invoice_id, payment.amount, date=payment.date,
                                method=payment.method, transaction_ref=payment.ref,
                                admin=who.admin, today=today, settings=settings)
        if result.duplicate:
            return PaymentReceived(result, Decimal("0.00"))
        if payment.fee:
            Payment.update(fee=payment.fee).where(Payment.id == result.payment.id).execute()
        job_ids = list(result.module_jobs)
        audit.record(who.admin.login, "portal.payment", "invoice", invoice_id,
                     client_id=who.client_id,
                     description=f"payment of {money(payment.amount)} ({payment.method}, "
                                 f"ref {payment.ref}) received {who.note}",
                     after={"via": who.via, "payment": result.payment.id,
                            "amount": payment.amount, "fee": payment.fee,
                            "credited": result.credited, "module_jobs": job_ids})
        return PaymentReceived(result, payment.fee, job_ids)


# --- cancellation request ------------------------------------------------------------------


def request_cancellation_for(service_text, cancel_type: str, reason: str, who: Caller, *,
                             disable_domain_auto_renew: bool = False,
                             admin_notice_email: str = "",
                             company_name: str = "") -> CancellationRequest:
    """The client asks to cancel its service (rules §10), as `request_cancellation` does for
    an admin, refused for another client's service."""
    from hostdesk.models.cancellations import request_cancellation

    service_id = parse_int_id(service_text, "service")
    require(who.admin, MANAGE_CANCELLATIONS)
    with database.atomic():
        owned_service(service_id, who.client_id)
        request = request_cancellation(
            service_id, cancel_type, reason, admin=who.admin,
            disable_domain_auto_renew=disable_domain_auto_renew,
            admin_notice_email=admin_notice_email, company_name=company_name)
        audit.record(who.admin.login, "portal.cancellation", "service", service_id,
                     client_id=who.client_id,
                     description=f"{request.type} cancellation requested {who.note}",
                     after={"via": who.via, "request": request.id})
        return request


# --- what the headless commands print (shapes: automation/schemas/*.json) -------------------


def upgrade_json(request: UpgradeRequest, currency: str) -> dict:
    quote, placed = request.quote, request.order
    return {
        "service": quote.service_id,
        "quote_only": placed is None,
        "currency": currency,
        "from": {"product": {"id": quote.old_product_id, "name": quote.old_product_name},
                 "cycle": quote.old_cycle.value, "recurring_amount": money(quote.old_amount)},
        "to": {"product": {"id": quote.new_product_id, "name": quote.new_product_name},
               "cycle": quote.new_cycle.value, "recurring_amount": money(quote.new_amount)},
        "quote": {"today": quote.today.isoformat(),
                  "next_due_date": day_or_none(quote.next_due_date),
                  "next_due_date_after": day_or_none(quote.new_next_due_date),
                  "days_remaining": quote.days_remaining,
                  "old_period_days": quote.old_period_days,
                  "new_period_days": quote.new_period_days,
                  "credit": money(quote.credit), "charge": money(quote.charge),
                  "discount": money(quote.discount), "payable": money(quote.payable),
                  "credit_to_client": money(quote.credit_to_client)},
        "warnings": list(quote.warnings),
        "order": None if placed is None else {
            "upgrade": placed.upgrade.id, "order_number": placed.order.number,
            "invoice": placed.invoice.id, "invoice_status": placed.invoice.status,
            "invoice_total": money(placed.invoice.total)},
    }


def cancellation_json(request: CancellationRequest) -> dict:
    return {"request": request.id, "service": request.service_id, "type": request.type,
            "reason": request.reason, "status": request.status}


def day_or_none(value) -> str | None:
    return None if value is None else value.isoformat()
