"""The database layer on both engines: exact money, dates, constraints, migrations."""

from decimal import Decimal

import peewee
import pendulum
import pytest

from hostdesk.models import schema
from hostdesk.models.db import MIGRATIONS_DIR, bind, is_sqlite, migrate, pending_migrations
from hostdesk.models.schema import Client, Invoice, InvoiceLine, LineKind


def make_client(**kw):
    fields = dict(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    fields.update(kw)
    return Client.create(**fields)


def test_money_reads_back_exactly_and_sums_exactly(db):
    client = make_client(credit=Decimal("0.10"))
    invoice = Invoice.create(client=client, date=pendulum.date(2026, 1, 1),
                             due_date=pendulum.date(2026, 1, 1), payment_method="banktransfer")
    for _ in range(10):
        InvoiceLine.create(invoice=invoice, kind=LineKind.CUSTOM, description="x",
                           amount=Decimal("0.10"))
    assert Client.get_by_id(client.id).credit == Decimal("0.10")
    total = InvoiceLine.select(peewee.fn.SUM(InvoiceLine.amount)).scalar()
    # Integer cents: the database sum is exact (a float sum of 0.1 ten times is not 1.0).
    assert total == 100
    assert InvoiceLine.amount.python_value(total) == Decimal("1.00")


def test_money_refuses_floats_and_fractions_of_a_cent(db):
    with pytest.raises(TypeError):
        make_client(credit=0.1)
    with pytest.raises(ValueError):
        make_client(credit=Decimal("0.001"))


def test_dates_round_trip_as_pendulum_dates(db):
    client = make_client()
    invoice = Invoice.create(client=client, date=pendulum.date(2028, 2, 29),
                             due_date=pendulum.date(2028, 3, 31), payment_method="card")
    fresh = Invoice.get_by_id(invoice.id)
    assert fresh.date == pendulum.date(2028, 2, 29)
    assert isinstance(fresh.due_date, pendulum.Date)
    assert isinstance(fresh.created_at, pendulum.DateTime)
    assert fresh.created_at.timezone_name == "UTC"
    assert Invoice.select().where(Invoice.due_date <= pendulum.date(2028, 3, 31)).count() == 1
    assert Invoice.select().where(Invoice.due_date < pendulum.date(2028, 3, 31)).count() == 0


def test_one_live_renewal_line_per_item_and_period(db):
    client = make_client()
    invoice = Invoice.create(client=client, date=pendulum.date(2026, 1, 1),
                             due_date=pendulum.date(2026, 1, 15), payment_method="card")
    line = dict(invoice=invoice, kind=LineKind.RENEWAL, item_type="service", item_id=7,
                period_start=pendulum.date(2026, 1, 15), description="Hosting",
                amount=Decimal("10.00"))
    first = InvoiceLine.create(**line)
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            InvoiceLine.create(**line)
    # A cancelled line does not count: the period can be billed again.
    first.cancelled = True
    first.save()
    InvoiceLine.create(**line)
    # Other kinds (prorata) are not renewal lines.
    InvoiceLine.create(**{**line, "kind": LineKind.PRORATA})
    assert InvoiceLine.select().count() == 3


def test_check_constraints_refuse_negative_prices_and_unknown_statuses(db):
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            make_client(status="vanished")
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            make_client(credit=Decimal("-1.00"))


def test_sqlite_runs_with_wal_foreign_keys_and_immediate_transactions(tmp_path):
    db = bind(f"sqlite:///{tmp_path / 'pragmas.db'}")
    db.connect()
    assert is_sqlite(db)
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert db._lock_type == "IMMEDIATE"
    assert (tmp_path / "pragmas.db").stat().st_mode & 0o077 == 0  # owner only
    db.close()


def test_schema_is_fully_migrated(db):
    assert pending_migrations(db) == []
    tables = set(db.get_tables())
    assert {m._meta.table_name for m in schema.ALL_TABLES} <= tables


def test_upgrade_from_first_migration_keeps_every_row(engine, request, tmp_path):
    """Create a database at migration 0001, fill it, upgrade to the newest: all rows intact."""
    from playhouse.migrations import Runner

    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        server.admin_sql("CREATE DATABASE upgrade_test")
        url = server.url("upgrade_test")
    old = bind(url)
    runner = Runner(old, directory=str(MIGRATIONS_DIR))
    first = runner.migrations()[0].name
    assert runner.up(target=first) == [first]
    old.execute_sql(
        "INSERT INTO client (first_name, last_name, company, email, phone, address, city, "
        "postcode, country, status, separate_invoices, credit, default_payment_method, notes, "
        "created_at, version) VALUES ('Old', 'Timer', '', 'old@example.com', '', '', '', '', "
        "'', 'active', %s, 1234, 'card', 'kept', '2020-01-01 00:00:00', 1)"
        % ("0" if engine == "sqlite" else "false")
    )
    applied = migrate(old)
    assert applied == [m.name for m in runner.migrations()[1:]]
    client = Client.get(Client.email == "old@example.com")
    assert (client.first_name, client.credit, client.notes) == ("Old", Decimal("12.34"), "kept")
    assert pending_migrations(old) == []
    old.close()


def _plain_indexes(db, table):
    """(name, columns) of the table's whole-column indexes (no partial or expression ones)."""
    found = []
    for index in db.get_indexes(table):
        if " WHERE " in (index.sql or "").upper() or any(c is None or "(" in c for c in index.columns):
            continue
        found.append((index.name, index.unique, tuple(index.columns)))
    return found


def test_every_foreign_key_is_indexed_and_no_index_repeats_the_head_of_another(db):
    """Each foreign key leads some index (deletes and joins stay indexed), and no plain index
    is the leading columns of another one: it would only cost writes (migration 0010)."""
    for model in schema.ALL_TABLES:
        table = model._meta.table_name
        indexes = _plain_indexes(db, table)
        heads = {columns[0] for _, _, columns in indexes}
        for fk in model._meta.refs:
            assert fk.column_name in heads, f"{table}.{fk.column_name} leads no index"
        for name, unique, columns in indexes:
            longer = [other for other, _, other_columns in indexes
                      if other != name and len(other_columns) > len(columns)
                      and other_columns[:len(columns)] == columns]
            assert unique or not longer, f"{table}: {name} {columns} is the head of {longer}"


def _bulk_rows(client_id: int, count: int) -> list[tuple]:
    """Email outbox rows whose text holds what COPY's text format must escape."""
    awkward = ["tab\there", "two\nlines", "back\\slash \\N", "carriage\rreturn", "Zoë – ünïcode",
               "", "\\.", "plain"]
    return [(f"c{n}@example.com", awkward[n % len(awkward)], f"body {n}\n\t{awkward[-n % 8]}",
             n % 3 == 0, "invoice_created", client_id if n % 2 else None, "invoice", n,
             "queued", n % 4, "", "2026-01-01 00:00:00.000000", None, False)
            for n in range(count)]


def test_bulk_insert_by_copy_stores_exactly_what_insert_stores(db, monkeypatch):
    """PostgreSQL writes big batches with COPY (`copy_rows`), small ones with INSERT: both
    store the same values (escaped text, NULL, booleans), hand back new ids in row order, and
    a duplicate is the same IntegrityError. On SQLite both batches are INSERTs."""
    from hostdesk.models import db as dbmodule
    from hostdesk.models.emails import OUTBOX_COLUMNS
    from hostdesk.models.schema import EmailOutbox

    client = make_client()
    count = dbmodule.COPY_ROWS + 7
    columns = ("to_address", "subject", "body", "body_encrypted", "template", "client_id",
               "related_type", "related_id", "status", "attempts", "last_error", "sent_at")
    stored = []
    for copy_from in (dbmodule.COPY_ROWS, count + 1):  # COPY on PostgreSQL, then INSERT
        monkeypatch.setattr(dbmodule, "COPY_ROWS", copy_from)
        with dbmodule.database.atomic():
            ids = dbmodule.insert_rows(EmailOutbox, OUTBOX_COLUMNS, _bulk_rows(client.id, count),
                                       returning=True)
        assert len(ids) == count and ids == sorted(ids) and len(set(ids)) == count
        rows = list(EmailOutbox.select().where(EmailOutbox.id.in_(ids)).order_by(EmailOutbox.id)
                    .tuples())
        assert [row[0] for row in rows] == ids  # the ids name the rows in the order given
        stored.append([tuple(getattr(e, name) for name in columns)
                       for e in EmailOutbox.select().where(EmailOutbox.id.in_(ids))
                       .order_by(EmailOutbox.id)])
    assert stored[0] == stored[1]
    first = stored[0]
    assert first[1][1] == "two\nlines" and first[2][1] == "back\\slash \\N"
    assert first[0][3] is True and first[1][3] is False and first[0][5] is None
    assert first[1][5] == client.id

    # The same unique violation, whichever way the rows go in.
    line_columns = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
                    "description", "amount", "cancelled", "applied_at", "upgrade", "sort_order")
    invoice = Invoice.create(client=client, date=pendulum.date(2026, 1, 1),
                             due_date=pendulum.date(2026, 1, 1), payment_method="banktransfer")
    lines = [(invoice.id, "renewal", "service", 1000 + n, "2026-01-01", "2026-02-01", "x", 100,
              False, None, None, n) for n in range(count)]
    with dbmodule.database.atomic():
        dbmodule.insert_rows(InvoiceLine, line_columns, lines)
    for copy_from in (dbmodule.COPY_ROWS, count + 1):
        monkeypatch.setattr(dbmodule, "COPY_ROWS", copy_from)
        with pytest.raises(peewee.IntegrityError):
            with dbmodule.database.atomic():
                dbmodule.insert_rows(InvoiceLine, line_columns, lines)
    assert InvoiceLine.select().where(InvoiceLine.invoice == invoice.id).count() == count


def test_bulk_insert_uses_a_few_statement_sizes_and_keeps_row_order(db, monkeypatch):
    """Rows go in 512 at a time, the rest in powers of two, so the few statements the driver
    keeps prepared are used again; the ids still come back in row order."""
    from hostdesk.models import db as dbmodule
    from hostdesk.models.emails import OUTBOX_COLUMNS
    from hostdesk.models.schema import EmailOutbox

    for count in (0, 1, 5, 511, 512, 513, 1500):
        sizes = list(dbmodule._batch_sizes(count, 512))
        assert sum(sizes) == count and set(sizes) <= {512, 256, 128, 64, 32, 16, 8, 4, 2, 1}
        assert all(sizes.count(size) == 1 for size in set(sizes) - {512})
    monkeypatch.setattr(dbmodule, "COPY_ROWS", 10_000)  # INSERTs on PostgreSQL too
    client = make_client()
    with dbmodule.database.atomic():
        ids = dbmodule.insert_rows(EmailOutbox, OUTBOX_COLUMNS, _bulk_rows(client.id, 700),
                                   returning=True)
    assert len(ids) == 700 and ids == sorted(ids)
    related = [row[0] for row in EmailOutbox.select(EmailOutbox.related_id)
               .where(EmailOutbox.id.in_(ids)).order_by(EmailOutbox.id).tuples()]
    assert related == list(range(700))  # the n-th id names the n-th row given
