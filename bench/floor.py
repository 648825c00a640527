"""The plain-SQL floor of the daily run's invoicing, and the end-state fingerprint.

`bill_due_with_plain_sql` writes what `hostdesk cron` writes when it bills (rules §4, standard
mode): one invoice per client, due date and payment method, one renewal line per due item,
one activity-log row per invoice and, with emails, one outbox row per invoice. It selects
with three set-based queries and writes with multi-row INSERTs (SQLite) or `COPY` (PostgreSQL)
in one transaction, ids assigned up front. Next due dates are not written: the daily run
does not move them either (they advance when a line is paid, rules §5).

It is the yardstick, not a second implementation of the rules: it handles what the
benchmark databases contain (no separate-invoice clients, no continuous invoicing) and
refuses anything else.

`end_state` fingerprints what a run wrote, so a benchmark can prove that the daily run and
the floor did the same work before comparing their times.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field

from bench.builder import BulkWriter, add_months, iso, renewal_description
from hostdesk.models.db import is_postgres
from hostdesk.models.schema import ActivityLog, EmailOutbox, Invoice, InvoiceLine
from hostdesk.models.settings import Settings

CYCLE_MONTHS = {"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12,
                "biennially": 24, "triennially": 36}
DOMAIN_CYCLES = {1: "annually", 2: "biennially", 3: "triennially"}

_UNBILLED = """
  AND NOT EXISTS (SELECT 1 FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
                  WHERE l.item_type = '{kind}' AND l.item_id = {item}.id AND l.kind = 'renewal'
                    AND l.cancelled = {false} AND i.status = 'unpaid')
  AND NOT EXISTS (SELECT 1 FROM invoice_line l
                  WHERE l.item_type = '{kind}' AND l.item_id = {item}.id AND l.kind = 'renewal'
                    AND l.cancelled = {false} AND l.period_start = {item}.next_due_date)"""
_NO_OPEN_CANCELLATION = """
  AND NOT EXISTS (SELECT 1 FROM cancellation_request c
                  WHERE c.service_id = s.id AND c.status = 'open')"""

SERVICES_SQL = """
SELECT s.client_id, s.payment_method, s.id, s.recurring_amount, s.billing_cycle,
       s.next_due_date, s.anchor_day, p.name, s.domain
FROM service s JOIN product p ON p.id = s.product_id
WHERE s.status IN ('active', 'suspended') AND s.billing_cycle NOT IN ('free', 'one_time')
  AND s.next_due_date IS NOT NULL AND s.next_due_date <= {horizon}
  AND s.auto_terminate_end_of_cycle = {false} AND s.recurring_amount > 0""" \
    + _NO_OPEN_CANCELLATION + _UNBILLED.format(kind="service", item="s", false="{false}")

ADDONS_SQL = """
SELECT s.client_id, s.payment_method, a.id, a.recurring_amount, a.billing_cycle,
       a.next_due_date, a.anchor_day, a.name
FROM service_addon a JOIN service s ON s.id = a.service_id
WHERE a.status IN ('active', 'suspended') AND a.billing_cycle NOT IN ('free', 'one_time')
  AND a.next_due_date IS NOT NULL AND a.next_due_date <= {horizon}
  AND s.auto_terminate_end_of_cycle = {false} AND a.recurring_amount > 0""" \
    + _NO_OPEN_CANCELLATION + _UNBILLED.format(kind="addon", item="a", false="{false}")

DOMAINS_SQL = """
SELECT d.client_id, d.payment_method, d.id, d.recurring_amount, d.years,
       d.next_due_date, d.anchor_day, d.name
FROM domain d
WHERE d.status = 'active' AND d.auto_renew = {true}
  AND d.next_due_date IS NOT NULL AND d.next_due_date <= {horizon}
  AND d.recurring_amount > 0""" + _UNBILLED.format(kind="domain", item="d", false="{false}")


@dataclass
class FloorResult:
    invoices: int = 0
    lines: int = 0
    amount_cents: int = 0
    seconds: dict = field(default_factory=dict)  # select / plan / write / total / cpu


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _money_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d}"


def _select(db, today: dt.date, settings: Settings) -> list[tuple]:
    """(client, method, due, item_type, item_id, cents, start, end, description) per due item."""
    postgres = is_postgres(db)
    words = {"false": "false" if postgres else "0", "true": "true" if postgres else "1"}
    horizon_days = max([settings.invoice_days, *settings.invoice_days_per_cycle.values()])
    horizon = today + dt.timedelta(days=int(horizon_days))
    mark = "%s" if postgres else "?"
    due = []

    def threshold(cycle: str) -> dt.date:
        return today + dt.timedelta(days=settings.invoice_days_for(cycle))

    for client, method, item_id, cents, cycle, ndd, anchor, product, domain in db.execute_sql(
            SERVICES_SQL.format(horizon=mark, **words), (iso(horizon),)):
        ndd = _as_date(ndd)
        if ndd <= threshold(cycle):
            end = add_months(ndd, CYCLE_MONTHS[cycle], anchor)
            label = product + (f" - {domain}" if domain else "")
            due.append((client, method, ndd, "service", item_id, cents, ndd, end,
                        renewal_description(label, ndd, end)))
    for client, method, item_id, cents, cycle, ndd, anchor, name in db.execute_sql(
            ADDONS_SQL.format(horizon=mark, **words), (iso(horizon),)):
        ndd = _as_date(ndd)
        if ndd <= threshold(cycle):
            end = add_months(ndd, CYCLE_MONTHS[cycle], anchor)
            due.append((client, method, ndd, "addon", item_id, cents, ndd, end,
                        renewal_description(f"Addon: {name}", ndd, end)))
    for client, method, item_id, cents, years, ndd, anchor, name in db.execute_sql(
            DOMAINS_SQL.format(horizon=mark, **words), (iso(horizon),)):
        ndd = _as_date(ndd)
        years = int(years or 1)
        if ndd <= threshold(DOMAIN_CYCLES.get(years, "annually")):
            end = add_months(ndd, 12 * years, anchor)
            label = f"Domain renewal - {name} - {years} year{'s' if years > 1 else ''}"
            due.append((client, method, ndd, "domain", item_id, cents, ndd, end,
                        renewal_description(label, ndd, end)))
    return due


def _refuse_unsupported(db, settings: Settings) -> None:
    if settings.continuous_invoicing:
        raise ValueError("the floor bills standard mode only (continuous_invoicing is on)")
    separate = db.execute_sql(
        "SELECT COUNT(*) FROM client c LEFT JOIN client_group g ON g.id = c.group_id "
        "WHERE c.separate_invoices = {t} OR g.separate_invoices = {t}".format(
            t="true" if is_postgres(db) else "1")).fetchone()[0]
    if separate:
        raise ValueError("the floor does not group separate-invoice clients")


def bill_due_with_plain_sql(db, today: dt.date, settings: Settings, *, with_email: bool = False,
                            admin_login: str = "system") -> FloorResult:
    """Bill every item due by `today` with plain SQL; see the module docstring."""
    result = FloorResult()
    started, cpu_started = time.perf_counter(), time.process_time()
    with db.atomic():
        _refuse_unsupported(db, settings)
        due = _select(db, today, settings)
        selected = time.perf_counter()
        groups: dict[tuple, list] = {}
        for row in due:
            groups.setdefault(row[:3], []).append(row)
        first_id = db.execute_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM invoice").fetchone()[0]
        first_activity = db.execute_sql(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM activity_log").fetchone()[0]
        today_iso = iso(today)
        invoices, lines, activity, emails = [], [], [], []
        for number, ((client, method, due_date), items) in enumerate(groups.items()):
            invoice_id = first_id + number
            total = sum(item[5] for item in items)
            due_iso = iso(due_date)
            invoices.append((invoice_id, client, "unpaid", today_iso, due_iso, method, total))
            for order, (_, _, _, kind, item_id, cents, start, end, text) in enumerate(items):
                lines.append((invoice_id, "renewal", kind, item_id, iso(start), iso(end), text,
                              cents, order))
            money = _money_text(total)
            activity.append((first_activity + number, admin_login, "invoice.create", "invoice",
                             invoice_id, client, f"renewal invoice #{invoice_id} for {money} USD",
                             f'{{"due_date": "{due_iso}", "lines": {len(items)}, '
                             f'"total": "{money.replace(",", "")}"}}'))
            if with_email:
                emails.append((client, invoice_id, money, due_iso, len(items)))
            result.amount_cents += total
        planned = time.perf_counter()
        writer = BulkWriter(db)
        writer.write(Invoice, ("id", "client_id", "status", "date", "due_date", "payment_method",
                               "total"), invoices)
        writer.write(InvoiceLine, ("invoice_id", "kind", "item_type", "item_id", "period_start",
                                   "period_end", "description", "amount", "sort_order"), lines)
        writer.write(ActivityLog, ("id", "admin_login", "action", "object_type", "object_id",
                                   "client_id", "description", "after"), activity)
        if with_email:
            _write_emails(db, writer, emails, settings)
        if is_postgres(db):
            for table in ("invoice", "activity_log"):
                db.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT MAX(id) FROM {table}))")
    finished = time.perf_counter()
    result.invoices, result.lines = len(invoices), len(lines)
    result.seconds = {"select": selected - started, "plan": planned - selected,
                      "write": finished - planned, "total": finished - started,
                      "cpu": time.process_time() - cpu_started}
    return result


def _write_emails(db, writer: BulkWriter, emails: list[tuple], settings: Settings) -> None:
    """One outbox row per invoice with a plainly formatted body (no template engine)."""
    addresses = {}
    client_ids = sorted({e[0] for e in emails})
    for start in range(0, len(client_ids), 500):
        batch = client_ids[start:start + 500]
        marks = ", ".join(["%s" if is_postgres(db) else "?"] * len(batch))
        addresses.update(db.execute_sql(f"SELECT id, email FROM client WHERE id IN ({marks})",
                                        batch).fetchall())
    company = settings.company_name
    writer.write(EmailOutbox, ("to_address", "subject", "body", "template", "client_id",
                               "related_type", "related_id"),
                 ((addresses[client], f"Invoice #{invoice_id} from {company}",
                   f"Dear customer,\n\ninvoice #{invoice_id} for {money} USD ({count} lines) is "
                   f"due on {due}.\n\n{company}\n", "invoice_created", client, "invoice",
                   invoice_id) for client, invoice_id, money, due, count in emails))


# --- the end-state fingerprint -------------------------------------------------------------


def end_state(db, after_invoice_id: int) -> dict:
    """What a run wrote after invoice `after_invoice_id`, as counts and content hashes.

    Invoice ids and row order may differ between two runs doing the same work; the hashes
    cover what matters: per invoice its client, due date, method, total and status, and per
    line its invoice's key, item, period, amount and text; plus every item's next due date.
    """
    invoices = db.execute_sql(
        "SELECT COUNT(*), COALESCE(SUM(total), 0) FROM invoice WHERE id > %s"
        % int(after_invoice_id)).fetchone()
    invoice_hash = hashlib.sha256()
    for row in db.execute_sql(
            "SELECT client_id, due_date, payment_method, total, status, date FROM invoice "
            "WHERE id > %s ORDER BY client_id, due_date, payment_method" % int(after_invoice_id)):
        invoice_hash.update(repr(tuple(str(v) for v in row)).encode())
    line_hash = hashlib.sha256()
    lines = 0
    for row in db.execute_sql(
            "SELECT i.client_id, i.due_date, i.payment_method, l.kind, l.item_type, l.item_id, "
            "l.period_start, l.period_end, l.amount, l.description, l.cancelled "
            "FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id WHERE i.id > %s "
            "ORDER BY i.client_id, i.due_date, i.payment_method, l.item_type, l.item_id, "
            "l.period_start" % int(after_invoice_id)):
        lines += 1
        line_hash.update(repr(tuple(str(v) for v in row)).encode())
    ndd_hash = hashlib.sha256()
    for table in ("service", "service_addon", "domain"):
        for row in db.execute_sql(f"SELECT id, next_due_date, anchor_day FROM {table} ORDER BY id"):
            ndd_hash.update(repr((table, row[0], str(row[1]), row[2])).encode())
    activity = db.execute_sql(
        "SELECT COUNT(*) FROM activity_log WHERE action = 'invoice.create' AND object_id > %s"
        % int(after_invoice_id)).fetchone()[0]
    emails = db.execute_sql(
        "SELECT COUNT(*) FROM email_outbox WHERE template = 'invoice_created' "
        "AND related_id > %s" % int(after_invoice_id)).fetchone()[0]
    return {"invoices": invoices[0], "lines": lines, "amount_cents": int(invoices[1]),
            "invoice_activity_rows": activity, "invoice_emails": emails,
            "invoices_sha256": invoice_hash.hexdigest()[:16],
            "lines_sha256": line_hash.hexdigest()[:16], "ndd_sha256": ndd_hash.hexdigest()[:16]}
