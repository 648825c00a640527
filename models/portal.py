"""The headless interface a client portal or a payment gateway calls (rules §12): every
request acts for one client, and a service or invoice that is not that client's is refused.

This module holds the ownership checks and the read-only look-ups; it reads a few rows by
key and imports nothing heavy (no email templates, no invoicing), so a look-up answers
quickly behind a web request. The actions are in `models.portal_actions`.

Views return plain JSON-ready data (the shapes are the JSON Schemas shipped in
`automation/schemas/`): money as strings with two decimals, dates as `YYYY-MM-DD`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.parsing import parse_int_id
from hostdesk.models.permissions import VIEW_SERVICES, require
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    Client,
    Invoice,
    InvoiceLine,
    Payment,
    Product,
    Service,
    ServiceAddon,
    Upgrade,
)

_VIA = re.compile(r"[a-z0-9][a-z0-9_.-]{0,49}")


@dataclass(frozen=True)
class Caller:
    """Who asks: the acting admin (the integration's account), the client the request is for,
    and the integration's name (`portal`, `stripe`) for the activity log."""

    admin: Admin
    client_id: int
    via: str

    @property
    def note(self) -> str:
        return f"for client #{self.client_id} via {self.via}"


def caller(admin: Admin, client_text, via_text: str) -> Caller:
    """Parse `--client` and `--via` (an integration name of lower-case letters, digits, `.`,
    `_` or `-`). Whether the client exists is checked where its records are read."""
    client_id = parse_int_id(client_text, "client")
    via = (via_text or "").strip()
    if not _VIA.fullmatch(via):
        raise ValidationError("via", "name the integration with lower-case letters, digits, "
                                     "'.', '_' or '-' (at most 50), for example portal or stripe")
    return Caller(admin, client_id, via)


def _not_theirs(what: str, record_id: int, client_id: int) -> RuleViolation:
    if not Client.select().where(Client.id == client_id).exists():
        raise ValidationError("client", f"there is no client #{client_id}")
    return RuleViolation(f"{what} #{record_id} is not client #{client_id}'s", field=what)


def owned_service(service_id: int, client_id: int) -> Service:
    """The service, refused when it does not exist (bad input) or is another client's."""
    service = Service.get_or_none(Service.id == service_id)
    if service is None:
        raise ValidationError("service", f"there is no service #{service_id}")
    if service.client_id != client_id:
        raise _not_theirs("service", service_id, client_id)
    return service


def owned_invoice(invoice_id: int, client_id: int) -> Invoice:
    """The invoice, refused when it does not exist (bad input) or is another client's."""
    invoice = Invoice.get_or_none(Invoice.id == invoice_id)
    if invoice is None:
        raise ValidationError("invoice", f"there is no invoice #{invoice_id}")
    if invoice.client_id != client_id:
        raise _not_theirs("invoice", invoice_id, client_id)
    return invoice


def money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def day(value) -> str | None:
    return None if value is None else value.isoformat()


# --- look-ups ----------------------------------------------------------------------------


def client_view(who: Caller, currency: str) -> dict:
    """The client as the portal shows it (no notes, no admin data)."""
    require(who.admin, VIEW_SERVICES)
    client = Client.get_or_none(Client.id == who.client_id)
    if client is None:
        raise ValidationError("client", f"there is no client #{who.client_id}")
    return {"id": client.id, "name": f"{client.first_name} {client.last_name}".strip(),
            "company": client.company, "email": client.email, "status": client.status,
            "credit": money(client.credit), "currency": currency}


def service_view(service_text, who: Caller, currency: str) -> dict:
    """A service of the client: what it is, what it costs, when it renews, its addons and
    the moves the client may make itself. Never a password."""
    from hostdesk.models.upgrade_paths import self_service_options  # only this look-up lists them

    service_id = parse_int_id(service_text, "service")
    require(who.admin, VIEW_SERVICES)
    service = owned_service(service_id, who.client_id)
    product = Product.get_by_id(service.product_id)
    addons = (ServiceAddon.select().where(ServiceAddon.service == service.id)
              .order_by(ServiceAddon.id))
    waiting = (Upgrade.select(Upgrade.id, Upgrade.invoice)
               .where((Upgrade.service == service.id) & (Upgrade.status == "pending"))
               .order_by(Upgrade.id.desc()).first())
    cancellation = CancellationRequest.select().where(
        (CancellationRequest.service == service.id)
        & (CancellationRequest.status == "open")).exists()
    return {
        "id": service.id, "client": service.client_id, "status": service.status,
        "product": {"id": product.id, "name": product.name},
        "domain": service.domain, "username": service.username,
        "cycle": service.billing_cycle,
        "first_payment_amount": money(service.first_payment_amount),
        "recurring_amount": money(service.recurring_amount),
        "currency": currency,
        "registration_date": day(service.registration_date),
        "next_due_date": day(service.next_due_date),
        "addons": [{"id": a.id, "name": a.name, "status": a.status, "cycle": a.billing_cycle,
                    "recurring_amount": money(a.recurring_amount),
                    "next_due_date": day(a.next_due_date)} for a in addons],
        "allowed_upgrades": [
            {"product": {"id": option.product_id, "name": option.product_name},
             "cycles": [{"cycle": cycle.value, "price": money(price)}
                        for cycle, price in option.cycles]}
            for option in self_service_options(service.product_id)],
        "upgrade_waiting": ({"upgrade": waiting.id, "invoice": waiting.invoice_id}
                            if waiting is not None else None),
        "cancellation_requested": cancellation,
    }


def invoice_view(invoice_text, who: Caller, currency: str) -> dict:
    """An invoice of the client: its live lines, totals, balance and payments."""
    invoice_id = parse_int_id(invoice_text, "invoice")
    require(who.admin, VIEW_SERVICES)
    invoice = owned_invoice(invoice_id, who.client_id)
    lines = (InvoiceLine.select()
             .where((InvoiceLine.invoice == invoice.id) & (InvoiceLine.cancelled == False))  # noqa: E712
             .order_by(InvoiceLine.sort_order, InvoiceLine.id))
    payments = Payment.select().where(Payment.invoice == invoice.id).order_by(Payment.id)
    return {
        "id": invoice.id, "client": invoice.client_id, "status": invoice.status,
        "date": day(invoice.date), "due_date": day(invoice.due_date),
        "paid_date": day(invoice.paid_date), "payment_method": invoice.payment_method,
        "currency": currency,
        "lines": [{"id": line.id, "kind": line.kind, "description": line.description,
                   "amount": money(line.amount), "period_start": day(line.period_start),
                   "period_end": day(line.period_end)} for line in lines],
        "total": money(invoice.total), "amount_paid": money(invoice.amount_paid),
        "balance": money(max(invoice.total - invoice.amount_paid, Decimal("0.00"))),
        "payments": [{"id": p.id, "date": day(p.date), "amount": money(p.amount),
                      "fee": money(p.fee), "method": p.method, "ref": p.transaction_ref}
                     for p in payments],
    }
