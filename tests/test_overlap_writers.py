"""Two PostgreSQL writers billing at once (rules §4, migration 0026): a period of one item is
billed once even when two transactions write it at the same moment, and writers of
different items never wait for each other (the daily run's `--workers`)."""

import threading

import pendulum
import psycopg2
import pytest

from hostdesk.models.db import bind, database
from hostdesk.models.schema import Invoice
from tests import factories as make

LINE = ("INSERT INTO invoice_line (invoice_id, kind, item_type, item_id, period_start, "
        "period_end, description, amount, cancelled, sort_order) "
        "VALUES (%s, 'renewal', 'service', %s, %s, %s, 'Hosting', 1000, false, 0)")


@pytest.fixture
def url(pg_server, request):
    name = "overlap_writers"
    pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE hostdesk_template")
    request.addfinalizer(lambda: pg_server.admin_sql(f"DROP DATABASE {name} WITH (FORCE)"))
    return pg_server.url(name)


@pytest.fixture
def billed(url):
    """Two services of one client and an invoice to put their lines on."""
    real = bind(url)
    try:
        first, second = make.service(), make.service()
        invoice = Invoice.create(client=first.client_id, date=pendulum.date(2026, 1, 1),
                                 due_date=pendulum.date(2026, 1, 1), payment_method="card")
        return invoice.id, first.id, second.id
    finally:
        real.close()
        database.initialize(None)


def writer(url):
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SET lock_timeout = '5s'")  # a wait that never ends fails the test
    return conn


def write_in_thread(conn, *line) -> tuple[threading.Thread, dict]:
    outcome = {}

    def write():
        try:
            with conn.cursor() as cur:
                cur.execute(LINE, line)
            conn.commit()
            outcome["done"] = True
        except psycopg2.Error as exc:
            conn.rollback()
            outcome["error"] = exc

    thread = threading.Thread(target=write)
    thread.start()
    return thread, outcome


def test_a_period_written_by_two_transactions_at_once_is_billed_once(url, billed):
    invoice, service, _ = billed
    first, second = writer(url), writer(url)
    try:
        with first.cursor() as cur:
            cur.execute(LINE, (invoice, service, "2026-01-01", "2026-02-01"))
        # the second writer's overlapping line waits for the first transaction ...
        thread, outcome = write_in_thread(second, invoice, service, "2026-01-15", "2026-02-15")
        thread.join(0.5)
        assert thread.is_alive() and not outcome
        first.commit()  # ... then sees its line and is refused
        thread.join(10)
        error = outcome["error"]
        assert isinstance(error, psycopg2.errors.ExclusionViolation)
        assert "overlapping renewal period" in str(error) and "overlaps line #" in str(error)

        # a first writer that rolls back lets the waiting one through
        with first.cursor() as cur:
            cur.execute(LINE, (invoice, service, "2026-03-01", "2026-04-01"))
        thread, outcome = write_in_thread(second, invoice, service, "2026-03-10", "2026-04-10")
        thread.join(0.5)
        assert thread.is_alive()
        first.rollback()
        thread.join(10)
        assert outcome == {"done": True}
        with first.cursor() as cur:
            cur.execute("SELECT period_start::text FROM invoice_line WHERE item_id = %s "
                        "ORDER BY period_start", (service,))
            assert [start for (start,) in cur.fetchall()] == ["2026-01-01", "2026-03-10"]
    finally:
        first.close()
        second.close()


def test_writers_of_different_items_never_wait_for_each_other(url, billed):
    invoice, service, other = billed
    first, second = writer(url), writer(url)
    try:
        for conn in (first, second):
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = '1s'")
        with first.cursor() as cur:
            cur.execute(LINE, (invoice, service, "2026-01-01", "2026-02-01"))
        with second.cursor() as cur:  # the same period of another item, while the first is open
            cur.execute(LINE, (invoice, other, "2026-01-01", "2026-02-01"))
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
