"""Proposed changes to `models/renewals.py`, applied as monkeypatches so their effect can be
measured before the owner of that file adopts them (`python -m bench.profile --patch ...`).

(Adopted already: "selection" — a chunk's items read through the client index only — and
"lean" — only the columns billing reads. Both are now in models/renewals.py.)

writes: invoices, lines and activity rows go in as multi-row INSERT statements built once
    per batch size, with the rows' database values as parameters. `insert_many` builds a
    peewee node per value and renders it to SQL in Python: at 100k services that rendering
    was most of the invoicing time (cProfile: `_generate_insert` and `Context.value`).

emails: the invoice emails of a chunk are queued as one batch: the template is looked up
    and checked once (not one `email_template` query per email), each email is rendered as
    before, and the outbox rows go in with multi-row INSERTs (not one `create` each).

plan: the dates of a line are computed once per (start, months, anchor day) and the
    invoicing threshold once per cycle, not with pendulum arithmetic for every item
    (`Date.add`, `add_months_anchored`, `subtract(days=1)` per line).
"""

from __future__ import annotations

import json
from functools import lru_cache

import pendulum

from models import renewals
from models.cycles import add_months_anchored
from models.invoicing import LineSpec
from models.items import cycle_months
from models.db import database, is_postgres
from models.money import format_money, sum_money
from models.schema import (
    ActivityLog,
    Client,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)

PATCHES = ("writes", "emails", "plan")
ADOPTED = ("selection", "lean")  # now in models/renewals.py itself: nothing to patch


# --- writes ------------------------------------------------------------------------------


def _insert(model, columns: tuple[str, ...], rows: list[tuple], *, returning: bool = False,
            batch: int = 500) -> list[int]:
    """Multi-row INSERTs of database values; the ids in row order when `returning`."""
    mark = "%s" if is_postgres() else "?"
    one_row = "(" + ", ".join([mark] * len(columns)) + ")"
    head = f'INSERT INTO "{model._meta.table_name}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)}) VALUES '
    tail = ' RETURNING "id"' if returning else ""
    statements = {}
    ids = []
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        sql = statements.get(len(chunk))
        if sql is None:
            sql = statements[len(chunk)] = head + ", ".join([one_row] * len(chunk)) + tail
        cursor = database.execute_sql(sql, [value for row in chunk for value in row])
        if returning:
            ids.extend(row[0] for row in cursor.fetchall())
    return ids


def _write_invoices(groups: dict, today, *, admin_login: str, send_emails: bool,
                    company_name: str = "") -> "renewals.RenewalResult":
    """The same rows as renewals.write_invoices, without peewee rendering each value."""
    result = renewals.RenewalResult()
    planned = list(groups.values())
    if not planned:
        return result
    money = Invoice.total.db_value
    day = Invoice.date.db_value
    now = Invoice.created_at.db_value(pendulum.now("UTC"))
    totals = [sum_money(s.amount for s in specs) for _, _, _, specs in planned]
    ids = _insert(Invoice, ("client_id", "order_id", "status", "date", "due_date", "paid_date",
                            "payment_method", "total", "amount_paid", "notes", "created_at",
                            "version"),
                  [(client_id, None, InvoiceStatus.UNPAID, day(today), day(due), None, method,
                    money(total), 0, "", now, 1)
                   for (client_id, due, method, _), total in zip(planned, totals)],
                  returning=True)
    lines, activity = [], []
    for invoice_id, (client_id, due, method, specs), total in zip(ids, planned, totals):
        for order, spec in enumerate(specs):
            lines.append((invoice_id, spec.kind, spec.item_type, spec.item_id,
                          day(spec.period_start), day(spec.period_end), spec.description[:500],
                          money(spec.amount), False, None, spec.upgrade, order))
        activity.append((now, admin_login, "invoice.create", "invoice", invoice_id, client_id,
                         f"renewal invoice #{invoice_id} for {format_money(total)}", "",
                         json.dumps({"total": str(total), "due_date": due.isoformat(),
                                     "lines": len(specs)}, sort_keys=True)))
        result.amount += total
    _insert(InvoiceLine, ("invoice_id", "kind", "item_type", "item_id", "period_start",
                          "period_end", "description", "amount", "cancelled", "applied_at",
                          "upgrade", "sort_order"), lines)
    _insert(ActivityLog, ("at", "admin_login", "action", "object_type", "object_id",
                          "client_id", "description", "before", "after"), activity)
    if send_emails:
        renewals._queue_invoice_emails(ids, company_name)
    result.invoices, result.lines, result.invoice_ids = len(ids), len(lines), ids
    return result


def _queue_invoice_emails(invoice_ids: list[int], company_name: str) -> None:
    """renewals._queue_invoice_emails with one template lookup and batched outbox rows."""
    from collections import defaultdict

    from models import emails

    name = "invoice_created"
    subject, body = emails.template_for(name)
    for source, part in ((subject, "subject"), (body, "body")):
        emails._check_source(source, part, name)
    invoices = {i.id: i for i in Invoice.select().where(Invoice.id.in_(invoice_ids))}
    clients = {c.id: c for c in Client.select().where(
        Client.id.in_({i.client_id for i in invoices.values()}))}
    lines = defaultdict(list)
    for line in InvoiceLine.select().where(InvoiceLine.invoice.in_(invoice_ids)).order_by(
            InvoiceLine.sort_order):
        lines[line.invoice_id].append(line)
    now = EmailOutbox.created_at.db_value(pendulum.now("UTC"))
    rows = []
    for invoice_id in invoice_ids:
        invoice = invoices[invoice_id]
        client = clients[invoice.client_id]
        context = {"client": client, "invoice": invoice, "lines": lines[invoice_id],
                   "total": format_money(invoice.total), "company_name": company_name}
        rendered_subject, rendered_body = emails._render_text(
            name, subject, body, emails.template_context(name, context))
        rows.append((emails.check_address(client.email), rendered_subject, rendered_body, name,
                     client.id, "invoice", invoice.id, "queued", 0, "", now, None))
    _insert(EmailOutbox, ("to_address", "subject", "body", "template", "client_id",
                          "related_type", "related_id", "status", "attempts", "last_error",
                          "created_at", "sent_at"), rows)


# --- plan --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _period(start, months: int, anchor: int):
    """(end, the description's last day) of a period: a few hundred distinct values a run."""
    end = add_months_anchored(start, months, anchor)
    return end, end.subtract(days=1).isoformat()


def _renewal_line_spec(item_type: str, item, start, label: str):
    end, last_day = _period(start, cycle_months(item_type, item), item.anchor_day)
    return LineSpec(kind=LineKind.RENEWAL, item_type=item_type, item_id=item.id,
                    period_start=start, period_end=end, amount=item.recurring_amount,
                    description=f"{label} ({start.isoformat()} - {last_day})")


_thresholds: dict = {}


def _periods_to_bill(candidate, today, settings, continuous: bool, latest_end, billed: set):
    item = candidate.item
    key = (today, settings.invoice_days_for(candidate.cycle_key))
    threshold = _thresholds.get(key)
    if threshold is None:
        threshold = _thresholds[key] = today.add(days=key[1])
    start = item.next_due_date
    if continuous and latest_end is not None and latest_end > start:
        start = latest_end
    specs = []
    while start <= threshold:
        if (candidate.item_type, item.id, start) not in billed and item.recurring_amount > 0:
            specs.append(_renewal_line_spec(candidate.item_type, item, start, candidate.label))
        if not continuous:
            break
        start = _period(start, cycle_months(candidate.item_type, item), item.anchor_day)[0]
    return specs


def apply(names) -> list[str]:
    """Install the named patches; returns what was applied."""
    applied = []
    for name in names:
        if name in ADOPTED:
            continue
        if name == "writes":
            renewals.write_invoices = _write_invoices
        elif name == "plan":
            renewals._periods_to_bill = _periods_to_bill
        elif name == "emails":
            renewals._queue_invoice_emails = _queue_invoice_emails
        else:
            raise ValueError(f"unknown patch {name!r}: choose from {', '.join(PATCHES)}")
        applied.append(name)
    return applied
