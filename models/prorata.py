"""Moving next due dates with a prorata invoice (rules §3): the service page and mass update.

One invoice per client, one line per item covering [old NDD, new NDD). The NDDs move only
when the invoice is paid (invoicing applies a prorata line by setting the item's NDD to the
line's period end); until then nothing changes, and cancelling the invoice leaves the items
as they were.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pendulum

from hostdesk.models.cycles import Cycle, DayBasis, ndd_change_prorata, prorata_line_label
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError
from hostdesk.models.invoicing import LineSpec, create_invoice
from hostdesk.models.items import cycle_months, model_for
from hostdesk.models.money import sum_money
from hostdesk.models.schema import Admin, ItemType, LineKind, Product, Service
from hostdesk.models.settings import Settings

DOMAIN_CYCLES = {12: Cycle.ANNUALLY, 24: Cycle.BIENNIALLY, 36: Cycle.TRIENNIALLY}


@dataclass
class ProrataLine:
    item_type: str
    item_id: int
    client_id: int
    payment_method: str
    name: str
    old_ndd: pendulum.Date
    new_ndd: pendulum.Date
    amount: Decimal

    @property
    def label(self) -> str:
        return prorata_line_label(self.name, self.old_ndd, self.new_ndd)


@dataclass
class ProrataPlan:
    lines: list = field(default_factory=list)  # ProrataLine
    refused: list = field(default_factory=list)  # (item_type, item_id, reason)

    @property
    def total(self) -> Decimal:
        return sum_money(line.amount for line in self.lines)

    def by_client(self) -> dict:
        grouped = defaultdict(list)
        for line in self.lines:
            grouped[line.client_id].append(line)
        return dict(grouped)


def _item_cycle(item_type: str, item) -> Cycle:
    if item_type == ItemType.DOMAIN:
        return DOMAIN_CYCLES.get(cycle_months(item_type, item), Cycle.ANNUALLY)
    return Cycle(item.billing_cycle)


def _describe(item_type: str, item) -> tuple[str, int, str]:
    """(name for the line, client id, payment method) of an item."""
    if item_type == ItemType.SERVICE:
        product = Product.get_by_id(item.product_id)
        name = product.name + (f" - {item.domain}" if item.domain else "")
        return name, item.client_id, item.payment_method
    if item_type == ItemType.ADDON:
        service = Service.get_by_id(item.service_id)
        return f"Addon: {item.name}", service.client_id, service.payment_method
    return f"Domain - {item.name}", item.client_id, item.payment_method


def plan_prorata(changes: list[tuple[str, int, pendulum.Date]], settings: Settings) -> ProrataPlan:
    """Price each (item_type, item_id, new NDD); refuse per item with the reason."""
    plan = ProrataPlan()
    basis = DayBasis(settings.prorata_day_basis)
    for item_type, item_id, new_ndd in changes:
        model = model_for(item_type)
        item = model.get_or_none(model.id == item_id)
        if item is None:
            plan.refused.append((item_type, item_id, "does not exist"))
            continue
        if item.next_due_date is None:
            plan.refused.append((item_type, item_id, "has no next due date"))
            continue
        if item_type != ItemType.DOMAIN and not Cycle(item.billing_cycle).is_recurring:
            plan.refused.append((item_type, item_id, f"has a {item.billing_cycle} cycle"))
            continue
        if new_ndd <= item.next_due_date:
            plan.refused.append((item_type, item_id, f"the new date {new_ndd} is not after the "
                                                     f"current {item.next_due_date}"))
            continue
        amount = ndd_change_prorata(item.recurring_amount, _item_cycle(item_type, item),
                                    item.next_due_date, new_ndd, item.anchor_day, basis)
        name, client_id, method = _describe(item_type, item)
        plan.lines.append(ProrataLine(item_type, item_id, client_id, method, name,
                                      item.next_due_date, new_ndd, amount))
    return plan


def create_prorata_invoices(plan: ProrataPlan, today: pendulum.Date, *, admin: Admin,
                            send_email: bool = True, company_name: str = "") -> list[int]:
    """Write the plan: one invoice per client, due today. Returns the invoice ids."""
    if not plan.lines:
        raise ValidationError("next_due_date", "no item can be prorated to that date")
    invoice_ids = []
    with database.atomic():
        for client_id, lines in sorted(plan.by_client().items()):
            specs = [LineSpec(kind=LineKind.PRORATA, description=line.label, amount=line.amount,
                              item_type=line.item_type, item_id=line.item_id,
                              period_start=line.old_ndd, period_end=line.new_ndd)
                     for line in lines]
            invoice = create_invoice(client_id, specs, date=today, due_date=today,
                                     payment_method=lines[0].payment_method,
                                     admin=admin, send_email=send_email,
                                     company_name=company_name)
            invoice_ids.append(invoice.id)
    return invoice_ids

