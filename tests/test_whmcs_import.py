"""`hostdesk import whmcs` against a real MariaDB server holding a WHMCS 8 host.

The suite starts MariaDB itself (tests/mariadb.py); `tests/whmcs_host.py` fills a database
the way WHMCS leaves it. The expectations below are computed from the generated WHMCS rows,
never from what the importer wrote.
"""

import datetime
import itertools
import json
import os
import time

import pendulum
import pytest

from hostdesk.automation.identity import OsAccount
from hostdesk.automation.whmcs import import_whmcs
from hostdesk.automation.whmcs.source import Source, SourceError
from hostdesk.models.admins import ensure_first_admin
from hostdesk.models.errors import PermissionDenied, ValidationError
from hostdesk.models.payment_methods import enabled_methods
from hostdesk.models.renewals import generate_due_invoices
from hostdesk.models.schema import (
    ALL_TABLES,
    Client,
    CreditEntry,
    Domain,
    ImportMap,
    ImportTable,
    Invoice,
    InvoiceLine,
    LineKind,
    Order,
    Payment,
    Service,
    ServiceAddon,
)
from hostdesk.models.settings import Settings
from tests.whmcs_host import CYCLES, HostSpec, build_whmcs, insert
from hostdesk.tui.cli import main
from tests.children import living_children
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

ADMIN = "boss"
AS_ADMIN = OsAccount(uid=os.getuid(), login=ADMIN)  # the OS account running the CLI
_names = itertools.count(1)


def _whmcs(server, spec: HostSpec):
    """A new WHMCS database filled per `spec`: (read-only URL, generated host)."""
    name = f"whmcs_{next(_names)}"
    url = server.create_database(name, "whmcs_reader", "s3cret")
    conn = server.connect(name)
    try:
        host = build_whmcs(conn, spec)
    finally:
        conn.close()
    host.name = name
    return url, host


@pytest.fixture(scope="session")
def whmcs(mariadb_server):
    """The shared WHMCS host (read only: tests that change WHMCS build their own)."""
    return _whmcs(mariadb_server, HostSpec(clients=150))


@pytest.fixture
def hostdesk(db):
    ensure_first_admin(ADMIN)
    return db


def _mapped(table: str) -> dict[int, int]:
    """hostdesk id -> WHMCS id of the rows imported from `table`."""
    return {row.target_id: int(row.source_id) for row in ImportMap.select().join(ImportTable)
            .where((ImportTable.source == "whmcs") & (ImportTable.name == table))}


def test_import_matches_whmcs_to_the_cent_and_a_rerun_adds_nothing(whmcs, hostdesk):
    url, host = whmcs
    report = import_whmcs(url, admin=as_login(ADMIN))

    assert report.ok, report.text()
    assert report.currency == "USD"
    odd = host.builder
    skipped = {(t, str(row["id"])): row["reason"] for t, c in report.tables.items()
               for row in c.skipped}
    assert skipped[("tblhosting", str(odd.orphan))].startswith("orphan: client #999999")
    assert skipped[("tblhosting", str(odd.unknown_cycle))] == "unknown billing cycle 'Weekly'"
    assert skipped[("tblhosting", str(odd.negative))] == "negative amount -5.00"
    assert "broken invoice" in skipped[("tblinvoices", str(odd.broken_invoice))]
    assert "recorded twice" in skipped[("tblaccounts", str(odd.duplicate_payment))]
    assert skipped[("tblpromotions", "4")] == "negative amount -5.00"
    assert "product without price" in skipped[("tblpricing", "product 8")]

    upgrade = Invoice.get_by_id(_invert(_mapped("tblinvoices"))[odd.upgrade_invoice])
    assert [(line.kind, str(line.amount)) for line in upgrade.lines] == [
        ("custom", "7.50"), ("custom", "5.00")]

    # counts: every source row is imported or named as skipped
    clients = [c for c in host.rows("tblclients")]
    services = [s for s in host.rows("tblhosting") if s["userid"] != 999_999]
    assert Client.select().count() == len(clients)
    assert Service.select().count() == len(services) - 2  # unknown cycle, negative amount
    refused = {odd.orphan, odd.unknown_cycle, odd.negative}
    assert ServiceAddon.select().count() == len(
        [a for a in host.rows("tblhostingaddons") if a["hostingid"] not in refused])
    assert Domain.select().count() == len(host.rows("tbldomains"))
    # every gateway in use is on the managed payment-method list, enabled
    listed = set(enabled_methods())
    used = {s.payment_method for s in Service.select(Service.payment_method)}
    used |= {c.default_payment_method for c in Client.select(Client.default_payment_method)}
    assert used and used <= listed, used - listed
    invoices = [i for i in host.rows("tblinvoices") if i["userid"] != 999_999]
    assert Invoice.select().count() == len(invoices) - 1  # the broken one
    assert Order.select().count() == len(services)
    assert {o.number for o in Order.select()} == {str(o["ordernum"]) for o in host.rows("tblorders")
                                                 if o["userid"] != 999_999}

    # money, computed here from the generated rows
    kept = [i for i in invoices if i["id"] != odd.broken_invoice]
    for whmcs_status, status in (("Paid", "paid"), ("Refunded", "refunded"),
                                 ("Cancelled", "cancelled"), ("Draft", "draft")):
        expected = sum(i["total"] for i in kept if i["status"] == whmcs_status)
        got = sum((i.total for i in Invoice.select().where(Invoice.status == status)),
                  start=type(expected)(0))
        assert got == expected, status
    unpaid = sum(i["total"] for i in kept if i["status"] in ("Unpaid", "Collections"))
    assert sum(i.total for i in Invoice.select().where(Invoice.status == "unpaid")) == unpaid
    kept_ids = {i["id"] for i in kept}
    received = sum(a["amountin"] for a in host.rows("tblaccounts")
                   if a["amountin"] > 0 and a["invoiceid"] in kept_ids
                   and a["id"] != odd.duplicate_payment)
    assert sum(p.amount for p in Payment.select()) == received
    # the transaction recorded twice counts once in what the invoice was paid, too
    refunded = {a["invoiceid"] for a in host.rows("tblaccounts") if a["amountout"] > 0}
    invoice_ids = _mapped("tblinvoices")
    paid_by_payments = {}
    for payment in Payment.select():
        paid_by_payments[payment.invoice_id] = paid_by_payments.get(payment.invoice_id, 0) \
            + payment.amount
    for invoice in Invoice.select().where(Invoice.amount_paid != 0):
        if invoice_ids[invoice.id] not in refunded:
            assert invoice.amount_paid == paid_by_payments[invoice.id]
    assert sum(c.credit for c in Client.select()) == sum(c["credit"] for c in clients)
    assert sum(e.amount for e in CreditEntry.select()) == sum(
        c["amount"] for c in host.rows("tblcredit"))
    # every invoice's lines add up to its total
    from peewee import fn
    sums = dict(InvoiceLine.select(InvoiceLine.invoice, fn.SUM(InvoiceLine.amount))
                .group_by(InvoiceLine.invoice).tuples())
    assert {i.id: int(i.total * 100) for i in Invoice.select()} == {k: int(v) for k, v in sums.items()}

    counts = {model: model.select().count() for model in ALL_TABLES + [ImportMap]}
    again = import_whmcs(url, admin=as_login(ADMIN))
    assert again.ok, again.text()
    assert all(c.imported == 0 and c.updated == 0 for c in again.tables.values()), again.text()
    after = {model: model.select().count() for model in ALL_TABLES + [ImportMap]}
    assert after == counts  # nothing changed, so not even an activity-log row


def test_every_whmcs_renewal_is_a_renewal_line_for_the_period_it_billed(whmcs, hostdesk):
    url, host = whmcs
    assert import_whmcs(url, admin=as_login(ADMIN)).ok
    services = {s["id"]: s for s in host.rows("tblhosting")}
    invoices = {i["id"]: i for i in host.rows("tblinvoices")}
    service_ids = _mapped("tblhosting")
    lines = {}
    for line in InvoiceLine.select().where((InvoiceLine.kind == LineKind.RENEWAL)
                                           & (InvoiceLine.item_type == "service")):
        lines.setdefault(service_ids[line.item_id], []).append(line)
    checked = 0
    for item in host.rows("tblinvoiceitems"):
        service = services.get(item["relid"]) if item["type"] == "Hosting" else None
        if service is None or service["billingcycle"] not in CYCLES or \
                item["invoiceid"] == host.builder.broken_invoice or service["id"] not in lines:
            continue
        line = next(l for l in lines[service["id"]]
                    if l.period_start.isoformat() == item["duedate"])
        assert line.amount == item["amount"]
        assert line.cancelled == (invoices[item["invoiceid"]]["status"] == "Cancelled")
        assert (line.applied_at is not None) == (invoices[item["invoiceid"]]["status"]
                                                 in ("Paid", "Refunded"))
        checked += 1
    assert checked > 300
    for whmcs_id, billed in lines.items():
        live = sorted((l for l in billed if not l.cancelled), key=lambda l: l.period_start)
        for earlier, later in zip(live, live[1:]):
            assert earlier.period_end <= later.period_start  # periods never overlap
        service = services[whmcs_id]
        if live and service["domainstatus"] == "Active" and live[-1].applied_at is not None:
            # paid up: the last period WHMCS billed ends where the next daily run starts
            assert live[-1].period_end.isoformat() == service["nextduedate"]


def _expected_bills(host, horizon: str) -> set:
    """(item type, WHMCS id, period start) the next daily runs must bill up to `horizon`."""
    services = {s["id"]: s for s in host.rows("tblhosting")}
    clients = {c["id"] for c in host.rows("tblclients")}
    invoices = {i["id"]: i for i in host.rows("tblinvoices")}
    broken = host.builder.broken_invoice
    open_requests = {r["relid"] for r in host.rows("tblcancelrequests")
                     if services[r["relid"]]["domainstatus"] in ("Active", "Suspended", "Pending")}
    invoiced, unpaid = set(), set()
    kinds = {"Hosting": "service", "Addon": "addon", "Domain": "domain",
             "DomainRegister": "domain", "DomainTransfer": "domain"}
    for item in host.rows("tblinvoiceitems"):
        kind, invoice = kinds.get(item["type"]), invoices[item["invoiceid"]]
        if kind is None or item["duedate"] is None or invoice["status"] == "Cancelled" \
                or invoice["id"] == broken:
            continue
        invoiced.add((kind, item["relid"], item["duedate"]))
        if invoice["status"] in ("Unpaid", "Collections"):
            unpaid.add((kind, item["relid"]))

    def due(kind, row, status_ok, amount, ndd) -> bool:
        return (status_ok and amount > 0 and ndd not in ("0000-00-00", None) and ndd <= horizon
                and (kind, row["id"]) not in unpaid and (kind, row["id"], ndd) not in invoiced)

    expected = set()
    for s in services.values():
        if s["userid"] in clients and s["billingcycle"] in CYCLES and s["id"] not in open_requests \
                and due("service", s, s["domainstatus"] in ("Active", "Suspended"), s["amount"],
                        s["nextduedate"]):
            expected.add(("service", s["id"], s["nextduedate"]))
    for a in host.rows("tblhostingaddons"):
        if a["hostingid"] not in open_requests and due(
                "addon", a, a["status"] in ("Active", "Suspended"), a["recurring"], a["nextduedate"]):
            expected.add(("addon", a["id"], a["nextduedate"]))
    for d in host.rows("tbldomains"):
        if due("domain", d, d["status"] == "Active" and not d["donotrenew"], d["recurringamount"],
               d["nextduedate"]):
            expected.add(("domain", d["id"], d["nextduedate"]))
    return expected, invoiced


def test_next_daily_runs_bill_only_periods_whmcs_had_not_invoiced(whmcs, hostdesk):
    url, host = whmcs
    assert import_whmcs(url, admin=as_login(ADMIN)).ok
    today = pendulum.Date(*host.builder.today.timetuple()[:3])
    before = Invoice.select().count()
    last_line = InvoiceLine.select().order_by(InvoiceLine.id.desc()).first().id

    # the daily runs of the next 60 days (invoice_days 14): weekly runs see every due date a
    # daily one does (each looks 14 days ahead), and nothing is paid in between
    settings = Settings(invoice_days=14)
    for offset in (0, 7, 14, 21, 28, 35, 42, 46):
        result = generate_due_invoices(today.add(days=offset), settings, send_emails=False, admin=SYSTEM_ADMIN)
        assert not result.failures

    maps = {"service": _mapped("tblhosting"), "addon": _mapped("tblhostingaddons"),
            "domain": _mapped("tbldomains")}
    billed = {(line.item_type, maps[line.item_type][line.item_id], line.period_start.isoformat())
              for line in InvoiceLine.select().where((InvoiceLine.id > last_line)
                                                     & (InvoiceLine.kind == LineKind.RENEWAL))}
    expected, invoiced = _expected_bills(host, today.add(days=60).isoformat())
    assert Invoice.select().count() > before
    assert billed == expected
    assert not billed & invoiced
    # and no new period overlaps one WHMCS billed
    for line in InvoiceLine.select().where((InvoiceLine.id > last_line)
                                           & (InvoiceLine.kind == LineKind.RENEWAL)):
        assert not InvoiceLine.select().where(
            (InvoiceLine.id <= last_line) & (InvoiceLine.kind == LineKind.RENEWAL)
            & (InvoiceLine.cancelled == False)  # noqa: E712
            & (InvoiceLine.item_type == line.item_type) & (InvoiceLine.item_id == line.item_id)
            & (InvoiceLine.period_start < line.period_end)
            & (InvoiceLine.period_end > line.period_start)).exists()


def test_dry_run_writes_nothing(whmcs, hostdesk):
    url, _ = whmcs
    counts = {model: model.select().count() for model in ALL_TABLES + [ImportMap]}
    report = import_whmcs(url, admin=as_login(ADMIN), dry_run=True)
    assert report.ok and report.dry_run
    assert report.tables["tblhosting"].imported > 200
    assert {model: model.select().count() for model in ALL_TABLES + [ImportMap]} == counts


def test_delta_run_picks_up_a_new_payment_and_a_new_service(mariadb_server, hostdesk):
    url, host = _whmcs(mariadb_server, HostSpec(clients=40, seed=11, odd_rows=False))
    assert import_whmcs(url, admin=as_login(ADMIN)).ok
    unpaid = next(i for i in host.rows("tblinvoices") if i["status"] == "Unpaid" and not any(
        a["invoiceid"] == i["id"] for a in host.rows("tblaccounts")))
    item = next(it for it in host.rows("tblinvoiceitems") if it["invoiceid"] == unpaid["id"])
    conn = mariadb_server.connect(host.name)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")
        insert(cur, "tblaccounts", [dict(
            userid=unpaid["userid"], currency=0, gateway="paypal", date="2026-06-16 10:00:00",
            description="Invoice Payment", amountin=unpaid["total"], fees=0, amountout=0, rate=1,
            transid="TX-NEW-1", invoiceid=unpaid["id"], refundid=0)])
        cur.execute("UPDATE tblinvoices SET status = 'Paid', datepaid = '2026-06-16 10:00:00' "
                    "WHERE id = %s", (unpaid["id"],))
        new_service = dict(host.rows("tblhosting")[0], id=None, userid=1, domainstatus="Active",
                           billingcycle="Monthly", nextduedate="2026-07-20", regdate="2026-06-20",
                           amount=7, firstpaymentamount=7, domain="new.example.com")
        del new_service["id"]
        insert(cur, "tblhosting", [new_service])
    conn.close()

    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.ok, report.text()
    assert report.tables["tblaccounts"].imported == 1
    assert report.tables["tblhosting"].imported == 1
    assert report.tables["tblinvoices"].updated == 1
    assert report.tables["tblinvoices"].imported == 0
    invoice = Invoice.get_by_id(_invert(_mapped("tblinvoices"))[unpaid["id"]])
    assert invoice.status == "paid" and invoice.amount_paid == unpaid["total"]
    assert all(line.applied_at is not None for line in invoice.lines)
    assert Service.select().where(Service.domain == "new.example.com").count() == 1
    assert Payment.select().where(Payment.transaction_ref == "TX-NEW-1").count() == 1
    assert item["relid"]  # the paid line points at its item


def _invert(mapping: dict) -> dict:
    return {source: target for target, source in mapping.items()}


def test_two_currencies_are_refused_unless_one_is_chosen(mariadb_server, hostdesk, db_url, capsys):
    url, host = _whmcs(mariadb_server, HostSpec(clients=30, seed=5, second_currency_clients=6,
                                                odd_rows=False))
    code = main(["--db", db_url, "import", "whmcs", "--from", url], os_account=AS_ADMIN)
    err = capsys.readouterr().err
    assert code == 2
    eur = sum(1 for s in host.rows("tblhosting") if s["userid"] > 24)
    usd = len(host.rows("tblhosting")) - eur
    assert f"USD ({usd} services)" in err and f"EUR ({eur} services)" in err
    assert Client.select().count() == 0

    code = main(["--db", db_url, "import", "whmcs", "--from", url, "--currency", "usd",
                 "--json"], os_account=AS_ADMIN)
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["currency"] == "USD"
    assert report["left_out"]["EUR"]["clients"] == 6
    assert report["left_out"]["EUR"]["services"] == eur
    assert Client.select().count() == 24
    assert report["tables"]["tblhosting"]["imported"] == usd


def test_the_whmcs_session_is_read_only(mariadb_server, whmcs):
    _, host = whmcs
    admin_url = f"mysql://admin:admin@127.0.0.1:{mariadb_server.port}/{host.name}"
    source = Source(admin_url)  # a user who could write: the session still refuses
    try:
        with pytest.raises(Exception, match="(?i)read.only|READ ONLY"):
            with source.conn.cursor() as cur:
                cur.execute("DELETE FROM tblclients")
    finally:
        source.close()
    with pytest.raises(ValidationError, match="--from"):
        Source("postgresql://x@localhost/whmcs")
    with pytest.raises(SourceError, match="cannot connect"):
        Source(f"mysql://nobody:wrong@127.0.0.1:{mariadb_server.port}/{host.name}")


def test_the_large_tables_are_read_as_the_steps_would_convert_each_value(mariadb_server):
    """`Source.select` converts a column at a time: `:t` text as values.text gives it, `:c`
    cents as values.cents gives them, `:i` integers; an amount it cannot read stays as it
    was, and the step that maps its row names it (values.read_cents raises as cents does)."""
    from hostdesk.automation.whmcs import values
    from hostdesk.automation.whmcs.values import Unmappable

    name = f"whmcs_{next(_names)}"
    url = mariadb_server.create_database(name, "whmcs_reader", "s3cret")
    rows = [(1, "  Ann\t", "12.30", "7"), (2, None, None, None), (3, "Bob", "1.234", ""),
            (4, "\u00a0Zoë ", "-0.05", "12")]
    conn = mariadb_server.connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NULL, "
                        "amount VARCHAR(20) NULL, qty VARCHAR(5) NULL)")
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s)", rows)
    finally:
        conn.close()
    source = Source(url)
    try:
        read = source.select("t", "id:i name:t amount:c qty:i raw=name")
    finally:
        source.close()
    assert [(r.id, r.name, r.amount, r.qty, r.raw) for r in read] == [
        (1, "Ann", 1230, 7, "  Ann\t"), (2, "", 0, 0, None), (3, "Bob", "1.234", 0, "Bob"),
        (4, "Zoë", -5, 12, "\u00a0Zoë ")]
    assert [r.name for r in read] == [values.text(raw) for _, raw, _, _ in rows]
    assert [values.read_cents(r.amount) for r in read if r.id != 3] == [1230, 0, -5]
    with pytest.raises(Unmappable, match="more than two decimal places"):
        values.read_cents(read[2].amount)


def test_the_large_tables_come_in_packets_and_a_separator_in_a_value_is_named(
        mariadb_server, monkeypatch):
    """A packet holds ROWS_PER_PACKET rows' fields, split once: every row keeps its own values
    across packets, and a value holding the separator (U+001F) is refused by name rather
    than shifting the fields of the rows after it."""
    from hostdesk.automation.whmcs import source as source_module

    monkeypatch.setattr(source_module, "ROWS_PER_PACKET", 3)
    name = f"whmcs_{next(_names)}"
    url = mariadb_server.create_database(name, "whmcs_reader", "s3cret")
    rows = [(n, f"name {n}" if n % 4 else None, f"{n}.05") for n in range(1, 11)]
    conn = mariadb_server.connect(name)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) NULL, "
                        "amount VARCHAR(20) NULL)")
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s)", rows)
        conn.commit()
        source = Source(url)
        try:
            read = source.select("t", "id:i name amount:c")
            assert [(r.id, r.name, r.amount) for r in read] == [
                (n, text, n * 100 + 5) for n, text, _ in rows]
        finally:
            source.close()
        with conn.cursor() as cur:
            cur.execute("UPDATE t SET name = 'A\x1fB' WHERE id = 5")
        conn.commit()
        source = Source(url)
        try:
            with pytest.raises(SourceError, match="t: a row holds the character U\\+001F"):
                source.select("t", "id:i name amount:c")
        finally:
            source.close()
    finally:
        conn.close()


def test_only_a_full_admin_may_import(whmcs, hostdesk):
    from hostdesk.models.admins import add_admin
    from hostdesk.models.schema import Admin

    add_admin(Admin.get(Admin.login == ADMIN), "clerk", "sales")
    with pytest.raises(PermissionDenied):
        import_whmcs(whmcs[0], admin=as_login("clerk"))
    assert Client.select().count() == 0


def test_an_unknown_date_is_none_not_a_crash():
    from hostdesk.automation.whmcs import values

    assert values.date("0000-00-00") is None
    assert values.date("") is None
    assert values.iso(datetime.date(2026, 1, 31)) == "2026-01-31"
    assert values.cycle("Semi-Annually").value == "semiannually"
    assert values.cycle("Free Account").value == "free"
    assert values.cycle("One Time").value == "one_time"
    assert values.price_cents("-1.00") is None
    assert values.anchor_day(datetime.date(2026, 2, 28), datetime.date(2025, 1, 31)) == 31
    assert values.anchor_day(datetime.date(2026, 3, 15), datetime.date(2025, 1, 31)) == 15


def test_a_refused_batch_is_rolled_back_and_the_import_fails(whmcs, hostdesk):
    """hostdesk already has a client group named like a WHMCS one: the import stops at that
    batch, writes nothing of it, and says so; nothing after it is imported."""
    from hostdesk.models.schema import ClientGroup

    ClientGroup.create(name="VIP")
    report = import_whmcs(whmcs[0], admin=as_login(ADMIN))
    assert not report.ok
    assert "refused a row" in report.error and "rolled back" in report.error
    assert [g.name for g in ClientGroup.select()] == ["VIP"]
    assert Client.select().count() == 0 and ImportMap.select().count() == 0
    assert "import FAILED" in report.text()


def test_equal_rows_have_equal_digests_whatever_their_string_objects():
    import sys

    from hostdesk.automation.whmcs.writer import digest

    built = "".join(["pay", "pal"])
    assert digest((built, built, 1, None, True)) == digest((sys.intern("paypal"), "paypal", 1,
                                                            None, True))
    assert digest(("a", 1)) != digest(("a", 2))


def test_a_first_import_numbers_rows_as_sqlite_does_and_checks_it(hostdesk):
    """A first import gives new rows their ids itself (1, 2, 3... as SQLite would): the rows
    and their import map are written with those ids and the digests a rerun compares; a
    table that does not number as planned fails the load instead of mixing ids up."""
    from peewee import IntegrityError

    from hostdesk.automation.whmcs.report import TableCounts
    from hostdesk.automation.whmcs.writer import IdMap, digest, plan, write_plan
    from hostdesk.models.db import database, is_sqlite
    from hostdesk.models.schema import ClientGroup, ImportMap

    if not is_sqlite():
        pytest.skip("a first import is numbered on SQLite only (loaded in bulk)")
    columns = ("name", "separate_invoices", "version")
    rows = [("7", ("Resellers", True, 1)), ("9", ("Staff", False, 1))]
    idmap, counts = IdMap(numbered=("client_group",)), TableCounts()
    with database.atomic():
        planned = plan(idmap, counts, "tblclientgroups", ClientGroup, columns, rows)
        assert write_plan(idmap, counts, "tblclientgroups", ClientGroup, columns,
                          planned) == {"7": 1, "9": 2}
    assert [(g.id, g.name, g.separate_invoices) for g in ClientGroup.select().order_by(
        ClientGroup.id)] == [(1, "Resellers", True), (2, "Staff", False)]
    assert sorted((source, name, source_id, target, bytes(dig)) for source, name, source_id,
                  target, dig in ImportMap.select(
                      ImportTable.source, ImportTable.name, ImportMap.source_id,
                      ImportMap.target_id, ImportMap.digest).join(ImportTable).tuples()) == [
        ("whmcs", "tblclientgroups", "7", 1, digest(rows[0][1])),
        ("whmcs", "tblclientgroups", "9", 2, digest(rows[1][1]))]
    assert idmap.ids("tblclientgroups") == {"7": 1, "9": 2} and counts.imported == 2

    fresh = IdMap(numbered=("client_group",))  # believes the table is empty: it is not
    with pytest.raises(IntegrityError, match="numbered from 1"), database.atomic():
        write_plan(fresh, counts, "tblclientgroups", ClientGroup, columns,
                   plan(fresh, counts, "tblclientgroups", ClientGroup, columns,
                        [("8", ("Partners", False, 1))]))
    assert ClientGroup.select().count() == 2  # the batch was rolled back


def test_an_unpaid_whmcs_order_is_a_first_payment_that_provisions(whmcs, hostdesk):
    from hostdesk.models.invoicing import record_payment
    from hostdesk.models.schema import ModuleJob

    url, host = whmcs
    assert import_whmcs(url, admin=as_login(ADMIN)).ok
    invoices = {i["id"]: i for i in host.rows("tblinvoices")}
    pending = next(
        (s, item) for s in host.rows("tblhosting") for item in host.rows("tblinvoiceitems")
        if s["domainstatus"] == "Pending" and s["packageid"] == 1  # Starter: setup on payment
        and s["billingcycle"] == "Monthly" and item["type"] == "Hosting"
        and item["relid"] == s["id"] and invoices[item["invoiceid"]]["status"] == "Unpaid")
    service_row, item = pending
    service = Service.get_by_id(_invert(_mapped("tblhosting"))[service_row["id"]])
    line = InvoiceLine.get(InvoiceLine.id == _invert(_mapped("tblinvoiceitems"))[item["id"]])
    assert line.kind == LineKind.FIRST
    assert line.period_start.isoformat() == service_row["regdate"] == item["duedate"]
    assert service.next_due_date == line.period_end == line.period_start.add(months=1)

    invoice = Invoice.get_by_id(line.invoice_id)
    record_payment(invoice.id, invoice.total - invoice.amount_paid, date=line.period_start,
                   method="paypal", transaction_ref="TX-FIRST", admin=as_login(ADMIN))
    assert ModuleJob.select().where((ModuleJob.service == service.id)
                                    & (ModuleJob.command == "create")).count() == 1
    assert Service.get_by_id(service.id).next_due_date == line.period_end  # billed once


def _every_row(exclude: dict) -> dict:
    """Every table's rows in id order (the columns in `exclude` left out: clock times)."""
    from hostdesk.models.schema import ActivityLog  # noqa: F401  (in ALL_TABLES; named for clarity)

    rows = {}
    for model in ALL_TABLES + [ImportTable, ImportMap]:
        fields = [f for f in model._meta.sorted_fields
                  if f.name not in exclude.get(model._meta.table_name, ())]
        rows[model._meta.table_name] = list(
            model.select(*fields).order_by(model._meta.primary_key).tuples())
    return rows


def test_the_writer_process_and_thread_reach_the_same_end_state_as_writing_inline(
        whmcs, new_database_url, monkeypatch):
    """The fast paths (a first import written by a process of its own, a rerun by a thread,
    while the next batch is mapped) and the plain one (every batch written inline) leave
    identical databases, row for row, on a first import and on a rerun."""
    from hostdesk.automation.whmcs import pipeline
    from hostdesk.models.db import bind, database, is_sqlite

    url, _ = whmcs
    # rows WHMCS left without a date take the import's own time: the same for both runs
    monkeypatch.setattr(pendulum, "now", lambda tz=None: pendulum.datetime(2026, 6, 20, 8))
    used = []
    for name in ("ProcessWriter", "ThreadWriter", "InlineWriter"):
        real = getattr(pipeline, name)
        monkeypatch.setattr(pipeline, name, lambda *a, real=real, **k: used.append(real.__name__)
                            or real(*a, **k))
    ends = {}
    for write_thread in (True, False):
        real = bind(new_database_url())
        try:
            ensure_first_admin(ADMIN)
            used.clear()
            first = import_whmcs(url, admin=as_login(ADMIN), write_thread=write_thread)
            again = import_whmcs(url, admin=as_login(ADMIN), write_thread=write_thread)
            # the fast path is the one measured: a process for a first import on SQLite
            assert used == ([("ProcessWriter" if is_sqlite() else "ThreadWriter"),
                             "ThreadWriter"] if write_thread else ["InlineWriter"] * 2)
            assert first.ok and again.ok, (first.text(), again.text())
            assert first.tables["tblinvoiceitems"].imported > 500
            assert sum(c.imported + c.updated for c in again.tables.values()) == 0
            ends[write_thread] = (_every_row({"activity_log": ("at",)}),  # clock times
                                  {t: (c.read, c.imported, c.updated, len(c.skipped))
                                   for t, c in first.tables.items()})
        finally:
            real.close()
            database.initialize(None)
    fast, plain = ends[True], ends[False]
    assert fast[1] == plain[1]  # the report's counts
    assert fast[0].keys() == plain[0].keys()
    for table in fast[0]:
        assert fast[0][table] == plain[0][table], table
    assert len(fast[0]["service"]) > 200 and len(fast[0]["invoice_line"]) > 500


def test_a_batch_refused_on_the_writer_thread_stops_the_import_there(whmcs, hostdesk):
    """A WHMCS order number hostdesk already has: the orders batch (written on the writer
    thread) is rolled back, what came before it stays, nothing after it is written."""
    url, host = whmcs
    client = Client.create(first_name="Ada", last_name="Old", email="ada@example.com")
    taken = str(host.rows("tblorders")[0]["ordernum"])[:10]
    Order.create(number=taken, client=client, payment_method="banktransfer")
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert not report.ok
    assert "refused a row" in report.error and "rolled back" in report.error
    assert Client.select().count() > 100  # the clients' batch was written before
    assert [o.number for o in Order.select()] == [taken]
    assert Service.select().count() == 0 and Invoice.select().count() == 0
    assert not _mapped("tblorders") and not _mapped("tblhosting")


def test_a_batch_whose_lines_do_not_add_up_to_its_invoices_is_refused(hostdesk):
    """The check each invoice batch runs in its transaction, summed by the database."""
    from decimal import Decimal

    import pendulum as pdl

    from hostdesk.automation.whmcs.billing import _check_batch
    from hostdesk.automation.whmcs.context import ReconciliationError

    client = Client.create(first_name="Ada", last_name="Lines", email="ada@example.com")
    day = pdl.date(2026, 6, 1)
    right = Invoice.create(client=client, date=day, due_date=day, total=Decimal("12.50"),
                           payment_method="banktransfer")
    wrong = Invoice.create(client=client, date=day, due_date=day, total=Decimal("10.00"),
                           payment_method="banktransfer")
    empty = Invoice.create(client=client, date=day, due_date=day, total=Decimal("0.00"),
                           payment_method="banktransfer")
    for invoice, amounts in ((right, ("10.00", "2.50")), (wrong, ("9.99",))):
        for order, amount in enumerate(amounts):
            InvoiceLine.create(invoice=invoice, kind=LineKind.CUSTOM, description="Item",
                               amount=Decimal(amount), sort_order=order)

    _check_batch([right.id, empty.id], 1250, "batch")  # adds up: nothing raised
    with pytest.raises(ReconciliationError, match="hostdesk totals 12.50, WHMCS 12.49"):
        _check_batch([right.id], 1249, "batch")
    with pytest.raises(ReconciliationError,
                       match=f"invoice {wrong.id}'s lines add up to 9.99, its total is 10.00"):
        _check_batch([right.id, wrong.id, empty.id], 2250, "batch")


def _schema() -> list[tuple]:
    return database_sql("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")


def database_sql(sql: str) -> list[tuple]:
    from hostdesk.models.db import database

    return database.execute_sql(sql).fetchall()


def test_a_first_import_is_all_or_nothing_and_leaves_indexes_and_search_whole(whmcs, hostdesk):
    """Into an empty hostdesk (SQLite) the import is one transaction loaded with the indexes
    and checks paused: a batch refused late, after the clients were written, leaves hostdesk
    exactly as it was; once fixed, the import's rows are found by search and guarded by the
    overlap check as any other row."""
    from hostdesk.models import search
    from hostdesk.models.db import is_sqlite
    from hostdesk.models.schema import ActivityLog, PaymentMethod, Tld

    url, host = whmcs
    schema = _schema() if is_sqlite() else None
    methods = [m.name for m in PaymentMethod.select()]
    taken = Tld.create(name="com", register_price=1, transfer_price=1, renew_price=1)
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert not report.ok and "refused a row" in report.error
    assert report.bulk == is_sqlite()
    if report.bulk:  # the clients' batches went before the TLDs' in the same transaction
        assert "whole first import" in report.error and "as before" in report.error
        assert Client.select().count() == 0 and ImportMap.select().count() == 0
        assert [m.name for m in PaymentMethod.select()] == methods
        assert ActivityLog.select().where(ActivityLog.action != "admin.create").count() == 0
        assert _schema() == schema
    else:  # PostgreSQL imports in batches: what came before the refused one stays
        assert Client.select().count() > 100

    taken.delete_instance()
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.ok, report.text()
    if is_sqlite():
        assert _schema() == schema
    service = Service.select().where(Service.domain != "").order_by(Service.id.desc()).first()
    assert service.id in [h.id for h in search.search(service.domain) if h.kind == "service"]
    line = InvoiceLine.select().where((InvoiceLine.kind == LineKind.RENEWAL)
                                      & ~InvoiceLine.cancelled).first()
    with pytest.raises(Exception, match="overlap"):
        InvoiceLine.create(invoice=line.invoice_id, kind=LineKind.RENEWAL,
                           item_type=line.item_type, item_id=line.item_id,
                           period_start=line.period_start.add(days=1),
                           period_end=line.period_end.add(days=1), description="Again", amount=0)
    # the gateways came in through the payment-method list's own function, logged as the admin
    added = {(row.admin_login, row.description) for row in
             ActivityLog.select().where(ActivityLog.action == "payment_method.add")}
    gateways = {g["gateway"] for g in host.rows("tblpaymentgateways")}
    assert {login for login, _ in added} == {ADMIN}
    assert gateways - set(methods) <= {m.name for m in PaymentMethod.select()}
    assert len(added) == len(set(enabled_methods()) - set(methods))


def test_a_gateway_the_payment_method_list_refuses_is_named_not_added(mariadb_server, hostdesk):
    """Gateways become payment methods through the list's own function, which checks the
    name: one it refuses is named in the report for the admin to add by hand."""
    from hostdesk.models.schema import PaymentMethod

    url, host = _whmcs(mariadb_server, HostSpec(clients=20, seed=3, odd_rows=False))
    service = host.rows("tblhosting")[0]
    conn = mariadb_server.connect(host.name)
    with conn.cursor() as cur:
        cur.execute("UPDATE tblhosting SET paymentmethod = 'Pay Later' WHERE id = %s",
                    (service["id"],))
    conn.close()
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.ok, report.text()
    (skipped,) = report.tables["tblpaymentgateways"].skipped
    assert skipped["id"] == "pay later" and skipped["reason"].startswith("name: use lowercase")
    assert "pay later" not in {m.name for m in PaymentMethod.select()}
    assert Service.get_by_id(_invert(_mapped("tblhosting"))[service["id"]]).payment_method \
        == "pay later"


def test_the_compact_import_map_maps_every_row_once_and_refuses_a_second_mapping(
        whmcs, hostdesk):
    """The import map holds one row per imported record, (table, source id) unique:
    the database refuses a second mapping of the same WHMCS row."""
    from peewee import IntegrityError

    from hostdesk.models.db import database

    url, host = whmcs
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.ok, report.text()
    services = _mapped("tblhosting")
    assert sorted(services) == [s.id for s in Service.select().order_by(Service.id)]
    assert len(services) == report.tables["tblhosting"].imported
    assert sorted(_mapped("tblinvoices")) == [i.id for i in Invoice.select().order_by(Invoice.id)]
    for table in ("tblclients", "tblorders", "tbldomains", "tblinvoiceitems", "tblaccounts"):
        assert len(_mapped(table)) == report.tables[table].imported > 0, table
    taken = ImportMap.select().join(ImportTable).where(ImportTable.name == "tblhosting").get()
    with pytest.raises(IntegrityError), database.atomic():
        ImportMap.insert(source_table=taken.source_table, source_id=taken.source_id,
                         target_id=taken.target_id + 1, digest=b"x").execute()


def test_migration_0023_carries_the_import_map_over_and_a_rerun_finds_every_row(
        whmcs, hostdesk):
    """A host that imported before the compact map (0017's wide one, hex digests) upgrades:
    every mapped row is carried over, and the next run updates nothing and adds nothing."""
    from playhouse.migrations import Runner

    from hostdesk.models.db import MIGRATIONS_DIR, migrate

    url, _ = whmcs
    assert import_whmcs(url, admin=as_login(ADMIN)).ok
    mapped = {table: _mapped(table) for table in ("tblclients", "tblhosting", "tblinvoices",
                                                  "tblinvoiceitems", "tblaccounts")}
    count = ImportMap.select().count()
    runner, rolled_back = Runner(hostdesk, directory=str(MIGRATIONS_DIR)), []
    while "0023_compact_import_map" not in rolled_back:  # the later ones first
        rolled_back += runner.down()
    wide = hostdesk.execute_sql(
        "SELECT source, source_table, digest FROM import_map WHERE source_table = 'tblhosting' "
        "ORDER BY id LIMIT 1").fetchone()
    assert wide[:2] == ("whmcs", "tblhosting") and len(wide[2]) == 24  # as 0017 kept it
    assert migrate(hostdesk) == rolled_back[::-1]
    assert ImportMap.select().count() == count
    assert {table: _mapped(table) for table in mapped} == mapped
    counts = {model: model.select().count() for model in ALL_TABLES}
    again = import_whmcs(url, admin=as_login(ADMIN))
    assert again.ok, again.text()
    assert all(c.imported == 0 and c.updated == 0 for c in again.tables.values()), again.text()
    assert {model: model.select().count() for model in ALL_TABLES} == counts


def _first_import_on_sqlite() -> None:
    from hostdesk.models.db import is_sqlite

    if not is_sqlite():
        pytest.skip("a first import is written by a process of its own on SQLite only")


def _writer_processes() -> list[int]:
    """The pids of this process's living writer processes (`python -m` WRITER_MODULE)."""
    from hostdesk.automation.whmcs.pipeline import WRITER_MODULE

    return living_children(WRITER_MODULE)


def _stopped(pid: int) -> None:
    """Wait until `pid` has ended (left for its parent to reap: the writer reads its code)."""
    deadline = time.monotonic() + 10
    while pid in _writer_processes():
        assert time.monotonic() < deadline, f"process {pid} did not end"
        time.sleep(0.01)


def test_a_batch_refused_in_the_writer_process_is_named_and_rolls_the_first_import_back(
        whmcs, hostdesk):
    """A first import's batches are written by a process of its own. One that does not add
    up there (hostdesk's database changes an invoice's total as it is written: a trigger)
    stops the import with that batch named; the process rolls back everything it wrote, and
    ends."""
    from hostdesk.models.db import database

    _first_import_on_sqlite()
    url, host = whmcs
    invoice = host.rows("tblinvoices")[len(host.rows("tblinvoices")) // 2]["id"]
    database.execute_sql(
        "CREATE TRIGGER test_skews_a_total AFTER INSERT ON invoice "
        f"WHEN NEW.notes LIKE 'WHMCS invoice #{invoice}%' BEGIN "
        "UPDATE invoice SET total = total + 1 WHERE id = NEW.id; END")
    schema = _schema()
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.bulk and not report.ok
    assert report.error.startswith("did not reconcile, that batch was rolled back, and with it "
                                   "the whole first import (hostdesk is as before): invoices #")
    assert "hostdesk totals" in report.error and "import FAILED" in report.text()
    assert _schema() == schema  # indexes and triggers as before
    assert Client.select().count() == 0 and Invoice.select().count() == 0
    assert ImportMap.select().count() == 0
    assert _writer_processes() == []


def test_ctrl_c_ends_the_writer_process_and_keeps_no_half_batch(whmcs, hostdesk):
    """Ctrl+c reaches the whole terminal's process group: the writer process ignores it and
    keeps writing, the importing process stops, ends the writer, and nothing of the first
    import stays, not even the batches written before."""
    import signal

    _first_import_on_sqlite()
    url, _ = whmcs
    schema = _schema()
    seen = []

    def progress(task, done, total):
        seen.append(task)
        if task == "tblhosting":  # ctrl+c as the writer works: it must shrug it off
            for pid in _writer_processes():
                os.kill(pid, signal.SIGINT)
        if task == "tblinvoices":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_whmcs(url, admin=as_login(ADMIN), progress=progress)
    assert "tblhosting" in seen  # the clients' and services' batches had gone to the writer
    assert _writer_processes() == []
    assert _schema() == schema
    for model in (Client, Order, Service, Invoice, InvoiceLine, ImportMap):
        assert model.select().count() == 0, model
    # the database is free: the next import runs, as a first import again
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.ok and report.bulk, report.text()


def test_a_writer_process_that_dies_fails_the_import_with_a_clear_report(whmcs, hostdesk):
    """The writer process killed mid-import (out of memory, an operator): the import says so in
    its report instead of waiting for ever or showing a traceback, and nothing of it stays."""
    import signal

    _first_import_on_sqlite()
    url, _ = whmcs

    def progress(task, done, total):
        if task == "tblhosting":
            for pid in _writer_processes():
                os.kill(pid, signal.SIGKILL)
                _stopped(pid)

    report = import_whmcs(url, admin=as_login(ADMIN), progress=progress)
    assert not report.ok
    assert report.error.startswith("the writer process stopped (exit code -9): nothing of the "
                                   "import was kept")
    assert Client.select().count() == 0 and ImportMap.select().count() == 0
    assert _writer_processes() == []


def test_a_writer_process_that_stops_answering_fails_the_import_at_its_deadline(
        whmcs, hostdesk, monkeypatch):
    """A writer stuck in one batch (here a statement that would run for hours): the import
    waits for an answer until its deadline, then says so, stops the writer, and keeps
    nothing."""
    from hostdesk.automation.whmcs import pipeline
    from hostdesk.models.db import database

    _first_import_on_sqlite()
    monkeypatch.setattr(pipeline, "WAIT_SECONDS", 2.0)
    monkeypatch.setattr(pipeline, "STOP_SECONDS", 0.5)
    url, host = whmcs
    invoice = host.rows("tblinvoices")[0]["id"]
    database.execute_sql(
        "CREATE TRIGGER test_never_ends AFTER INSERT ON invoice "
        f"WHEN NEW.notes LIKE 'WHMCS invoice #{invoice}%' BEGIN SELECT count(*) FROM "
        "sqlite_master a, sqlite_master b, sqlite_master c, sqlite_master d, "
        "sqlite_master e; END")
    report = import_whmcs(url, admin=as_login(ADMIN))
    assert report.error == ("the writer process answered nothing for 2 s: the import was "
                            "stopped and nothing of it was kept")
    assert _writer_processes() == []
    assert Client.select().count() == 0 and ImportMap.select().count() == 0


def test_a_script_of_ones_own_imports_without_a_main_guard(whmcs, hostdesk, new_database_url,
                                                           tmp_path):
    """The writer process is started as `python -m` and fed over its standard input: a plain
    script (no `if __name__ == "__main__":`) runs a first import, and is run once."""
    import subprocess
    import sys

    _first_import_on_sqlite()
    url, _ = whmcs
    target = new_database_url()
    script = tmp_path / "move_to_hostdesk.py"
    script.write_text(
        "from hostdesk.automation.whmcs import import_whmcs\n"
        "from hostdesk.models.admins import ensure_first_admin\n"
        "from hostdesk.models.db import bind\n"
        "from hostdesk.models.permissions import find_admin\n"
        f"bind({target!r})\n"
        "ensure_first_admin('mover')\n"
        f"report = import_whmcs({url!r}, admin=find_admin('mover'))\n"
        "print('RAN', report.ok, report.bulk, report.tables['tblhosting'].imported)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    ran = [line.split() for line in done.stdout.splitlines() if line.startswith("RAN")]
    assert len(ran) == 1 and ran[0][1:3] == ["True", "True"] and int(ran[0][3]) > 200, done.stdout
