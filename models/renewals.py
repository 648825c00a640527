"""Renewal invoicing (rules §4): the daily run's invoices, one client's due invoices on demand,
and "invoice selected items" early. One code path for all three.

Work is done per chunk of clients, so one client's lines always land in one run's grouping,
with set-based reads and bulk inserts in one short transaction per chunk. What is already
billed is excluded by the selection itself (and refused by the unique index on live renewal
lines), so a rerun, a crash or a concurrent biller never bills a period twice.
"""

import json
from collections import defaultdict, namedtuple
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache, partial
from decimal import Decimal
from typing import Callable, Iterable

import pendulum
from peewee import JOIN, SQL, Case, Field, IntegrityError, NodeList, OperationalError, fn

from hostdesk.models import audit
from hostdesk.models.billable import (
    EARLY_STATUSES,
    ServiceTerms,
    item_refusal,
    period_refusal,
    read_terms,
    terms_of,
)
from hostdesk.models.cycles import Cycle, day_before
from hostdesk.models.db import (DATABASE_ERRORS, database, database_error_text, ids_in, insert_rows,
                                is_postgres, is_sqlite, next_id)
from hostdesk.models.emails import (invoice_email_clients, invoice_email_contexts,
                                    invoice_email_lines, outbox_rows, write_outbox_rows)
from hostdesk.models.errors import ValidationError
from hostdesk.models.fields import MoneyField, PendulumDateField
from hostdesk.models.invoicing import LineSpec, renewal_line_spec
from hostdesk.models.items import model_for, period_end
from hostdesk.models.money import format_money, installation_currency, sum_money
from hostdesk.models.permissions import GENERATE_DUE_INVOICES, SYSTEM_ADMIN, require
from hostdesk.models.schema import (
    Admin,
    BillingChunk,
    Client,
    ClientGroup,
    Domain,
    DomainStatus,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ItemType,
    LineKind,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceAddon,
    ServiceStatus,
)
from hostdesk.models.settings import Settings
from hostdesk.models.work_ahead import Ahead, WorkAhead, can_work_ahead

NON_RECURRING = (Cycle.FREE.value, Cycle.ONE_TIME.value)
DOMAIN_CYCLES = {1: Cycle.ANNUALLY, 2: Cycle.BIENNIALLY, 3: Cycle.TRIENNIALLY}


@dataclass(slots=True)  # thousands per chunk of the daily run
class Candidate:
    """One item whose next period(s) may be billed."""

    item_type: str
    item: object  # the Service / ServiceAddon / Domain row (or a named tuple of its columns)
    client_id: int
    payment_method: str
    label: str
    cycle_key: str  # for the per-cycle invoice_days setting
    parent_service_id: int | None = None  # addons: the service; domains: matched by name
    domain_name: str = ""
    terms: ServiceTerms | None = None  # what the (parent) service says about billing


@dataclass
class RenewalResult:
    invoices: int = 0
    lines: int = 0
    amount: Decimal = Decimal("0.00")
    invoice_ids: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # {"item": ..., "error": ...}
    items: list = field(default_factory=list)  # dry run: the items it would bill ("service #3")

    def add(self, other: "RenewalResult") -> None:
        self.invoices += other.invoices
        self.lines += other.lines
        self.amount += other.amount
        self.failures.extend(other.failures)
        self.items.extend(other.items)
        if len(self.invoice_ids) < 1000:  # a sample for the report, not every id
            self.invoice_ids.extend(other.invoice_ids[:1000 - len(self.invoice_ids)])


# --- selection -----------------------------------------------------------------------------
# The queries use only indexed columns; what blocks an item (an open cancellation request, an
# unpaid earlier renewal, an already billed period) is read for the whole chunk in a few batched
# queries and applied in Python. Correlated NOT EXISTS per candidate made PostgreSQL's planner
# scan invoice_line once per service.


def _service_query(horizon, client_ids=None):
    query = (Service.select(Service, Product.name.alias("product_name"))
             .join(Product)
             .where(Service.status.in_(ServiceStatus.BILLABLE)
                    & Service.billing_cycle.not_in(NON_RECURRING)
                    & Service.next_due_date.is_null(False) & (Service.next_due_date <= horizon)
                    & (Service.auto_terminate_end_of_cycle == False)))  # noqa: E712
    if client_ids is not None:
        query = query.where(ids_in(Service.client, client_ids))
    return query


def _addon_query(horizon, client_ids=None):
    query = (ServiceAddon.select(ServiceAddon, Service.client.alias("client_id_"),
                                 Service.payment_method.alias("payment_method_"))
             .join(Service)
             .where(ServiceAddon.status.in_(ServiceStatus.BILLABLE)
                    & ServiceAddon.billing_cycle.not_in(NON_RECURRING)
                    & ServiceAddon.next_due_date.is_null(False)
                    & (ServiceAddon.next_due_date <= horizon)
                    & (Service.auto_terminate_end_of_cycle == False)))  # noqa: E712
    if client_ids is not None:
        query = query.where(ids_in(Service.client, client_ids))
    return query


def _domain_query(horizon, client_ids=None):
    query = Domain.select().where(
        (Domain.status == DomainStatus.ACTIVE) & (Domain.auto_renew == True)  # noqa: E712
        & Domain.next_due_date.is_null(False) & (Domain.next_due_date <= horizon))
    if client_ids is not None:
        query = query.where(ids_in(Domain.client, client_ids))
    return query


# Only the columns billing reads: building a row is cheaper without timestamps and notes.
SERVICE_COLUMNS = (Service.id, Service.client, Service.payment_method, Service.status,
                   Service.billing_cycle, Service.next_due_date, Service.anchor_day,
                   Service.recurring_amount, Service.domain, Service.auto_terminate_end_of_cycle,
                   Service.registration_date, Service.product)
ADDON_COLUMNS = (ServiceAddon.id, ServiceAddon.service, ServiceAddon.name, ServiceAddon.status,
                 ServiceAddon.billing_cycle, ServiceAddon.next_due_date, ServiceAddon.anchor_day,
                 ServiceAddon.recurring_amount)
DOMAIN_COLUMNS = (Domain.id, Domain.client, Domain.payment_method, Domain.name, Domain.status,
                  Domain.auto_renew, Domain.years, Domain.next_due_date, Domain.anchor_day,
                  Domain.recurring_amount)


def _due(item, horizon) -> bool:
    return (item.billing_cycle not in NON_RECURRING
            and item.next_due_date is not None and item.next_due_date <= horizon)


ServiceRow = namedtuple("ServiceRow", [c.name for c in SERVICE_COLUMNS] + ["product_name"])
AddonRow = namedtuple("AddonRow", [c.name for c in ADDON_COLUMNS] + ["client_id_", "payment_method_",
                                                                    "ending_", "registered_",
                                                                    "product_"])
DomainRow = namedtuple("DomainRow", [c.name for c in DOMAIN_COLUMNS])
# Rows read in bulk share a few thousand distinct dates and amounts: each is converted once
# (one cache look-up a value instead of a chain of calls).
CONVERSIONS_KEPT = 4096  # per cache: bounded, the run's peak memory has a limit (issue 21)
_DATE = lru_cache(maxsize=CONVERSIONS_KEPT, typed=True)(PendulumDateField().python_value)
_MONEY = lru_cache(maxsize=CONVERSIONS_KEPT, typed=True)(MoneyField().python_value)
_DAY_TEXT = lru_cache(maxsize=CONVERSIONS_KEPT, typed=True)(PendulumDateField().db_value)
_CENTS = lru_cache(maxsize=CONVERSIONS_KEPT, typed=True)(MoneyField().db_value)


def _rows(query, row_type, **convert):
    """The query's rows as `row_type` tuples, converting only the named columns: peewee's
    per-row conversion of every column cost more than reading the rows at a million items."""
    positions = [(row_type._fields.index(name), function) for name, function in convert.items()]
    make = row_type._make
    for raw in database.execute(query):
        row = list(raw)
        for position, function in positions:
            row[position] = function(row[position])
        yield make(row)


def _due_by(next_due_date: Field, horizon):
    """`next_due_date <= horizon`, checked on each entry the (client, next_due_date) index
    finds (migration 0021), before its row is read. On SQLite the column is written
    `+next_due_date` so the planner cannot pick the due-date index (see `_candidates`);
    PostgreSQL's planner does not make that mistake."""
    if not is_sqlite():
        return next_due_date <= horizon
    return NodeList((SQL("+"), next_due_date), glue="") <= next_due_date.db_value(horizon)


def _addons_query(horizon, client_ids):
    """The addons of a chunk's clients due by `horizon`, with what billing reads of their
    service (an `AddonRow`).

    PostgreSQL's planner joined the chunk's few thousand services to a scan of every addon
    (a hash join, 30-100 ms a chunk at 200,000 addons). There, each service's addons are
    looked up through their index in a LATERAL subquery, which OFFSET 0 keeps the planner
    from flattening back into that join."""
    parent = (Service.client.alias("client_id_"), Service.payment_method.alias("payment_method_"),
              Service.auto_terminate_end_of_cycle.alias("ending_"),
              Service.registration_date.alias("registered_"), Service.product.alias("product_"))
    if is_sqlite():
        return (ServiceAddon.select(*ADDON_COLUMNS, *parent).join(Service)
                .where(ids_in(Service.client, client_ids)
                       & _due_by(ServiceAddon.next_due_date, horizon)))
    due = (ServiceAddon.select(*ADDON_COLUMNS)
           .where((ServiceAddon.service == Service.id) & (ServiceAddon.next_due_date <= horizon))
           .offset(0).alias("due_addon"))
    return (Service.select(*(due.c[column.column_name] for column in ADDON_COLUMNS), *parent)
            .join(due, JOIN.LATERAL, on=SQL("TRUE")).where(ids_in(Service.client, client_ids)))


def _candidates(horizon, client_ids) -> list[Candidate]:
    """A chunk's billable items, read through the client index only.

    Naming status and due date in these queries made SQLite walk the (status, next_due_date)
    index over every due item of the table for each chunk (quadratic at 1M services); the
    chunk's own rows are few, so the billable check (`models.billable`) is applied here in
    Python, after a due date check the planner cannot turn into an index walk (`_due_by`).
    """
    services = (Service.select(*SERVICE_COLUMNS, Product.name.alias("product_name")).join(Product)
                .where(ids_in(Service.client, client_ids)
                       & _due_by(Service.next_due_date, horizon)))
    services = [s for s in _rows(services, ServiceRow, next_due_date=_DATE, recurring_amount=_MONEY,
                                 auto_terminate_end_of_cycle=bool, registration_date=_DATE)
                if _due(s, horizon)]
    addons = [a for a in _rows(_addons_query(horizon, client_ids), AddonRow, next_due_date=_DATE,
                               recurring_amount=_MONEY, ending_=bool, registered_=_DATE)
              if _due(a, horizon)]
    terms = terms_of([(s.id, s.auto_terminate_end_of_cycle, s.registration_date, s.product)
                      for s in services]
                     + [(a.service, a.ending_, a.registered_, a.product_) for a in addons])
    found = []
    for service in services:
        if item_refusal(ItemType.SERVICE, service.status, terms[service.id]):
            continue
        label = service.product_name + (f" - {service.domain}" if service.domain else "")
        found.append(Candidate(ItemType.SERVICE, service, service.client, service.payment_method,
                               label, service.billing_cycle, parent_service_id=service.id,
                               domain_name=service.domain, terms=terms[service.id]))
    for addon in addons:
        if item_refusal(ItemType.ADDON, addon.status, terms[addon.service]):
            continue
        found.append(Candidate(ItemType.ADDON, addon, addon.client_id_, addon.payment_method_,
                               f"Addon: {addon.name}", addon.billing_cycle,
                               parent_service_id=addon.service, terms=terms[addon.service]))
    domains = Domain.select(*DOMAIN_COLUMNS).where(ids_in(Domain.client, client_ids)
                                                   & _due_by(Domain.next_due_date, horizon))
    for domain in _rows(domains, DomainRow, next_due_date=_DATE, recurring_amount=_MONEY,
                        auto_renew=bool):
        if (domain.status != DomainStatus.ACTIVE or not domain.auto_renew
                or domain.next_due_date is None or domain.next_due_date > horizon):
            continue
        years = int(domain.years or 1)
        found.append(Candidate(ItemType.DOMAIN, domain, domain.client, domain.payment_method,
                               f"Domain renewal - {domain.name} - {years} year{'s' if years > 1 else ''}",
                               DOMAIN_CYCLES.get(years, Cycle.ANNUALLY).value,
                               domain_name=domain.name))
    # In client order, each client's services, addons and domains by id: the invoices and
    # their lines come out the same whatever order the database returned the rows in.
    found.sort(key=lambda c: (c.client_id, _ITEM_ORDER[c.item_type], c.item.id))
    return found


_ITEM_ORDER = {item_type: place for place, item_type in enumerate(ItemType.ALL)}


def _client_chunks(horizon, only: Iterable[int] | None, max_clients: int) -> list[list[int]]:
    """The clients that may have something to bill, sorted, in chunks of whole clients: at most
    `max_clients` clients and about CHUNK_ITEMS items a chunk (a client with more is a chunk
    of its own). Cheap: ids and counts only, through the due-date indexes."""
    only = list(only) if only is not None else None
    items = defaultdict(int)
    for query, client in ((_service_query(horizon, only), Service.client),
                          (_addon_query(horizon, only), Service.client),
                          (_domain_query(horizon, only), Domain.client)):
        counted = query.select(client, fn.COUNT(SQL("*"))).group_by(client)
        for client_id, count in database.execute(counted):  # raw: peewee would keep every row
            items[client_id] += count
    chunks, chunk, size = [], [], 0
    for client_id in sorted(items):
        count = items[client_id]
        if chunk and (len(chunk) >= max_clients or size + count > CHUNK_ITEMS):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(client_id)
        size += count
    if chunk:
        chunks.append(chunk)
    return chunks


@dataclass
class BillingHistory:
    """What is already billed for a chunk's items (live renewal lines only)."""

    billed: set = field(default_factory=set)  # (item_type, item_id, period_start)
    latest_end: dict = field(default_factory=dict)  # (item_type, item_id) -> period end
    unpaid: set = field(default_factory=set)  # (item_type, item_id) with an unpaid renewal


def _billing_history(candidates: list[Candidate]) -> BillingHistory:
    """What billing the candidates from their next due dates on must know of their lines.

    A line ending by the earliest next due date of the chunk can neither be a period billing
    would write nor push a start further: it matters only on an unpaid invoice. Those lines
    (most of an item's history) are left in the database rather than converted here."""
    history = BillingHistory()
    by_type = defaultdict(list)
    since = {}
    for c in candidates:
        by_type[c.item_type].append(c.item.id)
        earliest = since.get(c.item_type)
        if earliest is None or c.item.next_due_date < earliest:
            since[c.item_type] = c.item.next_due_date
    for item_type, ids in by_type.items():
        ids.sort()  # in index order: each page of the line index and table is read once
        ending = InvoiceLine.period_end
        relevant = (ending.is_null() | (ending > since[item_type])
                    | (Invoice.status == InvoiceStatus.UNPAID))
        for start in range(0, len(ids), 500):
            rows = (InvoiceLine.select(InvoiceLine.item_id, InvoiceLine.period_start,
                                       InvoiceLine.period_end, Invoice.status)
                    .join(Invoice)
                    .where((InvoiceLine.item_type == item_type)
                           & ids_in(InvoiceLine.item_id, ids[start:start + 500])
                           & (InvoiceLine.kind == LineKind.RENEWAL)
                           & (InvoiceLine.cancelled == False)  # noqa: E712
                           & relevant))
            billed, latest_end, unpaid = history.billed, history.latest_end, history.unpaid
            for item_id, period_start, end, status in database.execute(rows):  # raw: see _rows
                key = (item_type, item_id)
                billed.add((item_type, item_id, _DATE(period_start)))
                end = _DATE(end)
                if end is not None:
                    latest = latest_end.get(key)
                    if latest is None or end > latest:
                        latest_end[key] = end
                if status == InvoiceStatus.UNPAID:
                    unpaid.add(key)
    return history


# --- periods and grouping --------------------------------------------------------------------


def _periods_to_bill(candidate: Candidate, threshold, continuous: bool, latest_end,
                     billed: set, basis) -> list[LineSpec]:
    """The item's next periods up to `threshold`, starting after everything billed (so no
    period overlaps a live one) and stopping at the fixed-term end."""
    item = candidate.item
    start = item.next_due_date
    if latest_end is not None and latest_end > start:
        start = latest_end
    specs = []
    while start <= threshold and not period_refusal(candidate.item_type, candidate.terms, start):
        if (candidate.item_type, item.id, start) not in billed and item.recurring_amount > 0:
            specs.append(renewal_line_spec(candidate.item_type, item, start, candidate.label,
                                           basis))
        if not continuous:
            break
        start = period_end(candidate.item_type, item, start)
    return specs


def _group_key(candidate: Candidate, spec: LineSpec, separate: bool, service_due: dict):
    due = spec.period_start
    if not separate:
        return (candidate.client_id, due, candidate.payment_method)
    if candidate.item_type == ItemType.SERVICE:
        return (candidate.client_id, due, candidate.payment_method, "service", candidate.item.id)
    parent = candidate.parent_service_id
    if candidate.item_type == ItemType.DOMAIN:
        parent = service_due.get(("domain", candidate.client_id, candidate.domain_name, due))
    if parent is not None and (parent, due) in service_due:
        return (candidate.client_id, due, service_due[(parent, due)], "service", parent)
    return (candidate.client_id, due, candidate.payment_method, candidate.item_type, candidate.item.id)


def _separate_clients(client_ids: list[int]) -> set:
    rows = (Client.select(Client.id).join(ClientGroup, JOIN.LEFT_OUTER)
            .where(ids_in(Client.id, client_ids)
                   & ((Client.separate_invoices == True) | (ClientGroup.separate_invoices == True)))  # noqa: E712
            .tuples())
    return {row[0] for row in rows}


def plan_invoices(candidates: list[Candidate], today, settings: Settings, *,
                  continuous: bool, separate_clients: set) -> dict:
    """Group the lines to write into invoices: key -> (client_id, due, method, [LineSpec])."""
    history = _billing_history(candidates)
    if not continuous:  # standard mode: nothing new while an earlier renewal is unpaid
        candidates = [c for c in candidates if (c.item_type, c.item.id) not in history.unpaid]
    thresholds = {}  # per cycle: the last due date invoiced today (rules §4 invoice_days)
    for c in candidates:
        if c.cycle_key not in thresholds:
            thresholds[c.cycle_key] = today.add(days=settings.invoice_days_for(c.cycle_key))
    per_candidate = [(c, _periods_to_bill(c, thresholds[c.cycle_key], continuous,
                                          history.latest_end.get((c.item_type, c.item.id)),
                                          history.billed, settings.prorata_day_basis))
                     for c in candidates]
    service_due = {}
    for c, specs in per_candidate:
        if c.item_type == ItemType.SERVICE:
            for spec in specs:
                service_due[(c.item.id, spec.period_start)] = c.payment_method
                if c.domain_name:
                    service_due[("domain", c.client_id, c.domain_name, spec.period_start)] = c.item.id
    groups = {}
    for c, specs in per_candidate:
        separate = c.client_id in separate_clients
        for spec in specs:
            key = _group_key(c, spec, separate, service_due)
            if key not in groups:
                groups[key] = (c.client_id, spec.period_start, key[2], [])
            groups[key][3].append(spec)
    return groups


# --- writing -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PreparedInvoices:
    """A chunk's invoices as `write_invoices` writes them, all but their ids: the Python work
    of the write, done before its transaction (in the planning process when the run plans the
    chunk ahead, `models.work_ahead`). Plain values only: they cross a pipe by pickle."""

    invoices: list  # per invoice: (client id, due date as text, payment method, total)
    lines: list  # per invoice: its rows of LINE_COLUMNS but the first (the invoice id)
    activity: list  # per invoice: (the total as shown, the activity row's `after`)
    services_billed: dict  # service id -> its renewal lines (for recurring promotions)
    emails: "RenderedEmails | None" = None  # rendered ahead, for the ids the writer expects


@dataclass(slots=True)
class RenderedEmails:
    """A chunk's "invoice created" outbox rows, rendered for invoice ids `first_id` on."""

    first_id: int
    rows: list
    failures: list  # the template's errors, logged when the rows are written

    def fit(self, ids: list[int]) -> bool:
        """Whether the invoices were written with the ids these emails name."""
        return ids == list(range(self.first_id, self.first_id + len(ids)))


def prepare_invoices(groups: dict, *, currency: str = "", first_id: int | None = None,
                     today=None, company_name: str = "") -> PreparedInvoices:
    """`plan_invoices`' groups made ready for `write_invoices`. With `first_id`, the id the
    writer expects its first invoice to get, their emails are rendered too (for invoices dated
    `today`; reads the clients and the template)."""
    currency = currency or installation_currency()
    money, day = _CENTS, _DAY_TEXT
    prepared = PreparedInvoices([], [], [], defaultdict(int))
    services_billed = prepared.services_billed
    for client_id, due, method, specs in groups.values():
        total = sum_money(s.amount for s in specs)
        rows = []
        for order, spec in enumerate(specs):
            rows.append((spec.kind, spec.item_type, spec.item_id, day(spec.period_start),
                         day(spec.period_end), spec.description[:500], money(spec.amount), False,
                         None, spec.upgrade, order))
            if spec.item_type == ItemType.SERVICE:
                services_billed[spec.item_id] += 1
        prepared.invoices.append((client_id, day(due), method, total))
        prepared.lines.append(rows)
        prepared.activity.append((format_money(total, currency),
                                  _invoice_after(total, due, len(specs))))
    prepared.services_billed = dict(services_billed)
    if first_id is not None and prepared.invoices:
        ids = list(range(first_id, first_id + len(prepared.invoices)))
        prepared.emails = _render_invoice_emails(prepared, ids, today, company_name, currency)
    return prepared


def write_invoices(prepared: PreparedInvoices, today, *, admin: Admin, send_emails: bool,
                   company_name: str = "", currency: str = "") -> RenewalResult:
    """Insert the invoices `prepare_invoices` made ready and their lines in bulk (inside the
    caller's transaction), in `currency` (the setting; by default the one configured at
    start-up)."""
    result = RenewalResult()
    currency = currency or installation_currency()
    if not prepared.invoices:
        return result
    money, day = _CENTS, _DAY_TEXT
    now = Invoice.created_at.db_value(pendulum.now("UTC"))
    ids = insert_rows(Invoice, INVOICE_COLUMNS,
                      [(client_id, None, InvoiceStatus.UNPAID, day(today), due, None, method,
                        money(total), 0, "", now, 1, currency)
                       for client_id, due, method, total in prepared.invoices],
                      returning=True)
    lines, activity = [], []
    for invoice_id, (client_id, _, _, total), rows, (shown, after) in zip(
            ids, prepared.invoices, prepared.lines, prepared.activity):
        lines += [(invoice_id, *row) for row in rows]
        activity.append(dict(admin_login=admin.login, action="invoice.create",
                             object_type="invoice", object_id=invoice_id, client_id=client_id,
                             description=f"renewal invoice #{invoice_id} for {shown}",
                             after=after))
        result.amount += total
    insert_rows(InvoiceLine, LINE_COLUMNS, lines)
    audit.record_many(activity)
    if send_emails:
        emails = prepared.emails
        if emails is None or not emails.fit(ids):  # not rendered ahead, or for other ids
            emails = _render_invoice_emails(prepared, ids, today, company_name, currency)
        write_outbox_rows(INVOICE_CREATED, emails.rows, emails.failures)
    result.invoices, result.lines, result.invoice_ids = len(ids), len(lines), ids
    return result


def _invoice_after(total: Decimal, due, lines: int) -> str:
    """The activity row's `after` of a new renewal invoice: the text `audit.record` writes for
    {"total": str(total), "due_date": due, "lines": lines} (sorted keys), without json.dumps
    per invoice."""
    return f'{{"due_date": "{_DAY_TEXT(due)}", "lines": {int(lines)}, "total": "{total}"}}'


INVOICE_COLUMNS = ("client", "order", "status", "date", "due_date", "paid_date", "payment_method",
                   "total", "amount_paid", "notes", "created_at", "version", "currency")
LINE_COLUMNS = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
                "description", "amount", "cancelled", "applied_at", "upgrade", "sort_order")


# What an invoice email shows of the invoice and its lines, taken from the rows just written
# rather than read back.
_NewInvoice = namedtuple("_NewInvoice", "id number date due_date paid_date status payment_method "
                                        "total amount_paid currency")
_EmailLine = namedtuple("_EmailLine", "description amount period_start period_end")
_NOTHING_PAID = Decimal("0.00")
_EmailClient = namedtuple("_EmailClient", "id first_name last_name company email")


def _email_clients(client_ids, currency: str) -> dict:
    """Each client's address and view for its invoice emails: id -> (email, view)."""
    query = (Client.select(Client.id, Client.first_name, Client.last_name, Client.company,
                           Client.email)
             .where(ids_in(Client.id, client_ids)))
    rows = {row[0]: _EmailClient._make(row) for row in database.execute(query)}  # raw: see _rows
    views = invoice_email_clients(rows, currency)
    return {client_id: (row.email, views[client_id]) for client_id, row in rows.items()}


INVOICE_CREATED = "invoice_created"


def _render_invoice_emails(prepared: PreparedInvoices, ids: list[int], today, company_name: str,
                           currency: str) -> RenderedEmails:
    """The "invoice created" email of each prepared invoice, its invoice written with the id
    at the same place in `ids` (reads the clients and the template)."""
    clients = _email_clients({invoice[0] for invoice in prepared.invoices}, currency)
    emails = [(client_id, _NewInvoice(invoice_id, str(invoice_id), today, _DATE(due), None,
                                      InvoiceStatus.UNPAID, method, total, _NOTHING_PAID,
                                      currency), _email_lines(rows))
              for invoice_id, (client_id, due, method, total), rows
              in zip(ids, prepared.invoices, prepared.lines)]
    contexts = invoice_email_contexts({client_id: view for client_id, (_, view) in clients.items()},
                                      emails, company_name=company_name, currency=currency)
    failures = []
    rows = list(outbox_rows(INVOICE_CREATED, (
        dict(to=clients[client_id][0], client_id=client_id, related_type="invoice",
             related_id=invoice.id, context=context)
        for (client_id, invoice, _), context in zip(emails, contexts)), failures))
    return RenderedEmails(ids[0], rows, failures)


def _email_lines(rows: list[tuple]) -> list:
    """An invoice's lines as its email shows them, from their rows as written."""
    return invoice_email_lines(_EmailLine(description, _MONEY(cents), start, end)
                               for _, _, _, start, end, description, cents, *_ in rows)


def _max_horizon(today, settings: Settings):
    days = max([settings.invoice_days, *settings.invoice_days_per_cycle.values()] or [0])
    return today.add(days=int(days))


# About this many items a chunk (and at most `batch_size` clients): a chunk's items, lines
# and emails are all in memory at once (5,000 clients with everything due took the run's
# peak to 190 MB), while each chunk costs a few queries and a commit that rewrites the same
# index pages, so a normal day (one item in 30 due) bills in a few large chunks of clients.
# Two chunks are in memory while the next is planned ahead (`models.work_ahead`): at 6,000
# the run's peak rose by a chunk (130 -> 160 MB on a normal day at a million services); at
# 3,000 it stays near what it was, for the same time on the writing thread.
CHUNK_ITEMS = 3000


@dataclass(frozen=True)
class _BillingJob:
    """What every chunk of one invoicing pass shares."""

    today: object
    settings: Settings
    admin: Admin
    send_emails: bool

    @property
    def horizon(self):
        return _max_horizon(self.today, self.settings)

    def chunks(self, only: Iterable[int] | None = None) -> list[list[int]]:
        return _client_chunks(self.horizon, only, self.settings.batch_size)


def generate_due_invoices(today, settings: Settings, *, admin: Admin,
                          client_ids: Iterable[int] | None = None, dry_run: bool = False,
                          send_emails: bool = True,
                          progress: Callable[[int, int], None] | None = None,
                          heartbeat: Callable[[], None] | None = None) -> RenewalResult:
    """Bill every item due by `today` (rules §4): the daily run, or one client on demand."""
    require(admin, GENERATE_DUE_INVOICES)
    job = _BillingJob(today, settings, admin, send_emails and settings.send_invoice_emails)
    chunks = job.chunks(client_ids)
    clients, done = sum(len(chunk) for chunk in chunks), 0
    total = RenewalResult()
    # The next chunk is read and planned in a planning process while this one is written; one
    # client on demand (a single chunk) needs none.
    ahead_ok = client_ids is None and len(chunks) > 1 and can_work_ahead()
    with WorkAhead(_planning_ahead(job, write=not dry_run)) as planner:
        if ahead_ok:
            planner.warm()
        for number, chunk in enumerate(chunks):
            ahead = planner.take(number)
            # before the write transaction: the lock is held for writing only
            waited = ahead is not None and ahead.wait()
            plan_next = None
            if ahead_ok and number + 1 < len(chunks):
                plan_next = _planning_next(planner, number + 1, chunks[number + 1],
                                           writer_renders=waited)
            try:
                with database.atomic():
                    total.add(_bill_with_retries(chunk, job, dry_run, ahead, plan_next))
            except OperationalError as exc:  # full disk, read-only file: this chunk is not billed
                total.failures.append(_chunk_failure(chunk, database_error_text(exc)))
            done += len(chunk)
            if progress:
                progress(done, clients)
            if heartbeat:
                heartbeat()
    return total


def _chunk_failure(client_ids, error) -> dict:
    return {"item": f"clients {client_ids[0]}–{client_ids[-1]}", "error": f"could not bill: {error}"}


def _bill_with_retries(client_ids, job: _BillingJob, dry_run: bool = False,
                       ahead: Ahead | None = None,
                       plan_next: Callable[[int | None], None] | None = None) -> RenewalResult:
    """Bill a chunk of clients inside the caller's transaction, each try in a savepoint; the
    first try uses the chunk's plan made ahead (`models.work_ahead`) if it is still current.
    Once the chunk's plan is known, `plan_next(first_id)` starts planning the next chunk
    ahead, with the id its first invoice will most likely get (its emails are rendered
    for it). A chunk that cannot be planned (bad data: a rule raised) fails alone, as one that
    cannot be written does; database errors go to the caller."""
    for _ in range(3):
        try:
            with database.atomic():
                plan = None
                try:
                    if ahead is not None and ahead.current():
                        plan = ahead.result()
                    else:
                        plan = _plan_chunk(client_ids, job, write=not dry_run)
                except DATABASE_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported as the chunk's failure
                    return RenewalResult(failures=[_chunk_failure(client_ids, exc)])
                finally:
                    if plan_next is not None:  # once, whatever became of this plan
                        plan_next(_next_first_id(plan, job, dry_run))
                        plan_next = None
                ahead = None  # a retry plans again: the plan missed what refused it
                return _write_chunk(plan, job, dry_run)
        except IntegrityError as exc:
            # Someone billed one of these periods meanwhile; the next selection excludes it.
            last_error = exc
    return RenewalResult(failures=[_chunk_failure(client_ids, last_error)])


def _planning_next(planner: WorkAhead, key, client_ids, writer_renders: bool):
    """`plan_next` for `_bill_with_retries`: plan chunk `key` ahead. Its emails are rendered
    ahead too, unless `writer_renders` them: the writer does when it waited for the plan it
    writes now (the planning process is the slower: the two share the work), or when other
    workers share the run."""
    def plan_next(first_id: int | None) -> None:
        planner.start(key, client_ids, None if writer_renders else first_id)

    return plan_next


def _next_first_id(plan: "_ChunkPlan | None", job: _BillingJob, dry_run: bool) -> int | None:
    """The id the first invoice of the chunk after `plan`'s will most likely get (None when
    it writes no email, or the plan failed)."""
    if plan is None or dry_run or not job.send_emails:
        return None
    first = next_id(Invoice)
    return None if first is None else first + len(plan.prepared.invoices)


@dataclass(slots=True)
class _ChunkPlan:
    groups: dict | None  # plan_invoices', for a dry run (it counts them)
    prepared: PreparedInvoices | None  # what is written; None in a dry run


def _plan_chunk(client_ids, job: _BillingJob, write: bool = True,
                first_id: int | None = None) -> _ChunkPlan:
    """The chunk's invoices to write: reads only, so it may run ahead (`models.work_ahead`);
    with `first_id`, their emails rendered for invoice ids from it on."""
    candidates = _candidates(job.horizon, client_ids)
    groups = plan_invoices(candidates, job.today, job.settings,
                           continuous=job.settings.continuous_invoicing,
                           separate_clients=_separate_clients(client_ids))
    prepared = (prepare_invoices(groups, currency=job.settings.currency, first_id=first_id,
                                 today=job.today, company_name=job.settings.company_name)
                if write else None)
    return _ChunkPlan(None, prepared) if write else _ChunkPlan(groups, None)


def _planning_ahead(job: _BillingJob, write: bool):
    """`_plan_chunk` as the planning process runs it (`models.work_ahead`): what it is given
    crosses by pickle, so the job goes as its parts (planning never acts as an admin)."""
    return partial(_plan_in_process, today=job.today, settings=job.settings,
                   send_emails=job.send_emails, write=write)


def _plan_in_process(client_ids, first_id, *, today, settings: Settings, send_emails: bool,
                     write: bool) -> _ChunkPlan:
    return _plan_chunk(client_ids, _BillingJob(today, settings, SYSTEM_ADMIN, send_emails), write,
                       first_id)


def _write_chunk(plan: _ChunkPlan, job: _BillingJob, dry_run: bool) -> RenewalResult:
    groups = plan.groups
    if dry_run:
        items = dict.fromkeys(f"{s.item_type} #{s.item_id}" for g in groups.values() for s in g[3]
                              if s.item_type)  # once each, in invoice order
        return RenewalResult(invoices=len(groups), lines=sum(len(g[3]) for g in groups.values()),
                             amount=sum_money(s.amount for g in groups.values() for s in g[3]),
                             items=list(items))
    written = write_invoices(plan.prepared, job.today, admin=job.admin,
                             send_emails=job.send_emails,
                             company_name=job.settings.company_name,
                             currency=job.settings.currency)
    _count_promotion_renewals(plan.prepared.services_billed, job.admin)
    return written


# --- one run shared by several workers --------------------------------------------------------
# The daily run splits its invoicing into chunks of clients stored in `billing_chunk`. Any
# number of workers (`hostdesk cron --workers N`, or `hostdesk cron --join` on other machines)
# claim pending chunks with FOR UPDATE SKIP LOCKED and bill each in the transaction that holds
# the claim: a worker that dies releases its chunk with its writes, and a chunk is billed once.


def plan_billing_chunks(run_id: int, today, settings: Settings) -> int:
    """Write the run's chunks (clients with something to bill); returns how many."""
    job = _BillingJob(today, settings, SYSTEM_ADMIN, False)
    chunks = [(run_id, json.dumps(chunk), "pending", "", 0, 0, 0, "[]")
              for chunk in job.chunks()]
    with database.atomic():
        insert_rows(BillingChunk, ("run", "client_ids", "status", "worker", "invoices", "lines",
                                   "amount", "failures"), chunks)
    return len(chunks)


def billing_planner(today, settings: Settings, *, send_emails: bool = True) -> WorkAhead:
    """The planning process of a run's chunks, for `bill_pending_chunks` (a context manager).
    Started at once when more items are due than one chunk holds: it takes a moment to start,
    which then passes while the run counts its chunks (`plan_billing_chunks`)."""
    job = _BillingJob(today, settings, SYSTEM_ADMIN, send_emails and settings.send_invoice_emails)
    planner = WorkAhead(_planning_ahead(job, write=True))
    if can_work_ahead() and _more_due_than(CHUNK_ITEMS, job.horizon):
        planner.warm()
    return planner


def _more_due_than(items: int, horizon) -> bool:
    """Whether more than `items` services are due by `horizon` (a walk of that many entries of
    the due-date index at most)."""
    return (Service.select(Service.id)
            .where(Service.status.in_(ServiceStatus.BILLABLE) & (Service.next_due_date <= horizon))
            .offset(items).limit(1).exists())


def bill_pending_chunks(run_id: int, today, settings: Settings, *, worker: str,
                        send_emails: bool = True,
                        progress: Callable[[int, int], None] | None = None,
                        heartbeat: Callable[[], None] | None = None,
                        planner: WorkAhead | None = None, shared: bool = False) -> RenewalResult:
    """Claim and bill the run's pending chunks until none is left; returns this worker's share.

    Stops at the first database error (full disk, lost server): the chunk stays pending for
    another worker or the next run, and the error is this worker's failure. `planner`: one
    from `billing_planner` for the same day, left open for the caller to close. `shared`:
    other workers bill the run too, so the invoice ids a chunk will get cannot be foreseen:
    its emails are rendered when it is written, not ahead (they would be rendered twice)."""
    job = _BillingJob(today, settings, SYSTEM_ADMIN, send_emails and settings.send_invoice_emails)
    mine = RenewalResult()
    ahead_ok = can_work_ahead()
    with nullcontext(planner) if planner else WorkAhead(
            _planning_ahead(job, write=True)) as planner:
        if ahead_ok and _pending_chunks(run_id, at_most=2) > 1:
            planner.warm()
        while True:
            waited = planner.wait()  # the plan ahead is made before the write lock is taken
            try:
                with database.atomic():
                    chunk = _claim_chunk(run_id, prefer=planner.key)
                    if chunk is None:
                        return mine
                    client_ids = json.loads(chunk.client_ids)
                    ahead = planner.take(chunk.id)
                    plan_next = None
                    if ahead_ok:
                        following = _next_pending_chunk(run_id, chunk.id)
                        if following is not None:
                            plan_next = _planning_next(planner, following.id,
                                                       json.loads(following.client_ids),
                                                       writer_renders=waited or shared)
                    result = _bill_with_retries(client_ids, job, ahead=ahead, plan_next=plan_next)
                    (BillingChunk.update(status="failed" if result.failures else "done",
                                         worker=worker[:200], invoices=result.invoices,
                                         lines=result.lines, amount=result.amount,
                                         failures=json.dumps(result.failures, default=str))
                     .where(BillingChunk.id == chunk.id).execute())
            except OperationalError as exc:
                mine.failures.append({"item": f"worker {worker}",
                                      "error": f"stopped billing: {database_error_text(exc)}"})
                return mine
            mine.add(result)
            if progress:
                progress(*_chunks_done(run_id))
            if heartbeat:
                heartbeat()


def _claim_chunk(run_id: int, prefer: int | None = None):
    """The run's first pending chunk, or chunk `prefer` (planned ahead) while it is pending."""
    query = (BillingChunk.select(BillingChunk.id, BillingChunk.client_ids)
             .where((BillingChunk.run == run_id) & (BillingChunk.status == "pending"))
             .order_by(BillingChunk.id).limit(1))
    if prefer is not None:
        query = query.order_by(Case(None, [(BillingChunk.id == prefer, 0)], 1), BillingChunk.id)
    if is_postgres():  # SQLite's write transaction already admits one worker at a time
        query = query.for_update(skip_locked=True)
    return query.first()


def _pending_chunks(run_id: int, at_most: int) -> int:
    return (BillingChunk.select(BillingChunk.id)
            .where((BillingChunk.run == run_id) & (BillingChunk.status == "pending"))
            .limit(at_most).count())


def _next_pending_chunk(run_id: int, after: int):
    """The pending chunk a worker will most likely claim next (to plan it ahead)."""
    return (BillingChunk.select(BillingChunk.id, BillingChunk.client_ids)
            .where((BillingChunk.run == run_id) & (BillingChunk.status == "pending")
                   & (BillingChunk.id > after))
            .order_by(BillingChunk.id).first())


def _chunks_done(run_id: int) -> tuple[int, int]:
    rows = dict(BillingChunk.select(BillingChunk.status, fn.COUNT(BillingChunk.id))
                .where(BillingChunk.run == run_id).group_by(BillingChunk.status).tuples())
    return sum(rows.values()) - rows.get("pending", 0), sum(rows.values())


def billing_totals(run_id: int) -> RenewalResult:
    """The whole run's invoicing, whichever workers did it; chunks still pending are failures."""
    total = RenewalResult()
    for chunk in BillingChunk.select().where(BillingChunk.run == run_id).order_by(BillingChunk.id):
        if chunk.status == "pending":
            total.failures.append(_chunk_failure(json.loads(chunk.client_ids),
                                                 "no worker finished this chunk"))
            continue
        total.invoices += chunk.invoices
        total.lines += chunk.lines
        total.amount += chunk.amount
        total.failures.extend(json.loads(chunk.failures))
    return total


def _count_promotion_renewals(billed: dict, admin: Admin) -> None:
    """A promotion that recurs for N renewals: count the discounted renewals just billed
    (`billed`: service id -> its renewal lines), and after the N-th put the service back on
    the catalog price for its cycle."""
    if not billed:
        return
    promotions = [row[0] for row in Promotion.select(Promotion.id).where(
        (Promotion.recurring == True) & (Promotion.recur_for > 0)).tuples()]  # noqa: E712
    if not promotions:  # the usual case: no service of the chunk is read for it
        return
    limited = (Service.select(Service.id, Service.client, Service.product, Service.billing_cycle,
                              Service.recurring_amount, Service.promotion_uses,
                              Promotion.id, Promotion.code, Promotion.recur_for)
               .join(Promotion)
               .where(ids_in(Service.id, billed) & (Promotion.recurring == True)  # noqa: E712
                      & (Promotion.recur_for > 0) & (Service.promotion_uses < Promotion.recur_for)))
    for service in limited:
        uses = min(service.promotion_uses + billed[service.id], service.promotion.recur_for)
        changes = {"promotion_uses": uses}
        if uses >= service.promotion.recur_for:
            price = ProductPrice.get_or_none((ProductPrice.product == service.product_id)
                                             & (ProductPrice.cycle == service.billing_cycle))
            if price is not None:
                changes["recurring_amount"] = price.price
        Service.update(**changes, version=Service.version + 1).where(Service.id == service.id).execute()
        if "recurring_amount" in changes:
            audit.record(admin.login, "service.promotion_ended", "service", service.id,
                         client_id=service.client_id,
                         description=f"promotion {service.promotion.code} discounted its last "
                                     f"renewal; the price is {changes['recurring_amount']} again",
                         before={"recurring_amount": service.recurring_amount},
                         after={"recurring_amount": changes["recurring_amount"]})


# --- invoice selected items early ------------------------------------------------------------


@dataclass
class SelectedItemsResult:
    invoice_ids: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # (item_type, item_id, reason)


def invoice_selected_items(items: list[tuple[str, int]], today, settings: Settings, *,
                           admin: Admin, send_email: bool = True) -> SelectedItemsResult:
    """Bill each ticked item's next unbilled period now, whatever `invoice_days` says.

    An item is refused, with the reason, by the daily run's billable check (`models.billable`,
    with pending items allowed too) or when its period overlaps one already invoiced. Items the
    admin chose together share an invoice per due date and payment method, even for a client
    with `separate_invoices` on.
    """
    require(admin, GENERATE_DUE_INVOICES)
    result = SelectedItemsResult()
    groups = {}
    with database.atomic():
        for item_type, item_id in items:
            model = model_for(item_type)
            item = model.get_or_none(model.id == item_id)
            refusal, candidate = _early_candidate(item_type, item)
            if refusal:
                result.refused.append((item_type, item_id, refusal))
                continue
            start = item.next_due_date
            spec = renewal_line_spec(item_type, item, start, candidate.label,
                                     settings.prorata_day_basis)
            refusal = (period_refusal(item_type, candidate.terms, start)
                       or _already_invoiced(item_type, item_id, start, spec.period_end))
            if refusal:
                result.refused.append((item_type, item_id, refusal))
                continue
            key = (candidate.client_id, start, candidate.payment_method)
            groups.setdefault(key, (candidate.client_id, start, candidate.payment_method, []))[3].append(spec)
        written = write_invoices(prepare_invoices(groups, currency=settings.currency), today,
                                 admin=admin, send_emails=send_email,
                                 company_name=settings.company_name, currency=settings.currency)
        result.invoice_ids = written.invoice_ids
    return result


def _already_invoiced(item_type: str, item_id: int, start, end) -> str:
    overlapping = (InvoiceLine.select().where(
        (InvoiceLine.item_type == item_type) & (InvoiceLine.item_id == item_id)
        & (InvoiceLine.kind == LineKind.RENEWAL) & (InvoiceLine.cancelled == False)  # noqa: E712
        & (InvoiceLine.period_start < end)
        & (InvoiceLine.period_end.is_null() | (InvoiceLine.period_end > start))).exists())
    return f"the period from {start} is already invoiced" if overlapping else ""


def _early_candidate(item_type: str, item):
    if item is None:
        return "does not exist", None
    if item_type == ItemType.DOMAIN:
        if item.status not in (DomainStatus.ACTIVE, DomainStatus.PENDING):
            return f"is {item.status}", None
        years = int(item.years or 1)
        label = f"Domain renewal - {item.name} - {years} year{'s' if years > 1 else ''}"
        return _no_ndd(item) or None, Candidate(item_type, item, item.client_id, item.payment_method,
                                                label, Cycle.ANNUALLY.value)
    service = item if item_type == ItemType.SERVICE else Service.get_by_id(item.service_id)
    terms = read_terms([service.id])[service.id]
    refusal = item_refusal(item_type, item.status, terms, EARLY_STATUSES)
    if refusal:
        return refusal, None
    if item.billing_cycle in NON_RECURRING:
        return f"has a {Cycle(item.billing_cycle).label.lower()} cycle", None
    if item_type == ItemType.ADDON:
        return _no_ndd(item) or None, Candidate(item_type, item, service.client_id,
                                                service.payment_method, f"Addon: {item.name}",
                                                item.billing_cycle, terms=terms)
    product = Product.get_by_id(item.product_id)
    label = product.name + (f" - {item.domain}" if item.domain else "")
    return _no_ndd(item) or None, Candidate(item_type, item, item.client_id, item.payment_method,
                                            label, item.billing_cycle, terms=terms)


def _no_ndd(item) -> str:
    return "has no next due date" if item.next_due_date is None else ""


# --- changing a next due date ----------------------------------------------------------------


def next_due_date_refusals(item_type: str, items: Iterable, new_ndd) -> dict[int, str]:
    """Why moving each item's NDD back to `new_ndd` is refused, by item id (items not named
    may move): a live renewal line of the item covers days from `new_ndd` on, so the periods
    from the new date would bill those days again (rules §4). Moving forward is always allowed
    here; the admin cancels the line first to bill the period again."""
    moving_back = [item.id for item in items
                   if item.next_due_date is not None and new_ndd < item.next_due_date]
    refusals = {}
    for start in range(0, len(moving_back), 500):
        lines = (InvoiceLine.select(InvoiceLine.item_id, InvoiceLine.period_start,
                                    InvoiceLine.period_end, InvoiceLine.invoice)
                 .where((InvoiceLine.item_type == item_type)
                        & ids_in(InvoiceLine.item_id, moving_back[start:start + 500])
                        & (InvoiceLine.kind == LineKind.RENEWAL)
                        & (InvoiceLine.cancelled == False)  # noqa: E712
                        & (InvoiceLine.period_end.is_null() | (InvoiceLine.period_end > new_ndd)))
                 .order_by(InvoiceLine.period_start.desc()))
        for line in lines:  # the earliest such line of each item is kept
            last = day_before(line.period_end).isoformat() if line.period_end else "…"
            refusals[line.item_id] = (f"the period {line.period_start.isoformat()} – {last} is "
                                      f"already invoiced (invoice #{line.invoice_id}); cancel "
                                      "that line first")
    return refusals


def check_next_due_date_change(item_type: str, item, new_ndd) -> None:
    """Refuse (ValidationError on `next_due_date`) moving an item's NDD back across a period
    already invoiced; every path that sets an NDD by hand calls this or its batch form."""
    if new_ndd is None:
        return
    reason = next_due_date_refusals(item_type, [item], new_ndd).get(item.id)
    if reason:
        raise ValidationError("next_due_date", reason)
