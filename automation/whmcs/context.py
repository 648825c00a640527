"""What every import step shares: the context of one run, reading the large WHMCS tables
(prefetched on a second thread), writing in batched transactions, and the rows the
reconciliation leaves out."""

from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from operator import attrgetter

from hostdesk.automation.whmcs import values as v
from hostdesk.automation.whmcs.pipeline import InlineWriter
from hostdesk.automation.whmcs.source import Source
from hostdesk.automation.whmcs.values import Unmappable
from hostdesk.automation.whmcs.writer import BATCH, IdMap, plan, record, write_planned
from hostdesk.models.db import database
from hostdesk.models.schema import Admin


class ReconciliationError(Exception):
    """A batch does not add up to its source: it is rolled back and the import stops."""


@dataclass
class Context:
    source: Source
    report: object
    idmap: IdMap
    currency_id: int
    client_ids: set
    progress: object = None
    admin: Admin | None = None  # the acting admin (what the import adds is theirs in the log)
    now: str = ""
    # writes the large tables' batches (on its own thread, see pipeline.py)
    writer: object = field(default_factory=InlineWriter)
    # what the reconciliation must leave out of the source's figures: figure -> cents
    excluded: dict = field(default_factory=lambda: defaultdict(int))
    # billable items as read: (item type, whmcs id) -> (cycle months, anchor day, next due)
    items: dict = field(default_factory=dict)
    service_products: dict = field(default_factory=dict)  # whmcs service id -> whmcs product id
    net_paid: dict = field(default_factory=dict)  # whmcs invoice id -> cents received - refunded
    accounts: list = field(default_factory=list)
    other_clients: set = field(default_factory=set)  # clients of other currencies: left out
    skipped_invoices: set = field(default_factory=set)
    skipped_clients: set = field(default_factory=set)  # of the chosen currency, not imported
    invoice_dates: dict = field(default_factory=dict)  # whmcs invoice id -> ISO date
    duplicate_accounts: set = field(default_factory=set)  # tblaccounts ids recorded twice
    read_cache: dict = field(default_factory=dict)
    # pending services whose unpaid order invoice bills their first period: service id ->
    # (first period start, end) as ISO dates
    first_periods: dict = field(default_factory=dict)

    def ids(self, table: str) -> dict[str, int]:
        """source id -> hostdesk id of `table`, once the writer has written all of it (a step
        asks after its own preparation, which so goes on while the writer finishes)."""
        if not self.idmap.next_id:  # else numbered when mapped: known before written
            self.writer.drain()
        return self.idmap.ids(table)

    def show(self, task: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(task, done, total)


# The large tables, read through `Source.select` (name -> source, columns, where, order);
# `prefetch` reads them all in the background while the first steps write. A column read as
# `:t` is text as `values.text` gives it, `:c` cents (take them with `values.read_cents`).
READS = {
    "tblclients": ("tblclients", "id:i firstname:t lastname:t companyname:t email:t "
                   "phonenumber:t address1:t address2:t state:t city:t postcode:t country:t "
                   "status credit:c groupid:i separateinvoices defaultgateway notes:t "
                   "cardlastfour:t created_at datecreated",
                   "WHERE currency = %s", "id"),
    "tblorders": ("tblorders", "id:i ordernum userid:i status paymentmethod promocode:t amount:c "
                  "notes:t date invoiceid:i", "", "id"),
    "tblhosting": ("tblhosting", "id:i userid:i orderid:i packageid:i server:i regdate "
                   "created_at updated_at domain:t dedicatedip:t username:t "
                   "has_password=(password<>''):i domainstatus qty:i firstpaymentamount:c "
                   "amount:c billingcycle nextduedate paymentmethod promoid:i promocount:i "
                   "subscriptionid:t overideautosuspend overidesuspenduntil suspendreason:t "
                   "termination_date notes:t", "", "id"),
    "tblhostingconfigoptions": ("tblhostingconfigoptions", "id:i relid:i configid:i optionid:i "
                                "qty:i", "", "id"),
    "tblhostingaddons": ("tblhostingaddons", "id:i hostingid:i addonid:i name:t setupfee:c "
                         "recurring:c billingcycle status regdate created_at nextduedate "
                         "termination_date notes:t", "", "id"),
    "tbldomains": ("tbldomains", "id:i userid:i orderid:i type registrationdate created_at "
                   "domain:t firstpaymentamount:c recurringamount:c registrationperiod:i "
                   "expirydate status nextduedate paymentmethod dnsmanagement emailforwarding "
                   "idprotection donotrenew promoid:i additionalnotes:t", "", "id"),
    "tblaccounts": ("tblaccounts a JOIN tblinvoices i ON i.id = a.invoiceid "
                    "JOIN tblclients c ON c.id = i.userid",
                    "a.id:i a.invoiceid:i a.amountin:c a.amountout:c a.fees:c a.gateway "
                    "a.transid:t a.date", "WHERE c.currency = %s", "a.id"),
    "tblinvoices": ("tblinvoices", "id:i userid:i invoicenum:t date duedate datepaid total:c "
                    "tax:c tax2:c credit:c taxrate taxrate2 status paymentmethod notes:t "
                    "created_at", "", "id"),
    "tblinvoiceitems": ("tblinvoiceitems it JOIN tblinvoices i ON i.id = it.invoiceid "
                        "JOIN tblclients c ON c.id = i.userid",
                        "it.id:i it.invoiceid:i it.type it.relid:i it.description:t it.amount:c "
                        "it.duedate", "WHERE c.currency = %s", "it.id"),
    "tblcredit": ("tblcredit", "id:i clientid:i amount:c description:t relid:i date", "", "id"),
}


# The payment gateways in use (catalog.payment_gateways, the last step), read last: the
# union scans five large tables (a second of the server's time, which the steps would wait
# for ahead of the orders).
GATEWAYS_USED = (
    "SELECT gateway AS g FROM tblaccounts UNION SELECT paymentmethod FROM tblhosting "
    "UNION SELECT paymentmethod FROM tblinvoices UNION SELECT defaultgateway FROM tblclients "
    "UNION SELECT paymentmethod FROM tbldomains")
GATEWAYS_CONFIGURED = "SELECT DISTINCT gateway AS g FROM tblpaymentgateways"
# The Hosting items on unpaid invoices (a pending service's first period): status and type
# compared as values._squash does (WHMCS's own names; the columns compare without case).
UNPAID_HOSTING_ITEMS = (
    "SELECT it.relid AS relid, DATE_FORMAT(it.duedate, '%Y-%m-%d') AS duedate "
    "FROM tblinvoiceitems it JOIN tblinvoices i ON i.id = it.invoiceid "
    "WHERE LOWER(REPLACE(i.status, ' ', '')) IN ('unpaid', 'draft', 'collections', "
    "'paymentpending') AND LOWER(it.type) = 'hosting'")
# Payments of the chosen currency attached to no invoice (deposits: skipped, named).
LOOSE_PAYMENTS = ("SELECT a.id, a.amountin FROM tblaccounts a LEFT JOIN tblclients c "
                  "ON c.id = a.userid WHERE a.invoiceid = 0 AND c.currency = %s")
# The order of the reads: as the steps first need them.
READ_ORDER = ("tblclients", "tblorders", "tblhosting", UNPAID_HOSTING_ITEMS,
              "tblhostingconfigoptions", "tblhostingaddons", "tbldomains", "tblaccounts",
              LOOSE_PAYMENTS, "tblinvoices", "tblinvoiceitems", "tblcredit", GATEWAYS_USED,
              GATEWAYS_CONFIGURED)


def _read_call(ctx: Context, name: str) -> tuple:
    source, columns, where, order = READS[name]
    return source, columns, where, (ctx.currency_id,) if "%s" in where else None, order


def read(ctx: Context, name: str) -> list[dict]:
    """The rows of a large table (read once per import: two steps may ask)."""
    if name not in ctx.read_cache:
        ctx.read_cache[name] = ctx.source.select(*_read_call(ctx, name))
    return ctx.read_cache[name]


def prefetch(ctx: Context, first: list[tuple] = (), then: tuple[str, ...] = ()) -> None:
    """Read the large tables on a second thread while the steps write (the database driver
    waits on the network and SQLite writes without holding Python's lock): after the small
    queries `first` ((sql, args) of rows() queries: the steps would wait for a large read
    to end before each), and before the queries `then` (rows() queries whose one argument, if
    any, is the chosen currency)."""
    ctx.source.prefetch([("rows", sql, args) for sql, args in first] + [
        _read_call(ctx, name) if name in READS
        else ("rows", name, (ctx.currency_id,) if "%s" in name else None)
        for name in READ_ORDER + tuple(then)])


def write_rows(ctx: Context, table: str, model, columns, rows, *,
               delete_missing: bool = False) -> dict:
    """Write `rows` now, in transactions of BATCH rows (one for the small catalog tables that
    `delete_missing`: it must see every row), through the writer (after every batch given to
    it so far); returns source id -> hostdesk id."""
    counts = ctx.report.table(table)
    chunks = [rows] if delete_missing else [rows[start:start + BATCH]
                                            for start in range(0, len(rows), BATCH)]
    result, done = {}, 0
    for chunk in chunks:
        planned = plan(ctx.idmap, counts, table, model, columns, chunk,
                       delete_missing=delete_missing)
        ids = ctx.writer.call(partial(write_batch, table, model, columns, planned.to_write()))
        result.update(record(ctx.idmap, counts, table, planned, ids))
        done += len(chunk)
        ctx.show(table, done, len(rows))
    return result


def write_batch(table: str, model, columns, planned) -> list[int]:
    """A writer job: one planned batch in its own transaction (`write_planned`)."""
    with database.atomic():
        return write_planned(table, model, columns, planned)


def stream_rows(ctx: Context, table: str, model, columns, rows, total: int) -> None:
    """Write the (source id, values) pairs `rows` yields, BATCH at a time, each batch one
    writer job: the mapping of the next batch goes on while the writer writes this one.

    The ids come later: a step that needs them runs after `ctx.writer.drain()`."""
    counts = ctx.report.table(table)
    rows, done = iter(rows), 0
    while batch := list(islice(rows, BATCH)):
        # planned here (digests, import map look-ups): the writer only writes
        planned = plan(ctx.idmap, counts, table, model, columns, batch)
        ctx.writer.submit(partial(write_batch, table, model, columns, planned.to_write()),
                          then=partial(record, ctx.idmap, counts, table, planned))
        done += len(batch)
        ctx.show(table, min(done, total), total)


def in_scope(ctx: Context, table: str, rows: list, column: str) -> list:
    """The rows of the chosen currency's clients; others are skipped as orphans."""
    if ctx.client_ids.issuperset(map(attrgetter(column), rows)):
        return rows  # the usual case, checked at C speed: every row is in scope
    kept = []
    for row in rows:
        owner = getattr(row, column)
        if owner in ctx.client_ids:
            kept.append(row)
        elif owner in ctx.skipped_clients:
            ctx.report.skip(table, row.id, f"orphan: client #{owner} was skipped")
            if table == "tblinvoices":
                exclude_invoice(ctx, row)
            elif table == "tblcredit":
                ctx.excluded["credit movements"] += v.read_cents(row.amount)
        elif owner not in ctx.other_clients:
            ctx.report.skip(table, row.id, f"orphan: client #{owner} does not exist")
    return kept

def exclude_invoice(ctx: Context, row) -> None:
    status = status_or_text(row.status)
    ctx.excluded[f"invoices {status}"] += v.read_cents(row.total)
    ctx.excluded[f"invoices {status} count"] += 1
    ctx.excluded["net amount paid"] += ctx.net_paid.get(row.id, 0)
    ctx.skipped_invoices.add(row.id)


def status_or_text(value) -> str:
    try:
        return v.invoice_status(value)
    except Unmappable:
        return v.text(value).lower() or "?"
