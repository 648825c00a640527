"""The services' totals the database keeps (migration 0022): exact after inserts, deletes,
status changes, a parallel daily run and an upgrade, and never a lock between writers."""

import os
import subprocess
import threading
import time

import pendulum
import psycopg2
import pytest
from playhouse.migrations import Runner

from hostdesk.models import listing
from hostdesk.models.db import MIGRATIONS_DIR, bind, database
from hostdesk.models.listing import ListFilter, ServiceSource, fold_service_counts, service_totals
from hostdesk.models.schema import Service
from hostdesk.models.selection import FilteredServiceSource, ServiceFilter
from tests import factories as make
from tests.test_cron_processes import DUE, HOSTDESK, build_host


def counted() -> dict[str, int]:
    """What a full scan says: the truth the counter must equal."""
    rows = Service.select(Service.status, Service.id).tuples()
    totals: dict[str, int] = {}
    for status, _ in rows:
        totals[status] = totals.get(status, 0) + 1
    return totals


def counter_rows() -> int:
    return database.execute_sql("SELECT COUNT(*) FROM service_count WHERE n <> 0").fetchone()[0]


def test_the_totals_follow_inserts_deletes_and_status_changes(db):
    assert service_totals() == {}
    first = make.service()
    product = first.product
    Service.insert_many([dict(client=first.client_id, product=product, status=status,
                              registration_date=pendulum.date(2025, 1, 1),
                              billing_cycle="monthly", recurring_amount=first.recurring_amount,
                              next_due_date=pendulum.date(2026, 1, 1), anchor_day=1,
                              payment_method="card", domain=f"bulk{i}.example.com")
                         for i, status in enumerate(["active"] * 30 + ["pending"] * 12)]).execute()
    assert service_totals() == counted() == {"active": 31, "pending": 12}

    # status changes (one row, many rows, to the same status), other columns, deletes
    Service.update(status="suspended").where(Service.id == first.id).execute()
    Service.update(status="active").where(Service.status == "pending").execute()
    Service.update(status="active").where(Service.status == "active").execute()  # no change
    Service.update(next_due_date=pendulum.date(2026, 2, 1)).execute()
    some = [s.id for s in Service.select(Service.id).where(Service.status == "active").limit(5)]
    Service.update(status="terminated").where(Service.id.in_(some[:2])).execute()
    Service.delete().where(Service.id.in_(some[2:])).execute()
    make.service(status="fraud")
    assert service_totals() == counted() == {"active": 37, "suspended": 1, "terminated": 2,
                                             "fraud": 1}

    with pytest.raises(RuntimeError), database.atomic():  # a rolled-back change leaves no trace
        Service.update(status="cancelled").execute()
        raise RuntimeError
    assert service_totals() == counted()

    fold_service_counts()
    assert service_totals() == counted()
    assert counter_rows() <= 4  # one row per status once folded (SQLite: always)

    # what the lists show, and the dashboard, come from it
    assert ServiceSource().count() == 41
    assert FilteredServiceSource().count(ServiceFilter(status="active")) == 37
    assert FilteredServiceSource().count(ServiceFilter(status="pending")) == 0
    assert listing.dashboard_counts(pendulum.date(2026, 1, 1)).services_by_status == counted()


def test_a_read_folds_many_counter_rows_into_one_per_status(db, monkeypatch):
    monkeypatch.setattr(listing, "FOLD_AFTER", 5)
    first = make.service()
    for _ in range(8):
        Service.update(status="suspended").where(Service.id == first.id).execute()
        Service.update(status="active").where(Service.id == first.id).execute()
    make.service(status="pending")
    assert service_totals() == counted() == {"active": 1, "pending": 1}
    assert service_totals() == counted()
    assert counter_rows() <= 2


def test_the_daily_run_folds_the_days_counter_rows(db):
    from hostdesk.automation.cron import run_daily
    from hostdesk.models.clock import Clock
    from hostdesk.models.settings import Settings

    services = [make.service() for _ in range(3)]
    for service in services:  # a statement each: a counter row each on PostgreSQL
        Service.update(status="suspended").where(Service.id == service.id).execute()
    Service.update(status="active").where(Service.id == services[0].id).execute()
    run_daily(Settings(smtp_port=1), Clock("UTC", pendulum.date(2026, 1, 1)), send_emails=False)
    assert counter_rows() == 2  # one per status
    assert service_totals() == counted() == {"active": 1, "suspended": 2}


def test_the_first_page_counts_up_to_the_cap_then_says_more(db):
    client = make.client()
    product = make.product()
    services = [make.service(client, product, domain=f"orchid{i}.example.com") for i in range(7)]
    make.service(client, product, domain="maple.example.com")
    source = FilteredServiceSource()
    newest = [s.id for s in reversed(services)]

    page = source.first_page(3, ServiceFilter(text="orchid"), cap=5)
    assert ([r["id"] for r in page.rows], page.total, page.exact) == (newest[:3], 5, False)
    assert source.count(ServiceFilter(text="orchid")) == 7
    page = source.first_page(3, ServiceFilter(text="orchid"), cap=7)
    assert (page.total, page.exact) == (7, True)
    page = source.first_page(3, ServiceFilter(), cap=5)  # the whole list: always exact
    assert (page.total, page.exact, len(page.rows)) == (8, True, 3)
    page = source.first_page(3, ServiceFilter(status="active"), cap=5)  # kept by status too
    assert (page.total, page.exact) == (8, True)
    page = ServiceSource().first_page(10, ListFilter("maple"), cap=5)
    assert ([r["domain"] for r in page.rows], page.total, page.exact) == (
        ["maple.example.com"], 1, True)


def test_an_upgraded_database_is_counted_when_the_migration_applies(db):
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    rolled_back = []
    while "0022_service_counts" not in rolled_back:
        rolled_back += runner.down()
    client = make.client()
    for status in ("active", "active", "suspended"):
        make.service(client, status=status)
    assert "0022_service_counts" in runner.up()
    assert service_totals() == counted() == {"active": 2, "suspended": 1}
    make.service(client, status="pending")
    assert service_totals() == counted()


def test_writers_never_wait_for_each_other_on_the_counter(pg_server):
    """Two transactions insert, change and delete services of the same statuses at once:
    neither waits for the other (a shared counter row would hold the second until the
    first commits), and the totals are exact after both."""
    name = "service_counts_writers"
    pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE hostdesk_template")
    url = pg_server.url(name)
    real = bind(url)
    try:
        client = make.client()
        ids = [make.service(client).id for _ in range(4)]
        product_id = Service.get_by_id(ids[0]).product_id
        real.close()
        insert = ("INSERT INTO service (client_id, product_id, status, registration_date, "
                  "quantity, first_payment_amount, recurring_amount, billing_cycle, anchor_day, "
                  "payment_method, promotion_uses, subscription_id, override_suspend, "
                  "auto_terminate_end_of_cycle, auto_terminate_reason, suspension_reason, "
                  "admin_notes, domain, dedicated_ip, username, password, created_at, "
                  "updated_at, version) VALUES (%s, %s, 'active', '2025-01-01', 1, 0, 1000, "
                  "'monthly', 1, 'card', 0, '', false, false, '', '', '', 'x.example.com', '', "
                  "'', '', now(), now(), 1)")
        writers = [psycopg2.connect(url) for _ in range(2)]
        for number, conn in enumerate(writers):
            with conn.cursor() as cur:
                cur.execute("SET lock_timeout = '2s'")  # a wait fails the test, not hangs it
                cur.execute(insert, (client.id, product_id))
                cur.execute("UPDATE service SET status = 'suspended' WHERE id = %s",
                            (ids[number],))
                cur.execute("DELETE FROM service WHERE id = %s", (ids[2 + number],))
        for conn in writers:  # both were open at once and neither waited
            conn.commit()
            conn.close()
        real = bind(url)
        assert service_totals() == counted() == {"active": 2, "suspended": 2}
    finally:
        real.close()
        database.initialize(None)


def test_the_totals_are_exact_after_a_parallel_daily_run(pg_server):
    """`hostdesk cron --workers 2` bills 600 services and, a month later unpaid, suspends
    them, the two workers writing at once (chunks of 20 clients: a dozen each)."""
    name = "service_counts_daily"
    pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE hostdesk_template")
    url = pg_server.url(name)
    build_host(url, clients=120)
    for day in (DUE, DUE.add(days=40)):
        run = subprocess.run([HOSTDESK, "--db", url, "cron", "--date", day.isoformat(),
                              "--allow-far-date", "--json", "--no-email", "--workers", "2"],
                             capture_output=True, text=True, timeout=600,
                             env={**os.environ, "HOSTDESK_BATCH_SIZE": "20"})
        assert run.returncode == 0, run.stderr
    real = bind(url)
    try:
        truth = counted()
        assert truth.get("suspended", 0) > 0  # the run did change statuses
        assert service_totals() == truth and sum(truth.values()) == 600
        fold_service_counts()
        assert service_totals() == truth
    finally:
        real.close()
        database.initialize(None)


def test_a_list_read_stopped_by_a_newer_one_ends_at_once(db_url):
    """What a newer search replaces is stopped mid-statement, on both engines; a stop after
    the read ended touches nothing that runs later on the same connection."""
    from hostdesk.models.db import connection
    from hostdesk.models.listing import Interruptible, Stopped

    real = bind(db_url)
    real.close()
    slow = ("SELECT pg_sleep(20)" if db_url.startswith("postgres") else
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1e9) "
            "SELECT COUNT(*) FROM n")
    reads = Interruptible()
    outcome = {}

    def read():
        with connection():
            try:
                with reads.running():
                    database.execute_sql(slow)
            except Exception as error:  # noqa: BLE001 - what the screen would be told
                outcome["error"] = error
            outcome["after"] = database.execute_sql("SELECT 1").fetchone()[0]

    worker = threading.Thread(target=read)
    started = time.monotonic()
    worker.start()
    time.sleep(0.5)
    reads.stop()
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert "error" in outcome and outcome["after"] == 1  # stopped; the connection still works
    with pytest.raises(Stopped), connection(), reads.running():
        pass  # a read that had not begun does not begin
    database.initialize(None)
