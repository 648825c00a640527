"""The real `hostdesk cron` process: one run at a time, and crash-safe under SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.models.db import bind, migrate
from hostdesk.models.schema import (
    Client,
    CronRun,
    Invoice,
    InvoiceLine,
    Product,
    ProductPrice,
    RunLock,
    Service,
)

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
DUE = pendulum.date(2026, 6, 1)
CLIENTS, SERVICES_PER_CLIENT = 600, 5


def build_host(db_url, clients: int = CLIENTS):
    """3,000 services of 600 clients (by default), all due on DUE (a host that bills on the 1st)."""
    db = bind(db_url)
    with db.atomic():
        product = Product.create(name="Shared", type="shared")
        ProductPrice.create(product=product, cycle="monthly", price=Decimal("9.99"))
        Client.insert_many([dict(first_name="C", last_name=str(i), email=f"c{i}@example.com")
                            for i in range(clients)]).execute()
        ids = [c.id for c in Client.select(Client.id).order_by(Client.id)]
        rows = [dict(client=cid, product=product.id, status="active", billing_cycle="monthly",
                     registration_date=pendulum.date(2025, 6, 1), next_due_date=DUE, anchor_day=1,
                     recurring_amount=Decimal("9.99") + k, payment_method="card",
                     domain=f"s{cid}-{k}.example.com")
                for cid in ids for k in range(SERVICES_PER_CLIENT)]
        for start in range(0, len(rows), 500):
            Service.insert_many(rows[start:start + 500]).execute()
    db.close()


def state(db_url):
    """Everything the run writes, keyed without database ids."""
    db = bind(db_url)
    invoices = {}
    for invoice in Invoice.select():
        lines = tuple(sorted((l.item_id, l.period_start.isoformat(), str(l.amount), l.cancelled)
                             for l in InvoiceLine.select().where(InvoiceLine.invoice == invoice.id)))
        key = (invoice.client_id, invoice.due_date.isoformat(), invoice.payment_method)
        assert key not in invoices, f"client billed twice: {key}"
        invoices[key] = (str(invoice.total), invoice.status, lines)
    ndds = {s.id: (s.next_due_date, s.status) for s in Service.select()}
    db.close()
    return invoices, ndds


def cron(db_url, *extra, env=None):
    return subprocess.Popen([HOSTDESK, "--db", db_url, "cron", "--date", DUE.isoformat(),
                             "--allow-far-date", "--json", "--no-email", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOSTDESK_BATCH_SIZE": "100", **(env or {})})


def count_invoices(db_url) -> int:
    db = bind(db_url)
    try:
        return Invoice.select().count()
    finally:
        db.close()


@pytest.fixture
def host(db_url):
    build_host(db_url)
    return db_url


def lock_is_held(db_url) -> bool:
    db = bind(db_url)
    try:
        return RunLock.select().exists()
    finally:
        db.close()


def test_two_concurrent_runs_one_refuses_and_everything_is_billed_once(host):
    first = cron(host, env={"HOSTDESK_BATCH_SIZE": "4"})
    deadline = time.monotonic() + 60
    while not lock_is_held(host) and time.monotonic() < deadline:
        time.sleep(0.002)
    first.send_signal(signal.SIGSTOP)  # hold the first run still, wherever it is
    try:
        started = time.monotonic()
        second = cron(host)
        second_output = second.communicate(timeout=60)
        assert time.monotonic() - started < 10  # refused at once, not after waiting
    finally:
        first.send_signal(signal.SIGCONT)
    outputs = [first.communicate(timeout=300), second_output]
    assert (first.returncode, second.returncode) == (0, 3), outputs
    assert "a daily run is in progress" in outputs[1][1]
    invoices, _ = state(host)
    assert len(invoices) == CLIENTS
    assert all(len(lines) == SERVICES_PER_CLIENT for _, _, lines in invoices.values())


@pytest.mark.parametrize("kill_after_invoices", [1, CLIENTS // 3, (2 * CLIENTS) // 3])
def test_killed_run_rerun_equals_a_clean_run(host, kill_after_invoices, new_database_url):
    process = cron(host)
    deadline = time.monotonic() + 120
    while count_invoices(host) < kill_after_invoices and time.monotonic() < deadline:
        if process.poll() is not None:
            break
        time.sleep(0.005)
    killed_midway = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = count_invoices(host)
    assert killed_midway and 0 < partial < CLIENTS, f"kill landed at {partial} invoices"

    rerun = cron(host)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err  # the dead holder's lock was taken over

    clean = new_database_url()
    build_host(clean)
    clean_run = cron(clean)
    clean_run.communicate(timeout=300)
    assert state(host) == state(clean)

    invoices, ndds = state(host)
    assert len(invoices) == CLIENTS
    for total, status, lines in invoices.values():
        assert status == "unpaid" and len(lines) == SERVICES_PER_CLIENT
        assert Decimal(total) == sum(Decimal(amount) for _, _, amount, _ in lines)
    expected_total = sum((Decimal("9.99") + k) for k in range(SERVICES_PER_CLIENT)) * CLIENTS
    assert sum(Decimal(t) for t, _, _ in invoices.values()) == expected_total
    db = bind(host)
    assert CronRun.select().where(CronRun.status == "succeeded").count() == 1
    db.close()


def test_the_daily_run_on_sqlite_loads_no_postgresql_or_mysql_driver(tmp_path):
    """peewee imports every database driver it finds; the daily run on SQLite keeps them out
    (16 MB of its peak memory at a million services) and still bills."""
    url = f"sqlite:///{tmp_path / 'host.db'}"
    migrate(bind(url))
    build_host(url, clients=3)
    code = ("import sys\nfrom hostdesk.tui.cli import main\n"
            f"rc = main(['--db', {url!r}, 'cron', '--date', {DUE.isoformat()!r}, "
            "'--allow-far-date', '--no-email', '--json'])\n"
            "loaded = {m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}\n"
            "print('RC', rc, 'DRIVERS', ','.join(sorted(loaded & {'psycopg2', 'psycopg', "
            "'pymysql', 'MySQLdb'})) or '-')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    last = done.stdout.strip().splitlines()[-1].split()
    assert last[:4] == ["RC", "0", "DRIVERS", "-"], (done.stdout[-500:], done.stderr[-500:])
    invoices, _ = state(url)
    assert len(invoices) == 3
