"""Import steps for the money: payments read first (an invoice's amount paid is net of
refunds), invoices and their items (renewal lines for the periods WHMCS billed, checked
per batch against the source), payments and credit movements."""

from collections import defaultdict, namedtuple
from functools import partial
from operator import attrgetter

from hostdesk.automation.whmcs import values as v
from hostdesk.automation.whmcs.context import (
    LOOSE_PAYMENTS,
    Context,
    ReconciliationError,
    exclude_invoice,
    in_scope,
    read,
    stream_rows,
)
from hostdesk.automation.whmcs.values import Unmappable
from hostdesk.automation.whmcs.writer import BATCH, plan, record, write_plan, write_planned
from hostdesk.models.cycles import add_months_anchored
from hostdesk.models.db import database
from hostdesk.models.schema import (
    CreditEntry,
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    Payment,
)


RENEWAL_TYPES = {"hosting": ItemType.SERVICE, "addon": ItemType.ADDON, "domain": ItemType.DOMAIN,
                 "domainregister": ItemType.DOMAIN, "domaintransfer": ItemType.DOMAIN}
ITEM_TABLES = {ItemType.SERVICE: "tblhosting", ItemType.ADDON: "tblhostingaddons",
               ItemType.DOMAIN: "tbldomains"}
LIVE_ORDER = {"paid": 0, "refunded": 1, "unpaid": 2, "draft": 3}
INVOICE_COLUMNS = ("client", "order", "status", "date", "due_date", "paid_date", "payment_method",
                   "total", "amount_paid", "notes", "created_at", "version")
LINE_COLUMNS = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
                "description", "amount", "cancelled", "applied_at", "upgrade", "sort_order")


def read_accounts(ctx: Context) -> None:
    """tblaccounts of the chosen currency's invoices: read before invoices, whose amount paid
    is the money received less refunds."""
    rows = read(ctx, "tblaccounts")
    loose = ctx.source.rows(LOOSE_PAYMENTS, (ctx.currency_id,))
    seen = set()
    for row in rows:
        received = v.read_cents(row.amountin)
        ref = row.transid[:200]
        key = (row.invoiceid, v.payment_method(row.gateway), ref)
        if received > 0 and ref and key in seen:  # one gateway transaction recorded twice:
            ctx.duplicate_accounts.add(row.id)  # stored once (rules §5)
            ctx.excluded["net amount paid"] += received
            received = 0
        seen.add(key)
        ctx.net_paid[row.invoiceid] = ctx.net_paid.get(row.invoiceid, 0) + \
            received - v.read_cents(row.amountout)
    ctx.accounts = rows
    counts = ctx.report.table("tblaccounts")
    counts.read = len(rows) + len(loose)
    for row in loose:
        ctx.report.skip("tblaccounts", row["id"],
                        "payment not attached to an invoice (a deposit: the client's credit "
                        "balance is imported from tblclients)")


def _periods(ctx: Context, items_of: dict, statuses: dict) -> dict:
    """item id -> (period start, period end) for the WHMCS items that become renewal lines.

    Each renews (item, due date) for one cycle, ended early where the item's next billed
    period or its next due date begins, so live periods of one item never overlap and the
    next daily run starts where WHMCS stopped. A second live line for the same period (WHMCS
    billed it twice) stays a plain line."""
    by_item = defaultdict(list)
    billable, first_periods, squash, date = ctx.items, ctx.first_periods, v._squash, v.date
    for invoice, status in statuses.items():
        rank = 9 if status == "cancelled" else LIVE_ORDER.get(status, 5)
        for item in items_of.get(invoice, ()):
            start = date(item.duedate)
            kind = RENEWAL_TYPES.get(squash(item.type))
            key = (kind, item.relid)
            if kind is None or start is None or key not in billable or (
                    item.relid in first_periods
                    and _first_period(ctx, kind, item) is not None):
                continue
            by_item[key].append((start, rank, item.id))
    periods = {}
    for key, lines in by_item.items():
        months, anchor, next_due = billable[key]
        if len(lines) == 1:  # most items: one period, ended early only by the next due date
            ((start, rank, item_id),) = lines
            end = add_months_anchored(start, months, anchor)
            if rank != 9 and next_due is not None and start < next_due < end:
                end = next_due
            periods[item_id] = (start.isoformat(), end.isoformat())
            continue
        live = sorted(line for line in lines if line[1] != 9)
        starts, kept = [], set()
        for start, _, item_id in live:
            if starts and starts[-1] == start:
                ctx.report.table("tblinvoiceitems").duplicates += 1
                continue  # billed twice in WHMCS: the first stays the renewal line
            starts.append(start)
            kept.add(item_id)
        for start, rank, item_id in lines:
            end = add_months_anchored(start, months, anchor)
            if item_id in kept:
                later = [s for s in starts if s > start]
                if later and later[0] < end:
                    end = later[0]
                if next_due is not None and start < next_due < end:
                    end = next_due
            elif rank != 9:
                continue
            periods[item_id] = (start.isoformat(), end.isoformat())
    return periods


def invoices(ctx: Context) -> None:
    rows = in_scope(ctx, "tblinvoices", read(ctx, "tblinvoices"), "userid")
    counts = ctx.report.table("tblinvoices")
    counts.read = len(rows) + len(counts.skipped)
    items = read(ctx, "tblinvoiceitems")
    item_counts = ctx.report.table("tblinvoiceitems")
    item_counts.read = len(items)
    # each invoice's items, and what they add up to (amounts read as cents; an amount that
    # is not one is named when its invoice is mapped)
    items_of, lines_sums, not_amounts = defaultdict(list), defaultdict(int), {}
    for item in items:
        invoice, amount = item.invoiceid, item.amount
        items_of[invoice].append(item)
        if type(amount) is int:
            lines_sums[invoice] += amount
        else:
            not_amounts.setdefault(invoice, amount)
    order_of = {row.invoiceid: row.id for row in read(ctx, "tblorders")
                if row.invoiceid > 0}
    accepted, statuses = [], {}
    iso, read_cents = v.iso, v.read_cents
    make_accepted = partial(tuple.__new__, _Accepted)  # as _Accepted(...), at C speed
    for row in rows:
        try:
            status = v.invoice_status(row.status)
            day = iso(row.date) or iso(row.duedate)
            if day is None:
                raise Unmappable("invoice without a date")
            total, tax, tax2, credit = (read_cents(row.total), read_cents(row.tax),
                                        read_cents(row.tax2), read_cents(row.credit))
            if row.id in not_amounts:
                v.cents(not_amounts[row.id])  # raises: the item's amount is named
            lines_sum = lines_sums.get(row.id, 0)
            if lines_sum + tax + tax2 - credit != total:
                raise Unmappable(f"broken invoice: items {lines_sum / 100:.2f} + tax - credit = "
                                 f"{(lines_sum + tax + tax2 - credit) / 100:.2f}, but its "
                                 f"total is {total / 100:.2f}")
        except Unmappable as exc:
            ctx.report.skip("tblinvoices", row.id, str(exc))
            exclude_invoice(ctx, row)
            continue
        statuses[row.id] = status
        ctx.invoice_dates[row.id] = day
        paid = status in ("paid", "refunded")
        accepted.append(make_accepted((
            row, status, day, iso(row.duedate) or day, total, tax, tax2, credit,
            iso(row.datepaid) if paid else None,
            (v.moment(row.datepaid) or f"{day} 00:00:00.000000") if paid else None)))
    periods = _periods(ctx, items_of, statuses)
    if item_counts.duplicates:
        ctx.report.note(f"{item_counts.duplicates} WHMCS invoice items renewed a period already "
                        "on another live invoice: kept as plain lines, so no period is billed "
                        "twice")
    # hostdesk ids last: what comes before needs none, and goes on while the writer works
    clients, orders_ = ctx.ids("tblclients"), ctx.ids("tblorders")
    item_maps = {kind: ctx.ids(table) for kind, table in ITEM_TABLES.items()}
    done = 0
    for start in range(0, len(accepted), BATCH // 2):
        batch = accepted[start:start + BATCH // 2]
        ctx.writer.submit(*_invoice_job(ctx, *_invoice_batch(
            ctx, batch, items_of, periods, clients, orders_, order_of, item_maps)))
        done += len(batch)
        ctx.show("tblinvoices", done, len(accepted))


_Accepted = namedtuple("_Accepted", "row status day due total tax tax2 credit paid applied")


def _invoice_batch(ctx, batch, items_of, periods, clients, orders_, order_of, item_maps) -> tuple:
    """A batch of invoices and their lines mapped, ready for `_write_invoice_batch`.

    A line names its invoice by WHMCS id: the hostdesk id is known once the invoice is
    written, in the same transaction."""
    invoice_rows, line_rows, extra_rows, expected_total = [], [], [], 0
    add_invoice, add_line = invoice_rows.append, line_rows.append
    for a in batch:
        row = a.row
        expected_total += a.total
        number = row.invoicenum
        notes = f"WHMCS invoice #{row.id}" + (f" ({number})" if number else "")
        if row.notes:
            notes = f"{notes}\n{row.notes}"
        add_invoice((str(row.id), (
            clients[str(row.userid)], orders_.get(str(order_of.get(row.id)), None),
            a.status, a.day, a.due, a.paid, v.payment_method(row.paymentmethod), a.total,
            ctx.net_paid.get(row.id, 0), notes,
            v.moment(row.created_at) or f"{a.day} 00:00:00.000000", 1)))
        applied, invoice = a.applied, str(row.id)
        cancelled = a.status == "cancelled"
        order = 0
        for item in items_of.get(row.id, ()):
            add_line((str(item.id), invoice, _line(ctx, item, order, cancelled, applied,
                                                      periods, item_maps)))
            order += 1
        if not (a.tax or a.tax2 or a.credit):
            continue
        for key, amount, label, kind in (
                ("tax", a.tax, f"Tax {row.taxrate}%", LineKind.CUSTOM),
                ("tax2", a.tax2, f"Tax {row.taxrate2}%", LineKind.CUSTOM),
                ("credit", -a.credit, "Credit applied", LineKind.CREDIT)):
            if amount:
                extra_rows.append((f"{row.id}:{key}", invoice,
                                   (kind, None, None, None, None, label, amount, cancelled,
                                    applied, None, order)))
                order += 1
    what = f"invoices #{batch[0].row.id}–#{batch[-1].row.id}"
    return invoice_rows, line_rows, extra_rows, expected_total, what


def _invoice_job(ctx, invoice_rows, line_rows, extra_rows, expected_total, what) -> tuple:
    """The batch planned here, while the writer writes the one before: the invoices, and
    their lines too when every invoice's hostdesk id is known already (numbered by a first
    import, or imported before); the writer's job and its `then`."""
    invoices = plan(ctx.idmap, ctx.report.table("tblinvoices"), "tblinvoices", Invoice,
                    INVOICE_COLUMNS, invoice_rows)
    if len(invoices.result) < len(invoice_rows):  # new invoices: their lines wait for ids
        return (lambda: _write_invoice_batch(ctx, invoices, line_rows, extra_rows,
                                             expected_total, what)), None
    lines = _plan_lines(ctx, invoices.result, line_rows, extra_rows)
    return (partial(_write_planned_invoices, invoices.to_write(), list(invoices.result.values()),
                    [(table, planned.to_write()) for table, planned in lines], expected_total,
                    what),
            partial(_record_invoices, ctx, invoices, lines))


def _plan_lines(ctx, ids: dict, line_rows, extra_rows) -> list:
    """A line names its invoice by WHMCS id: `ids` gives the hostdesk one."""
    return [(table, plan(ctx.idmap, ctx.report.table(table), table, InvoiceLine, LINE_COLUMNS,
                         [(line, (ids[invoice], *values)) for line, invoice, values in rows]))
            for table, rows in (("tblinvoiceitems", line_rows),
                                ("tblinvoices.tax_credit", extra_rows))]


def _write_planned_invoices(invoices, ids, lines, expected_total, what) -> tuple:
    """A writer job, one transaction: the invoices (`ids`: theirs), their lines (planned),
    and the check that they add up; the ids the database gave the new rows."""
    with database.atomic():
        invoice_ids = write_planned("tblinvoices", Invoice, INVOICE_COLUMNS, invoices)
        line_ids = [write_planned(table, InvoiceLine, LINE_COLUMNS, planned)
                    for table, planned in lines]
        _check_batch(ids, expected_total, what)
    return invoice_ids, line_ids


def _record_invoices(ctx, invoices, lines, ids) -> None:
    invoice_ids, line_ids = ids
    record(ctx.idmap, ctx.report.table("tblinvoices"), "tblinvoices", invoices, invoice_ids)
    for (table, planned), new_ids in zip(lines, line_ids):
        record(ctx.idmap, ctx.report.table(table), table, planned, new_ids)


def _write_invoice_batch(ctx, invoices, line_rows, extra_rows, expected_total, what):
    """A writer job of a rerun (on the writer's thread), one transaction: the new invoices,
    then their lines (planned once the invoices have ids), and the check that they add up."""
    with database.atomic():
        ids = write_plan(ctx.idmap, ctx.report.table("tblinvoices"), "tblinvoices", Invoice,
                         INVOICE_COLUMNS, invoices)
        for table, planned in _plan_lines(ctx, ids, line_rows, extra_rows):
            write_plan(ctx.idmap, ctx.report.table(table), table, InvoiceLine, LINE_COLUMNS,
                       planned)
        _check_batch(list(ids.values()), expected_total, what)


def _line(ctx, item, order, cancelled, applied, periods, item_maps) -> tuple:
    """A line's values but its invoice (the item's text read stripped, its amount as cents)."""
    squashed = v._squash(item.type)
    amount = v.read_cents(item.amount)
    description = item.description[:500] or v.text(item.type) or "Item"
    kind, item_type, item_id, start, end = LineKind.CUSTOM, None, None, None, None
    renewal_kind = RENEWAL_TYPES.get(squashed)
    if renewal_kind is not None:
        item_type, item_id = renewal_kind, item_maps[renewal_kind].get(str(item.relid))
        first = _first_period(ctx, renewal_kind, item) if item_id is not None else None
        if item_id is None:
            item_type = None
        elif first is not None:
            kind = LineKind.FIRST
            start, end = first
        elif item.id in periods:
            kind = LineKind.RENEWAL
            start, end = periods[item.id]
    elif squashed == "setup":
        kind = LineKind.SETUP
    elif squashed.startswith("promo"):
        kind = LineKind.DISCOUNT
    if amount < 0 and kind not in (LineKind.DISCOUNT, LineKind.CREDIT):
        kind, item_type, item_id, start, end = LineKind.DISCOUNT, None, None, None, None
    # a paid invoice's lines have taken effect in WHMCS already (the due date moved on)
    return (kind, item_type, item_id, start, end, description, amount, cancelled, applied, None,
            order)


def _first_period(ctx: Context, kind: str, item) -> tuple | None:
    if kind != ItemType.SERVICE or not ctx.first_periods:
        return None
    found = ctx.first_periods.get(item.relid)
    return found if found is not None and found[0] == v.iso(item.duedate) else None


def _check_batch(invoice_ids: list[int], expected_total: int, what: str) -> None:
    """Inside the batch's transaction: the invoices and their lines add up to the source.

    Summed by the database (the lines of a batch are thousands of rows: summing them in
    Python cost the writer a tenth of its time)."""
    ids = ", ".join(str(int(i)) for i in invoice_ids) or "NULL"  # int(): digits only
    total = int(database.execute_sql(
        f"SELECT COALESCE(SUM(total), 0) FROM invoice WHERE id IN ({ids})").fetchone()[0])
    if total != expected_total:
        raise ReconciliationError(f"{what}: hostdesk totals {total / 100:.2f}, "
                                  f"WHMCS {expected_total / 100:.2f}")
    wrong = database.execute_sql(
        "SELECT i.id, i.total, COALESCE(SUM(l.amount), 0) FROM invoice i "
        f"LEFT JOIN invoice_line l ON l.invoice_id = i.id WHERE i.id IN ({ids}) "
        "GROUP BY i.id, i.total HAVING COALESCE(SUM(l.amount), 0) <> i.total "
        "ORDER BY i.id LIMIT 1").fetchone()
    if wrong is not None:
        invoice_id, invoice_total, lines = wrong
        raise ReconciliationError(f"{what}: invoice {invoice_id}'s lines add up to "
                                  f"{int(lines) / 100:.2f}, its total is "
                                  f"{int(invoice_total) / 100:.2f}")


def payments(ctx: Context) -> None:
    invoices_ = ctx.ids("tblinvoices")
    fees = sum(map(v.read_cents, map(attrgetter("fees"), ctx.accounts)))
    refunds = sum(1 for row in ctx.accounts if v.read_cents(row.amountout) > 0)

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in ctx.accounts:
            amount = v.read_cents(row.amountin)
            if amount <= 0:
                continue  # a refund: the invoice's amount paid is net of it
            invoice = invoices_.get(str(row.invoiceid))
            if invoice is None:
                ctx.report.skip("tblaccounts", row.id,
                                f"invoice #{row.invoiceid} was not imported")
                ctx.excluded["payments"] += amount
                continue
            method, ref = v.payment_method(row.gateway), row.transid[:200]
            if row.id in ctx.duplicate_accounts:
                ctx.report.skip("tblaccounts", row.id,
                                f"duplicate: transaction {ref} recorded twice on invoice "
                                f"#{row.invoiceid}")
                ctx.excluded["payments"] += amount
                continue
            day = v.iso(row.date) or ctx.invoice_dates.get(row.invoiceid) or ctx.now[:10]
            yield (str(row.id), (invoice, amount, day, method, ref, "whmcs",
                                    v.moment(row.date) or ctx.now))

    stream_rows(ctx, "tblaccounts", Payment, ("invoice", "amount", "date", "method",
                                              "transaction_ref", "admin_login", "created_at"),
                mapped(), len(ctx.accounts))
    if refunds:
        ctx.report.note(f"{refunds} WHMCS refunds are kept as each invoice's net amount paid "
                        "(hostdesk has no refund record)")
    if fees:
        ctx.report.note(f"gateway fees ({fees / 100:.2f}) are not kept: hostdesk records the "
                        "amount received only")


def credit_movements(ctx: Context) -> None:
    rows = in_scope(ctx, "tblcredit", read(ctx, "tblcredit"), "clientid")
    counts = ctx.report.table("tblcredit")
    counts.read = len(rows) + len(counts.skipped)
    clients, invoices_ = ctx.ids("tblclients"), ctx.ids("tblinvoices")

    def mapped():  # rows mapped batch by batch, as the writer takes them
        for row in rows:
            when = v.moment(row.date) or ctx.now
            yield (str(row.id), (clients[str(row.clientid)], v.read_cents(row.amount),
                                         row.description[:500] or "WHMCS credit",
                                         invoices_.get(str(row.relid)), when))

    stream_rows(ctx, "tblcredit", CreditEntry,
                ("client", "amount", "description", "invoice", "created_at"), mapped(), len(rows))
