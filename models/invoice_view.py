"""One invoice as its screen reads it, and the invoice list's filter (rules §4, §5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pendulum
from peewee import JOIN

from hostdesk.models import invoicing
from hostdesk.models.errors import ValidationError
from hostdesk.models.listing import InvoiceSource, ListFilter
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.permissions import GENERATE_DUE_INVOICES, require
from hostdesk.models.renewals import RenewalResult, generate_due_invoices
from hostdesk.models.schema import (
    Admin,
    Client,
    Invoice,
    InvoiceLine,
    ItemType,
    Order,
    Payment,
    Upgrade,
)
from hostdesk.models.settings import Settings
from hostdesk.models.upgrade_effects import upgrade_of_invoice


@dataclass
class InvoiceView:
    """One invoice as its screen shows it, read in one go."""

    invoice: Invoice
    client: Client
    order_number: str
    lines: list[InvoiceLine]
    payments: list[Payment]
    upgrade: Upgrade | None
    payment_methods: list[str] = field(default_factory=list)  # what a payment may name

    @property
    def balance(self) -> Decimal:
        return max(invoicing.balance(self.invoice), Decimal("0.00"))

    @property
    def overpaid(self) -> Decimal:
        """Paid beyond the total: it went to the client's credit."""
        return max(-invoicing.balance(self.invoice), Decimal("0.00"))

    @property
    def status(self) -> str:
        return self.invoice.status

    def service_ids(self) -> set[int]:
        return {line.item_id for line in self.lines
                if line.item_type == ItemType.SERVICE and line.item_id and not line.cancelled}


def load_invoice_view(invoice_id: int) -> InvoiceView | None:
    """The invoice screen in five queries, whatever the invoice holds."""
    invoice = (Invoice.select(Invoice, Client, Order.number)
               .join(Client, on=(Invoice.client == Client.id)).switch(Invoice)
               .join(Order, JOIN.LEFT_OUTER, on=(Invoice.order == Order.id))
               .where(Invoice.id == invoice_id).first())
    if invoice is None:
        return None
    order_number = invoice.order.number if invoice.order_id else ""
    lines = list(InvoiceLine.select().where(InvoiceLine.invoice == invoice.id)
                 .order_by(InvoiceLine.cancelled, InvoiceLine.sort_order, InvoiceLine.id))
    payments = list(Payment.select().where(Payment.invoice == invoice.id).order_by(Payment.id))
    return InvoiceView(invoice=invoice, client=invoice.client,
                       order_number=order_number or "", lines=lines,
                       payments=payments, upgrade=upgrade_of_invoice(invoice.id),
                       payment_methods=enabled_methods())


@dataclass(frozen=True)
class InvoiceFilter(ListFilter):
    """The search text plus the filter bar: status, client, due date range (inclusive)."""

    status: str = ""
    client_id: int | None = None
    due_from: pendulum.Date | None = None
    due_to: pendulum.Date | None = None

    def describe(self) -> str:
        parts = []
        if self.status:
            parts.append(self.status)
        if self.client_id:
            parts.append(f"client #{self.client_id}")
        if self.due_from or self.due_to:
            parts.append(f"due {self.due_from or '…'} – {self.due_to or '…'}")
        return ", ".join(parts)


class FilteredInvoiceSource(InvoiceSource):
    """The invoice list with the filter bar's conditions; each uses an index of `invoice`
    ((status, due_date, id), (client, status, id))."""

    def _condition(self, flt: ListFilter):
        condition = super()._condition(flt)
        if not isinstance(flt, InvoiceFilter):
            return condition
        extra = []
        if flt.status:
            extra.append(Invoice.status == flt.status)
        if flt.client_id:
            extra.append(Invoice.client == flt.client_id)
        if flt.due_from:
            extra.append(Invoice.due_date >= flt.due_from)
        if flt.due_to:
            extra.append(Invoice.due_date <= flt.due_to)
        for part in extra:
            condition = part if condition is None else (condition & part)
        return condition


def generate_due_for_client(client_id: int, today: pendulum.Date, settings: Settings, *,
                            admin: Admin) -> RenewalResult:
    """The invoice list's `G`: the daily run's billing, for one client, now."""
    require(admin, GENERATE_DUE_INVOICES)
    if Client.get_or_none(Client.id == client_id) is None:
        raise ValidationError("client", f"there is no client #{client_id}")
    return generate_due_invoices(today, settings, admin=admin,
                                 client_ids=[client_id])
