"""The client summary as the screen reads it: the client's lists (services, addons,
domains), the details, and "invoice the ticked items" with what it says afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from peewee import JOIN, fn

from hostdesk.models.listing import (
    DATE,
    ID,
    LABEL,
    MONEY,
    STATUS,
    TEXT,
    Column,
    ListFilter,
    ListSource,
    as_id,
    prefix_of,
)
from hostdesk.models.money import format_money, sum_money
from hostdesk.models.permissions import GENERATE_DUE_INVOICES, require
from hostdesk.models.renewals import invoice_selected_items
from hostdesk.models.schema import (
    Admin,
    Client,
    ClientGroup,
    Domain,
    Invoice,
    InvoiceStatus,
    ItemType,
    Product,
    Service,
    ServiceAddon,
)


# --- the client's lists ------------------------------------------------------------------------


class ClientListSource(ListSource):
    """A list of one client's records: the list's filter, within that client (`mine`)."""

    def __init__(self, client_id: int) -> None:
        self.client_id = client_id

    def mine(self):
        raise NotImplementedError

    def _condition(self, flt: ListFilter):
        mine, condition = self.mine(), super()._condition(flt)
        return mine if condition is None else (mine & condition)


class ClientServiceSource(ClientListSource):
    """One client's services, newest first (index `service (client, id)`)."""

    name, title, model = "client_services", "Services", Service
    search_hint = "domain or #id"
    empty_text = "No services"
    columns = (
        Column("id", "ID", 7, ID),
        Column("domain", "Domain", 18, flex=True),
        Column("product", "Product", 18, priority=1),
        Column("cycle", "Cycle", 12, LABEL, priority=3),
        Column("amount", "Recurring", 14, MONEY, priority=2),
        Column("status", "Status", 10, STATUS),
        Column("next_due", "Next due", 10, DATE),
    )

    def select(self):
        return (Service.select(Service.id, Service.domain, Service.status,
                               Service.billing_cycle.alias("cycle"),
                               Service.recurring_amount.alias("amount"),
                               Service.next_due_date.alias("next_due"),
                               Product.name.alias("product"))
                .join(Product, on=(Service.product == Product.id)))

    def search(self, term):
        row_id = as_id(term)
        return Service.id == row_id if row_id is not None else prefix_of(Service.domain,
                                                                         term.lower())

    def mine(self):
        return Service.client == self.client_id


class ClientAddonSource(ClientListSource):
    """The addons of one client's services, newest first."""

    name, title, model = "client_addons", "Addons", ServiceAddon
    empty_text = "No addons"
    columns = (
        Column("id", "ID", 7, ID),
        Column("name", "Addon", 16, flex=True),
        Column("service", "Service", 18, priority=1),
        Column("cycle", "Cycle", 12, LABEL, priority=3),
        Column("amount", "Recurring", 14, MONEY, priority=2),
        Column("status", "Status", 10, STATUS),
        Column("next_due", "Next due", 10, DATE),
    )

    def select(self):
        return (ServiceAddon.select(ServiceAddon.id, ServiceAddon.name, ServiceAddon.status,
                                    ServiceAddon.billing_cycle.alias("cycle"),
                                    ServiceAddon.recurring_amount.alias("amount"),
                                    ServiceAddon.next_due_date.alias("next_due"),
                                    ServiceAddon.service.alias("service_id"),
                                    Service.domain.alias("domain"))
                .join(Service, on=(ServiceAddon.service == Service.id)))

    def to_row(self, d):
        d["service"] = f"#{d['service_id']} {d.pop('domain') or ''}".strip()
        return d

    def mine(self):
        return ServiceAddon.service.in_(Service.select(Service.id)
                                        .where(Service.client == self.client_id))


class ClientDomainSource(ClientListSource):
    """One client's domains, newest first."""

    name, title, model = "client_domains", "Domains", Domain
    empty_text = "No domains"
    columns = (
        Column("id", "ID", 7, ID),
        Column("name", "Domain", 20, flex=True),
        Column("auto_renew", "Auto-renew", 10, TEXT, priority=2),
        Column("amount", "Recurring", 14, MONEY, priority=1),
        Column("status", "Status", 10, STATUS),
        Column("next_due", "Next due", 10, DATE),
    )

    def select(self):
        return Domain.select(Domain.id, Domain.name, Domain.status, Domain.auto_renew,
                             Domain.recurring_amount.alias("amount"),
                             Domain.next_due_date.alias("next_due"))

    def to_row(self, d):
        d["auto_renew"] = "on" if d["auto_renew"] else "off"
        return d

    def mine(self):
        return Domain.client == self.client_id


# --- the details ---------------------------------------------------------------------------------


@dataclass
class ClientDetails:
    client: Client
    group: str
    services: dict[str, int]  # status -> count
    unpaid_invoices: int
    unpaid_balance: Decimal
    overdue_invoices: int


def load_client_details(client_id: int, today) -> ClientDetails | None:
    """The details panel in three queries, whatever the client has."""
    client = (Client.select(Client, ClientGroup)
              .join(ClientGroup, JOIN.LEFT_OUTER, on=(Client.group == ClientGroup.id))
              .where(Client.id == client_id).first())
    if client is None:
        return None
    group = client.group if client.group_id else None
    by_status = dict(Service.select(Service.status, fn.COUNT(Service.id))
                     .where(Service.client == client_id).group_by(Service.status).tuples())
    unpaid = list(Invoice.select(Invoice.total, Invoice.amount_paid, Invoice.due_date)
                  .where((Invoice.client == client_id) & (Invoice.status == InvoiceStatus.UNPAID))
                  .limit(10_000))
    return ClientDetails(
        client=client, group=group.name if group else "", services=by_status,
        unpaid_invoices=len(unpaid),
        unpaid_balance=sum_money(i.total - i.amount_paid for i in unpaid),
        overdue_invoices=sum(1 for i in unpaid if i.due_date < today))


def describe_items(items: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """A short name per (item type, id) for the refusals: domain, addon name, domain name."""
    names: dict[tuple[str, int], str] = {}
    by_type: dict[str, list[int]] = {}
    for item_type, item_id in items:
        by_type.setdefault(item_type, []).append(item_id)
    if ids := by_type.get(ItemType.SERVICE):
        for row in Service.select(Service.id, Service.domain).where(Service.id.in_(ids)):
            names[(ItemType.SERVICE, row.id)] = row.domain or "no domain"
    if ids := by_type.get(ItemType.ADDON):
        for row in ServiceAddon.select(ServiceAddon.id, ServiceAddon.name).where(
                ServiceAddon.id.in_(ids)):
            names[(ItemType.ADDON, row.id)] = row.name
    if ids := by_type.get(ItemType.DOMAIN):
        for row in Domain.select(Domain.id, Domain.name).where(Domain.id.in_(ids)):
            names[(ItemType.DOMAIN, row.id)] = row.name
    return names


def invoice_ticked(items: list[tuple[str, int]], *, admin: Admin, today, settings) -> str:
    """Invoice the ticked items now; the text says which invoices and which refusals."""
    require(admin, GENERATE_DUE_INVOICES)
    result = invoice_selected_items(items, today, settings, admin=admin)
    lines = []
    invoices = list(Invoice.select().where(Invoice.id.in_(result.invoice_ids or [0]))
                    .order_by(Invoice.id))
    if invoices:
        lines.append(f"{len(invoices)} invoice(s) created:")
        lines += [f"  #{i.id} due {i.due_date} · {format_money(i.total, settings.currency)} · "
                  f"{i.payment_method}" for i in invoices]
    else:
        lines.append("No invoice was created.")
    if result.refused:
        names = describe_items([(t, i) for t, i, _ in result.refused])
        lines.append(f"{len(result.refused)} item(s) refused:")
        lines += [f"  {item_type} #{item_id} {names.get((item_type, item_id), '')}: {reason}"
                  for item_type, item_id, reason in result.refused]
    return "\n".join(lines)
