"""`models/bulk_load.py`: rows loaded into empty SQLite tables with their indexes and insert
triggers paused, made good at the end of the same transaction."""

import pytest
from peewee import IntegrityError

from hostdesk.models import bulk_load, search
from hostdesk.models.db import database, insert_rows, is_sqlite
from hostdesk.models.listing import service_totals
from hostdesk.models.schema import Client, Invoice, InvoiceLine, LineKind, Order, Product, Service

TABLES = ("client", "service", "invoice", "invoice_line")


@pytest.fixture
def sqlite_db(db):
    if not is_sqlite():
        pytest.skip("bulk loading pauses SQLite's indexes and triggers; PostgreSQL imports in "
                    "batches")
    return db


def _schema() -> list[tuple]:
    return database.execute_sql("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                "ORDER BY type, name").fetchall()


def _client_and_invoice() -> tuple[int, int]:
    client = Client.create(first_name="Ada", last_name="Bulk", email="ada@example.com")
    invoice = Invoice.create(client=client, date="2026-06-01", due_date="2026-06-01", total=0,
                             payment_method="banktransfer")
    return client.id, invoice.id


def _renewal(invoice_id: int, start: str, end: str) -> tuple:
    return (invoice_id, LineKind.RENEWAL, "service", 7, start, end, "Renewal", 0, False, 0)


LINE_COLUMNS = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
                "description", "amount", "cancelled", "sort_order")


def test_applies_only_to_empty_sqlite_tables(db):
    assert bulk_load.applies(TABLES) == is_sqlite()  # PostgreSQL imports in batches
    Client.create(first_name="Ada", last_name="One", email="ada@example.com")
    assert not bulk_load.applies(TABLES)


def test_a_load_rebuilds_the_indexes_search_and_checks_it_paused(sqlite_db):
    before = _schema()
    with database.atomic():
        paused = bulk_load.pause(TABLES, keep=("invoiceline_invoice_id_sort_order",))
        during = {name for _, name, _, _ in _schema()}
        assert "service_search_insert" not in during and "service_domain" not in during
        assert "invoice_line_no_overlap_insert" not in during
        assert "service_count_insert" not in during  # one counter update per service: off
        assert "invoiceline_invoice_id_sort_order" in during  # kept: the load reads it
        client_id, invoice_id = _client_and_invoice()
        product = Product.create(name="Starter").id
        Service.insert_many([dict(client=client_id, product=product, domain=f"bulk{n}.example",
                                  status="active", billing_cycle="monthly",
                                  registration_date="2026-01-01", recurring_amount=1,
                                  payment_method="banktransfer") for n in range(50)]).execute()
        Service.update(status="suspended").where(Service.id <= 3).execute()
        insert_rows(InvoiceLine, LINE_COLUMNS, [_renewal(invoice_id, "2026-06-01", "2026-07-01"),
                                                _renewal(invoice_id, "2026-07-01", "2026-08-01")])
        bulk_load.resume(paused)
    assert _schema() == before
    assert service_totals() == {"active": 47, "suspended": 3}  # counted once, at the end
    Service.create(client=client_id, product=product, domain="after.example", status="active",
                   billing_cycle="monthly", registration_date="2026-01-01", recurring_amount=1,
                   payment_method="banktransfer")
    assert service_totals() == {"active": 48, "suspended": 3}  # the trigger is back
    hits = search.search("bulk17.example")
    assert [h.title for h in hits if h.kind == "service"] == ["bulk17.example"]
    assert [h.kind for h in search.search("Bulk")][:1] == ["client"]  # the client's search row
    with pytest.raises(IntegrityError, match="overlapping"):  # the trigger is back
        insert_rows(InvoiceLine, LINE_COLUMNS, [_renewal(invoice_id, "2026-07-15", "2026-08-15")])


def test_tables_written_in_full_are_made_good_while_the_others_load(sqlite_db):
    before = _schema()
    with pytest.raises(IntegrityError, match="overlapping renewal period: line #2"), \
            database.atomic():
        paused = bulk_load.pause(TABLES)
        client_id, invoice_id = _client_and_invoice()
        product = Product.create(name="Starter").id
        Service.create(client=client_id, product=product, domain="early.example",
                       status="active", billing_cycle="monthly", registration_date="2026-01-01",
                       recurring_amount=1, payment_method="banktransfer")
        with pytest.raises(ValueError, match="client, service"):  # one search rebuild: both
            bulk_load.resume(paused, ("client",))
        bulk_load.resume(paused, ("client", "service"))
        now = {name for _, name, _, _ in _schema()}
        assert {"service_search_insert", "service_domain", "client_search_insert"} <= now
        assert "invoice_line_no_overlap_insert" not in now  # invoice lines: still loading
        assert [h.title for h in search.search("early.example") if h.kind == "service"] == \
            ["early.example"]
        insert_rows(InvoiceLine, LINE_COLUMNS, [_renewal(invoice_id, "2026-06-01", "2026-07-01"),
                                                _renewal(invoice_id, "2026-06-15", "2026-07-15")])
        bulk_load.resume(paused)  # what is left is still checked
    assert _schema() == before  # the caller's transaction rolled it all back
    assert Client.select().count() == 0 and Service.select().count() == 0


def test_a_load_with_an_overlapping_renewal_is_refused_and_rolled_back(sqlite_db):
    before = _schema()
    with pytest.raises(IntegrityError, match="overlapping renewal period: line #2"):
        with database.atomic():
            paused = bulk_load.pause(TABLES)
            _, invoice_id = _client_and_invoice()
            insert_rows(InvoiceLine, LINE_COLUMNS, [
                _renewal(invoice_id, "2026-06-01", "2026-07-01"),
                _renewal(invoice_id, "2026-06-15", "2026-07-15")])
            bulk_load.resume(paused)
    assert _schema() == before
    assert Client.select().count() == 0 and InvoiceLine.select().count() == 0


def test_a_duplicate_for_a_unique_index_fails_the_load(sqlite_db):
    with pytest.raises(IntegrityError, match="UNIQUE constraint failed: order.number"):
        with database.atomic():
            paused = bulk_load.pause(TABLES + ("order",))
            client_id, _ = _client_and_invoice()
            Order.insert_many([dict(client=client_id, number="1001", payment_method="paypal")
                               for _ in range(2)]).execute()
            bulk_load.resume(paused)
    assert Order.select().count() == 0 and Client.select().count() == 0


def test_pause_needs_a_transaction_and_the_indexes_it_keeps(sqlite_db):
    with pytest.raises(RuntimeError):
        bulk_load.pause(TABLES)
    with pytest.raises(ValueError, match="no_such_index"), database.atomic():
        bulk_load.pause(TABLES, keep=("no_such_index",))
    assert bulk_load.applies(TABLES) and len(_schema()) > 10


def test_a_table_written_in_full_gets_its_indexes_before_the_search_it_shares(sqlite_db):
    """`split_indexes`: the client table's indexes are made while the services still load;
    its search trigger waits for the one rebuild of every search table."""
    before = _schema()
    with database.atomic():
        paused = bulk_load.pause(TABLES)
        client_id, _ = _client_and_invoice()
        bulk_load.resume(paused.split_indexes(("client",)))
        now = {name for _, name, _, _ in _schema()}
        assert {"client_email", "client_email_lower"} <= now  # made
        assert "client_search_insert" not in now and "service_domain" not in now  # still off
        plan = database.execute_sql("EXPLAIN QUERY PLAN SELECT id FROM client "
                                    "WHERE lower(email) = 'ada@example.com'").fetchall()
        assert "client_email_lower" in str(plan)  # in use at once
        product = Product.create(name="Starter").id
        Service.create(client=client_id, product=product, domain="late.example",
                       status="active", billing_cycle="monthly", registration_date="2026-01-01",
                       recurring_amount=1, payment_method="banktransfer")
        bulk_load.resume(paused)
        assert [h.title for h in search.search("Bulk") if h.kind == "client"]  # rebuilt
        assert [h.title for h in search.search("late.example") if h.kind == "service"]
        assert sorted(_schema()) == sorted(before)
    assert Client.select().count() == 1
