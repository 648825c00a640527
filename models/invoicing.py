"""Invoices, lines, payments and credit (rules §4, §5).

An invoice's total is always the exact sum of its live (not cancelled) lines. Paying a line
takes effect exactly once: a line is claimed by `UPDATE ... SET applied_at WHERE applied_at IS
NULL`, and only the transaction that claims it applies its effect, however many times or by
however many admins the same payment is recorded.

Permissions (rules §12): the admin's actions on invoices — `record_payment`, `apply_credit`,
`add_credit`, `cancel_invoice`, `reopen_invoice`, `remove_line` — require "manage invoices"
before anything is read for writing. The building blocks other rules use while acting under
their own permission are not checked here: `create_invoice` (orders, upgrades, addons, mass
update), `cancel_lines` (cancellation requests, moving a service), `credit_client` (a
downgrade's credit) and `reopen_lines` (deleting a cancellation request).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

import pendulum
from peewee import SQL, IntegrityError, fn

from hostdesk.models import audit
from hostdesk.models.credit import add_client_credit as _add_credit
from hostdesk.models.credit import credit_client
from hostdesk.models.cycles import Cycle, DayBasis, day_before, is_anchored, partial_period_charge
from hostdesk.models.db import database, is_postgres
from hostdesk.models.emails import queue_email
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.items import cycle_of, model_for, period_end
from hostdesk.models.lifecycle import NON_PAYMENT_REASON
from hostdesk.models.modulequeue import collect_module_jobs, queue_module_job, withdraw
from hostdesk.models.money import format_money, sum_money
from hostdesk.models.parsing import parse_amount
from hostdesk.models.payment_methods import check_method
from hostdesk.models.permissions import MANAGE_INVOICES, require
from hostdesk.models.schema import (
    Admin,
    Client,
    ClientGroup,
    CreditEntry,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ItemType,
    LineKind,
    ModuleJob,
    Payment,
    Product,
    Service,
    ServiceAddon,
    ServiceStatus,
)
from hostdesk.models.upgrade_effects import (
    apply_upgrade,
    cancel_upgrades_of_invoice,
    reinstate_upgrades_of_invoice,
)

OVERDUE_REASON = NON_PAYMENT_REASON
NON_PAYMENT_REASONS = ("", OVERDUE_REASON)
CREDIT_METHOD = "credit"


@dataclass(slots=True)  # thousands per chunk of the daily run
class LineSpec:
    """A line to put on a new invoice."""

    kind: str
    description: str
    amount: Decimal
    item_type: str | None = None
    item_id: int | None = None
    period_start: pendulum.Date | None = None
    period_end: pendulum.Date | None = None
    upgrade: int | None = None

    def row(self, invoice_id: int, sort_order: int) -> dict:
        return dict(invoice=invoice_id, kind=self.kind, description=self.description[:500],
                    amount=self.amount, item_type=self.item_type, item_id=self.item_id,
                    period_start=self.period_start, period_end=self.period_end,
                    upgrade=self.upgrade, sort_order=sort_order)


# --- reading ---------------------------------------------------------------------------


def live_lines(invoice_id: int) -> list[InvoiceLine]:
    return list(InvoiceLine.select()
                .where((InvoiceLine.invoice == invoice_id) & (InvoiceLine.cancelled == False))  # noqa: E712
                .order_by(InvoiceLine.sort_order, InvoiceLine.id))


def balance(invoice: Invoice) -> Decimal:
    return invoice.total - invoice.amount_paid


def _lock_invoice(invoice_id: int) -> Invoice:
    """Read the invoice inside the current transaction, locked against concurrent payers.

    PostgreSQL takes a row lock; SQLite's IMMEDIATE transaction already holds the write lock.
    """
    query = Invoice.select().where(Invoice.id == invoice_id)
    if is_postgres():
        query = query.for_update()
    invoice = query.first()
    if invoice is None:
        raise ValidationError("invoice", f"invoice #{invoice_id} does not exist")
    return invoice


def _retotal(invoice_id: int) -> Decimal:
    """Set the invoice total to the exact sum of its live lines; return it."""
    cents = (InvoiceLine.select(fn.COALESCE(fn.SUM(InvoiceLine.amount), 0))
             .where((InvoiceLine.invoice == invoice_id) & (InvoiceLine.cancelled == False))  # noqa: E712
             .scalar())
    total = InvoiceLine.amount.python_value(cents)
    Invoice.update(total=total, version=Invoice.version + 1).where(Invoice.id == invoice_id).execute()
    return total


# --- creating invoices -------------------------------------------------------------------


def adopt_currency(currency: str) -> int:
    """Give the invoices written before each kept its currency (migration 0018 leaves them
    blank) the installation's `currency`; `hostdesk init` calls it. Returns how many."""
    with database.atomic():
        return Invoice.update(currency=currency).where(Invoice.currency == "").execute()


def create_invoice(client_id: int, lines: list[LineSpec], *, date: pendulum.Date,
                   due_date: pendulum.Date, payment_method: str, admin: Admin,
                   order_id: int | None = None, send_email: bool = True,
                   company_name: str = "", settings=None) -> Invoice:
    """Write one invoice with its lines (inside the caller's transaction, or its own).

    No permission check: every caller acts under its own (add new order, upgrade orders,
    edit services, mass update) and has checked it."""
    if not lines:
        raise ValidationError("lines", "an invoice needs at least one line")
    with database.atomic():
        total = sum_money(line.amount for line in lines)
        invoice = Invoice.create(client=client_id, order=order_id, date=date, due_date=due_date,
                                 payment_method=payment_method, total=total,
                                 status=InvoiceStatus.UNPAID)
        InvoiceLine.insert_many([line.row(invoice.id, i) for i, line in enumerate(lines)]).execute()
        audit.record(admin.login, "invoice.create", "invoice", invoice.id, client_id=client_id,
                     description=f"invoice #{invoice.id} for {format_money(total, invoice.currency)}",
                     after={"total": total, "due_date": due_date, "lines": len(lines)})
        if send_email:
            queue_invoice_email(invoice, company_name=company_name)
        if total == 0:
            _mark_paid(invoice, date, admin, settings=settings)
        return invoice


def queue_invoice_email(invoice: Invoice, *, company_name: str = "") -> None:
    client = Client.get_by_id(invoice.client_id)
    queue_email("invoice_created", to=client.email, client_id=client.id,
                related_type="invoice", related_id=invoice.id,
                context={"client": client, "invoice": invoice,
                         "lines": live_lines(invoice.id), "total": invoice.total,
                         "company_name": company_name})


# --- payments ----------------------------------------------------------------------------


@dataclass
class PaymentResult:
    invoice: Invoice
    payment: Payment | None
    applied_lines: list[int] = field(default_factory=list)
    credited: Decimal = Decimal("0.00")
    duplicate: bool = False
    module_jobs: list[int] = field(default_factory=list)  # queued by this payment, to run now


def record_payment(invoice_id: int, amount, *, date: pendulum.Date, method: str,
                   transaction_ref: str = "", admin: Admin,
                   today: pendulum.Date | None = None, settings=None) -> PaymentResult:
    """Record a payment; when it covers the total, mark the invoice paid and apply its lines.

    A payment on an invoice already paid (or refunded) is kept and credited to the client in
    full. The same gateway transaction (method + reference) recorded twice is refused by a
    unique index and reported as a duplicate; line effects can never run twice.
    """
    require(admin, MANAGE_INVOICES)
    with collect_module_jobs() as jobs:
        result = _record_payment(invoice_id, amount, date=date, method=method,
                                 transaction_ref=transaction_ref, admin=admin,
                                 today=today, settings=settings)
    result.module_jobs = list(jobs)
    return result


def _record_payment(invoice_id: int, amount, *, date: pendulum.Date, method: str,
                    transaction_ref: str = "", admin: Admin,
                    today: pendulum.Date | None = None, settings=None) -> PaymentResult:
    amount = parse_amount(str(amount), "amount", allow_zero=False)
    if not method or not method.strip():
        raise ValidationError("method", "is required")
    today = today or date
    try:
        with database.atomic():
            invoice = _lock_invoice(invoice_id)
            if method != CREDIT_METHOD:  # a gateway or a method of the managed list only
                method = check_method(method, "method", allow=invoice.payment_method)
            if transaction_ref.strip() and Payment.select().where(
                    (Payment.invoice == invoice.id) & (Payment.method == method.strip())
                    & (Payment.transaction_ref == transaction_ref.strip())).exists():
                return PaymentResult(invoice=invoice, payment=None, duplicate=True)
            if invoice.status == InvoiceStatus.CANCELLED:
                raise ValidationError("invoice", f"invoice #{invoice.id} is cancelled; "
                                                 "mark it unpaid before recording a payment")
            # Money received is never refused (rules §5): on a settled invoice it applies no
            # line again and all of it becomes client credit.
            settled = invoice.status in (InvoiceStatus.PAID, InvoiceStatus.REFUNDED)
            payment = Payment.create(invoice=invoice.id, amount=amount, date=date,
                                     method=method.strip(), transaction_ref=transaction_ref.strip(),
                                     admin_login=admin.login)
            paid_total = invoice.amount_paid + amount
            Invoice.update(amount_paid=paid_total, version=Invoice.version + 1).where(
                Invoice.id == invoice.id).execute()
            invoice.amount_paid = paid_total
            audit.record(admin.login, "payment.add", "invoice", invoice.id,
                         client_id=invoice.client_id,
                         description=f"payment of {format_money(amount)} ({method})",
                         after={"amount": amount, "method": method, "ref": transaction_ref,
                                "date": date})
            result = PaymentResult(invoice=invoice, payment=payment)
            if settled:
                _add_credit(invoice.client_id, amount,
                            f"Payment on invoice #{invoice.id}, already {invoice.status}",
                            invoice.id)
                result.credited = amount
                audit.record(admin.login, "client.credit", "client", invoice.client_id,
                             client_id=invoice.client_id,
                             description=f"credit {format_money(amount)}: payment on invoice "
                                         f"#{invoice.id}, which was already {invoice.status}",
                             after={"credit_added": amount})
            elif paid_total >= invoice.total:
                overpaid = paid_total - invoice.total
                if overpaid > 0:
                    _add_credit(invoice.client_id, overpaid,
                                f"Overpayment of invoice #{invoice.id}", invoice.id)
                    result.credited = overpaid
                result.applied_lines = _mark_paid(invoice, date, admin, today=today,
                                                  settings=settings)
            return result
    except IntegrityError:
        if transaction_ref.strip():
            invoice = Invoice.get_by_id(invoice_id)
            return PaymentResult(invoice=invoice, payment=None, duplicate=True)
        raise


def _mark_paid(invoice: Invoice, paid_date: pendulum.Date, admin: Admin,
               today: pendulum.Date | None = None, settings=None) -> list[int]:
    Invoice.update(status=InvoiceStatus.PAID, paid_date=paid_date,
                   version=Invoice.version + 1).where(Invoice.id == invoice.id).execute()
    invoice.status = InvoiceStatus.PAID
    applied = []
    for line in live_lines(invoice.id):
        if _claim(line):
            _apply_line(line, admin, settings)
            applied.append(line.id)
    _unsuspend_paid_up_services(invoice, today or paid_date, admin)
    return applied


def _claim(line: InvoiceLine) -> bool:
    """Take the right to apply this line's effect; False if it was already applied."""
    claimed = (InvoiceLine.update(applied_at=pendulum.now("UTC"))
               .where((InvoiceLine.id == line.id) & (InvoiceLine.applied_at.is_null()))
               .execute())
    return claimed == 1


def _apply_line(line: InvoiceLine, admin: Admin, settings=None) -> None:
    if line.kind == LineKind.RENEWAL and line.item_type:
        _advance_due_date(line, to=line.period_end, admin=admin)
    elif line.kind == LineKind.PRORATA and line.item_type:
        _advance_due_date(line, to=line.period_end, admin=admin, reanchor=True)
    elif line.kind == LineKind.UPGRADE and line.upgrade:
        apply_upgrade(line.upgrade, admin, settings)
    elif line.kind == LineKind.FIRST and line.item_type:
        _after_first_payment(line, admin)


def _advance_due_date(line: InvoiceLine, *, to: pendulum.Date, admin: Admin,
                      reanchor: bool = False) -> None:
    model = model_for(line.item_type)
    item = model.get_or_none(model.id == line.item_id)
    if item is None or to is None:
        return
    if item.next_due_date is not None and item.next_due_date >= to and not reanchor:
        return  # a later period was already paid; never move the NDD back
    changes = {"next_due_date": to}
    if reanchor:
        changes["anchor_day"] = to.day
    model.update(**changes, version=model.version + 1).where(model.id == item.id).execute()
    audit.record(admin.login, "item.next_due_date", line.item_type, item.id,
                 description=f"paid line #{line.id}: next due date {item.next_due_date} → {to}",
                 before={"next_due_date": item.next_due_date}, after={"next_due_date": to})


def _after_first_payment(line: InvoiceLine, admin: Admin) -> None:
    """A paid first-order line provisions per the product's auto-setup (rules §5, §9)."""
    if line.item_type != ItemType.SERVICE:
        return
    service = Service.get_or_none(Service.id == line.item_id)
    if service is None:
        return
    if service.billing_cycle == Cycle.ONE_TIME.value and service.next_due_date is not None:
        Service.update(next_due_date=None, version=Service.version + 1).where(
            Service.id == service.id).execute()
    product = Product.get_by_id(service.product_id)
    if service.status == ServiceStatus.PENDING and product.auto_setup == "on_payment":
        queue_module_job(service.id, "create", source="payment")


def has_overdue_invoices(service_id: int, today: pendulum.Date, *, exclude_invoice: int | None = None) -> bool:
    query = (InvoiceLine.select(InvoiceLine.id)
             .join(Invoice)
             .where((InvoiceLine.item_type == ItemType.SERVICE) & (InvoiceLine.item_id == service_id)
                    & (InvoiceLine.cancelled == False)  # noqa: E712
                    & (Invoice.status == InvoiceStatus.UNPAID) & (Invoice.due_date < today)))
    if exclude_invoice is not None:
        query = query.where(Invoice.id != exclude_invoice)
    return query.exists()


def _unsuspend_paid_up_services(invoice: Invoice, today: pendulum.Date, admin: Admin) -> None:
    """Services suspended for non-payment come back when nothing else is overdue (rules §5)."""
    service_ids = {line.item_id for line in live_lines(invoice.id) if line.item_type == ItemType.SERVICE}
    addon_parents = (ServiceAddon.select(ServiceAddon.service)
                     .join(InvoiceLine, on=((InvoiceLine.item_id == ServiceAddon.id)
                                            & (InvoiceLine.item_type == ItemType.ADDON)))
                     .where(InvoiceLine.invoice == invoice.id))
    service_ids |= {a.service_id for a in addon_parents}
    for service in Service.select().where(Service.id.in_(list(service_ids))):
        if service.status == ServiceStatus.ACTIVE and not has_overdue_invoices(service.id, today):
            withdraw(service.id, "suspend", f"invoice #{invoice.id} paid", admin)
        if service.status != ServiceStatus.SUSPENDED:
            continue
        if service.suspension_reason not in NON_PAYMENT_REASONS:
            continue  # a custom reason keeps it suspended
        if has_overdue_invoices(service.id, today):
            continue
        already = ModuleJob.select().where((ModuleJob.service == service.id)
                                           & (ModuleJob.command == "unsuspend")
                                           & (ModuleJob.status == "queued")).exists()
        if not already:
            queue_module_job(service.id, "unsuspend", source="payment")


# --- credit ------------------------------------------------------------------------------


def add_credit(client_id: int, amount, description: str, admin: Admin,
               invoice_id: int | None = None) -> None:
    """An admin credits the client's balance."""
    require(admin, MANAGE_INVOICES)
    credit_client(client_id, amount, description, admin, invoice_id=invoice_id)


def apply_credit(invoice_id: int, amount, *, admin: Admin, today: pendulum.Date,
                 settings=None) -> PaymentResult:
    """Pay (part of) an invoice from the client's credit balance."""
    require(admin, MANAGE_INVOICES)
    amount = parse_amount(str(amount), "amount", allow_zero=False)
    with collect_module_jobs() as jobs:
        result = _apply_credit(invoice_id, amount, admin=admin, today=today,
                               settings=settings)
    result.module_jobs = list(jobs)
    return result


def _apply_credit(invoice_id: int, amount: Decimal, *, admin: Admin, today: pendulum.Date,
                  settings) -> PaymentResult:
    with database.atomic():
        invoice = _lock_invoice(invoice_id)
        client = Client.get_by_id(invoice.client_id)
        if amount > client.credit:
            raise ValidationError("amount", f"the client has only {format_money(client.credit)} credit")
        if amount > balance(invoice):
            raise ValidationError("amount", f"the invoice balance is {format_money(balance(invoice))}")
        taken = (Client.update(credit=Client.credit - amount, version=Client.version + 1)
                 .where((Client.id == client.id) & (Client.credit >= amount)).execute())
        if taken != 1:
            raise RuleViolation("the client's credit changed meanwhile; try again")
        CreditEntry.create(client=client.id, amount=-amount,
                           description=f"Applied to invoice #{invoice.id}", invoice=invoice.id)
        return _record_payment(invoice.id, amount, date=today, method=CREDIT_METHOD,
                               admin=admin, today=today, settings=settings)


# --- cancelling and editing ----------------------------------------------------------------


@dataclass
class CancelledInvoice:
    invoice: Invoice
    upgrades_cancelled: list[int]  # the pending upgrades it billed, cancelled with it


def cancel_invoice(invoice_id: int, admin: Admin) -> CancelledInvoice:
    """Cancel an unpaid invoice; its lines are cancelled too, so their periods can be billed
    again, and the upgrades it billed are cancelled (the service stays as it is)."""
    require(admin, MANAGE_INVOICES)
    with database.atomic():
        invoice = _lock_invoice(invoice_id)
        if invoice.status == InvoiceStatus.CANCELLED:
            raise ValidationError("invoice", f"invoice #{invoice.id} is already cancelled")
        if invoice.status != InvoiceStatus.UNPAID or invoice.amount_paid > 0:
            raise ValidationError("invoice", f"invoice #{invoice.id} has payments; refund them first")
        Invoice.update(status=InvoiceStatus.CANCELLED, version=Invoice.version + 1).where(
            Invoice.id == invoice.id).execute()
        InvoiceLine.update(cancelled=True).where(InvoiceLine.invoice == invoice.id).execute()
        upgrades = _cancel_upgrades(invoice.id, admin)
        audit.record(admin.login, "invoice.cancel", "invoice", invoice.id, client_id=invoice.client_id,
                     before={"status": invoice.status}, after={"status": InvoiceStatus.CANCELLED})
        return CancelledInvoice(Invoice.get_by_id(invoice.id), upgrades)


def reopen_invoice(invoice_id: int, admin: Admin, line_ids: list[int] | None = None) -> Invoice:
    """Mark a cancelled invoice unpaid again, reviving its lines (or just `line_ids`)."""
    require(admin, MANAGE_INVOICES)
    return reopen_lines(invoice_id, line_ids, admin)


def reopen_lines(invoice_id: int, line_ids: list[int] | None, admin: Admin) -> Invoice:
    """`reopen_invoice` without the permission check, for a rule acting under its own
    (deleting a cancellation request revives the lines it cancelled, under "manage
    cancellation requests"). `line_ids` None revives every line of a cancelled invoice."""
    with database.atomic():
        invoice = _lock_invoice(invoice_id)
        if invoice.status != InvoiceStatus.CANCELLED and line_ids is None:
            raise ValidationError("invoice", f"invoice #{invoice.id} is not cancelled")
        query = InvoiceLine.update(cancelled=False).where(InvoiceLine.invoice == invoice.id)
        if line_ids is not None:
            query = query.where(InvoiceLine.id.in_(line_ids))
        try:
            with database.atomic():
                query.execute()
        except IntegrityError:
            raise RuleViolation(f"invoice #{invoice.id} cannot be reopened: a period on it has "
                                "been invoiced again since it was cancelled") from None
        Invoice.update(status=InvoiceStatus.UNPAID, version=Invoice.version + 1).where(
            Invoice.id == invoice.id).execute()
        _retotal(invoice.id)
        reinstate_upgrades_of_invoice(invoice.id, admin)
        audit.record(admin.login, "invoice.reopen", "invoice", invoice.id, client_id=invoice.client_id,
                     before={"status": invoice.status}, after={"status": InvoiceStatus.UNPAID})
        return Invoice.get_by_id(invoice.id)


def cancel_lines(line_ids: list[int], admin: Admin, reason: str) -> list[int]:
    """Cancel unpaid lines and re-total their invoices; an invoice left empty is cancelled.

    Returns the ids actually cancelled (lines on paid invoices are left alone). No permission
    check: the callers act under their own (a cancellation request, moving a service) or
    check "manage invoices" (`remove_line`).
    """
    if not line_ids:
        return []
    with database.atomic():
        lines = list(InvoiceLine.select(InvoiceLine, Invoice).join(Invoice)
                     .where(InvoiceLine.id.in_(line_ids) & (InvoiceLine.cancelled == False)  # noqa: E712
                            & (Invoice.status == InvoiceStatus.UNPAID)))
        cancelled = [line.id for line in lines]
        if not cancelled:
            return []
        InvoiceLine.update(cancelled=True).where(InvoiceLine.id.in_(cancelled)).execute()
        for invoice_id in sorted({line.invoice_id for line in lines}):
            _cancel_upgrades(invoice_id, admin)
            total = _retotal(invoice_id)
            if not live_lines(invoice_id):
                Invoice.update(status=InvoiceStatus.CANCELLED).where(Invoice.id == invoice_id).execute()
            elif total <= Invoice.get_by_id(invoice_id).amount_paid:
                invoice = Invoice.get_by_id(invoice_id)
                _mark_paid(invoice, invoice.date, admin)
            audit.record(admin.login, "invoice.lines_cancelled", "invoice", invoice_id,
                         description=reason, after={"lines": [i for i in cancelled]})
        return cancelled


def _cancel_upgrades(invoice_id: int, admin: Admin) -> list[int]:
    """An upgrade whose invoice line is cancelled will never be paid: close it, so the service
    can be upgraded again."""
    return cancel_upgrades_of_invoice(invoice_id, admin)


def remove_line(line_id: int, admin: Admin) -> Invoice:
    """An admin removes one unpaid line from its invoice (the invoice is re-totalled)."""
    require(admin, MANAGE_INVOICES)
    line = InvoiceLine.get_or_none(InvoiceLine.id == line_id)
    if line is None:
        raise ValidationError("line", f"line #{line_id} does not exist")
    if not cancel_lines([line_id], admin, f"line #{line_id} removed"):
        raise ValidationError("line", f"line #{line_id} is on an invoice that is not unpaid")
    return Invoice.get_by_id(line.invoice_id)


def unpaid_lines_of_service(service_id: int) -> list[int]:
    """Live lines on unpaid invoices of the service and of its addons, in one query: the
    service's first, then each addon's.

    Two parts joined by UNION ALL, each reaching its lines through the (item_type, item_id)
    index: with one OR, PostgreSQL read every addon line of the installation (100 ms at 1M)."""
    live_unpaid = (InvoiceLine.cancelled == False) & (Invoice.status == InvoiceStatus.UNPAID)  # noqa: E712
    own = (InvoiceLine.select(InvoiceLine.id, InvoiceLine.item_type, InvoiceLine.item_id)
           .join(Invoice)
           .where((InvoiceLine.item_type == ItemType.SERVICE)
                  & (InvoiceLine.item_id == service_id) & live_unpaid))
    addon_ids = ServiceAddon.select(ServiceAddon.id).where(ServiceAddon.service == service_id)
    addons = (InvoiceLine.select(InvoiceLine.id, InvoiceLine.item_type, InvoiceLine.item_id)
              .join(Invoice)
              .where((InvoiceLine.item_type == ItemType.ADDON)
                     & InvoiceLine.item_id.in_(addon_ids) & live_unpaid))
    ordered = own.union_all(addons).order_by(SQL("2 DESC, 3, 1"))  # type desc, item, line
    return [row[0] for row in ordered.tuples()]


def future_unpaid_lines(items: list[tuple[str, int]], today: pendulum.Date) -> list[InvoiceLine]:
    """Live lines on unpaid invoices billing a period of these items that has not started."""
    if not items:
        return []
    condition = None
    for item_type, item_id in items:
        part = (InvoiceLine.item_type == item_type) & (InvoiceLine.item_id == item_id)
        condition = part if condition is None else (condition | part)
    return list(InvoiceLine.select().join(Invoice)
                .where(condition & (InvoiceLine.cancelled == False)  # noqa: E712
                       & (Invoice.status == InvoiceStatus.UNPAID)
                       & (InvoiceLine.period_start > today))
                .order_by(InvoiceLine.id))


def separate_invoices_for(client: Client) -> bool:
    if client.separate_invoices:
        return True
    if client.group_id:
        group = ClientGroup.get_or_none(ClientGroup.id == client.group_id)
        return bool(group and group.separate_invoices)
    return False


def renewal_line_spec(item_type: str, item, start: pendulum.Date, label: str,
                      basis: DayBasis | str = DayBasis.CALENDAR) -> LineSpec:
    """The line billing the item's period from `start`: a whole cycle at the recurring amount,
    or, from a day that is not a due date of its anchor, the days to the next due date
    prorated (rules §3), never a cycle's price for a shorter period."""
    end = period_end(item_type, item, start)
    amount = item.recurring_amount
    if start.day != item.anchor_day and not is_anchored(start, item.anchor_day):
        amount = partial_period_charge(amount, cycle_of(item_type, item), start, end,
                                       item.anchor_day, basis)
    return LineSpec(kind=LineKind.RENEWAL, item_type=item_type, item_id=item.id,
                    period_start=start, period_end=end, amount=amount,
                    description=label + _period_text(start, end))


@lru_cache(maxsize=4096)  # a daily run writes the same few periods on thousands of lines
def _period_text(start: pendulum.Date, end: pendulum.Date) -> str:
    return f" ({start.isoformat()} - {day_before(end).isoformat()})"
