"""One daily run shared by several processes (`hostdesk cron --workers N`, `--join`): chunks of
clients claimed with FOR UPDATE SKIP LOCKED on PostgreSQL, the same end state as one worker."""

import json
import subprocess
import threading

import pendulum
import pytest

from hostdesk.automation.cron import run_daily
from hostdesk.models.permissions import SYSTEM_ADMIN
from hostdesk.models import renewals
from hostdesk.models.clock import Clock
from hostdesk.models.db import bind, database
from hostdesk.models.errors import ValidationError
from hostdesk.models.schema import BillingChunk, CronRun, Invoice
from hostdesk.models.settings import Settings
from tests.test_cron_processes import CLIENTS, DUE, HOSTDESK, SERVICES_PER_CLIENT, build_host, cron, state


@pytest.fixture
def pg_url(pg_server):
    """Fresh migrated PostgreSQL databases: sharing a run is a PostgreSQL feature."""
    made = iter(range(1, 1000))

    def make() -> str:
        name = f"workers_{id(made)}_{next(made)}"
        pg_server.admin_sql(f"CREATE DATABASE {name} TEMPLATE hostdesk_template")
        return pg_server.url(name)

    return make


def chunk_workers(db_url) -> dict:
    db = bind(db_url)
    try:
        rows = list(BillingChunk.select(BillingChunk.status, BillingChunk.worker).tuples())
    finally:
        db.close()
    return {"statuses": {status for status, _ in rows}, "workers": {w for _, w in rows},
            "chunks": len(rows)}


def test_three_workers_bill_like_one(pg_url):
    shared, single = pg_url(), pg_url()
    build_host(shared)
    build_host(single)

    three = cron(shared, "--workers", "3", env={"HOSTDESK_BATCH_SIZE": "4"})  # 4 clients a chunk
    out, err = three.communicate(timeout=300)
    assert three.returncode == 0, err
    report = json.loads(out)["tasks"]["invoices"]
    assert report["done"] == CLIENTS and report["details"]["workers"] == 3
    assert report["details"]["lines"] == CLIENTS * SERVICES_PER_CLIENT

    one = cron(single, env={"HOSTDESK_BATCH_SIZE": "4"})
    assert one.communicate(timeout=300) and one.returncode == 0

    assert state(shared) == state(single)
    chunks = chunk_workers(shared)
    assert chunks["statuses"] == {"done"} and chunks["chunks"] == CLIENTS // 4
    assert len(chunks["workers"]) >= 2, "the helpers billed nothing: the run was not shared"


def test_a_claimed_chunk_is_skipped_and_a_dead_workers_chunk_is_billed_later(pg_url):
    url = pg_url()
    build_host(url)
    bind(url)
    settings = Settings(batch_size=200)  # 200 clients a chunk: 3 chunks
    with database.atomic():
        run = CronRun.create(run_date=DUE, holder="test")
    assert renewals.plan_billing_chunks(run.id, DUE, settings) == 3

    claimed, release = threading.Event(), threading.Event()

    def dying_worker():
        """Claims the first chunk, bills it, and dies before committing."""
        try:
            with database.atomic():
                chunk = renewals._claim_chunk(run.id)
                renewals._bill_with_retries(json.loads(chunk.client_ids),
                                            renewals._BillingJob(DUE, settings, SYSTEM_ADMIN, False))
                claimed.set()
                release.wait(30)
                raise RuntimeError("killed")
        except RuntimeError:
            pass
        finally:
            database.close()

    thread = threading.Thread(target=dying_worker)
    thread.start()
    assert claimed.wait(30)
    share = renewals.bill_pending_chunks(run.id, DUE, settings, worker="second")
    assert share.invoices == 2 * 200  # skipped the locked chunk, did not wait for it
    release.set()
    thread.join(30)

    assert Invoice.select().count() == 400  # the dead worker's invoices rolled back
    later = renewals.bill_pending_chunks(run.id, DUE, settings, worker="third")
    assert later.invoices == 200
    total = renewals.billing_totals(run.id)
    assert (total.invoices, total.lines, total.failures) == (CLIENTS, CLIENTS * SERVICES_PER_CLIENT, [])
    assert Invoice.select().count() == CLIENTS
    database.close()


def test_join_helps_a_run_in_progress_and_says_when_there_is_none(pg_url):
    url = pg_url()
    build_host(url)
    nothing = subprocess.run([HOSTDESK, "--db", url, "cron", "--join"], capture_output=True,
                             text=True, timeout=60)
    assert nothing.returncode == 0, nothing.stderr
    assert "no daily run in progress" in nothing.stdout

    bind(url)
    with database.atomic():
        run = CronRun.create(run_date=DUE, holder="another machine")
    renewals.plan_billing_chunks(run.id, DUE, Settings(batch_size=100))
    database.close()
    joined = subprocess.run([HOSTDESK, "--db", url, "cron", "--join", "--no-email"],
                            capture_output=True, text=True, timeout=120)
    assert joined.returncode == 0, joined.stderr
    assert f"helped daily run #{run.id}: {CLIENTS} invoices" in joined.stdout
    assert chunk_workers(url)["statuses"] == {"done"}


def test_more_than_one_worker_on_sqlite_is_refused_before_anything_is_written(tmp_path, sqlite_template):
    import shutil

    path = tmp_path / "one.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    bind(url)
    with pytest.raises(ValidationError) as refused:
        run_daily(Settings(), Clock("UTC", pendulum.date(2026, 6, 1)), workers=2, database_url=url)
    assert refused.value.field == "workers" and "PostgreSQL" in str(refused.value)
    assert CronRun.select().count() == 0
    with pytest.raises(ValidationError) as refused:
        run_daily(Settings(), Clock("UTC", pendulum.date(2026, 6, 1)), workers=0, database_url=url)
    assert refused.value.field == "workers"
    database.close()

    cli = subprocess.run([HOSTDESK, "--db", url, "cron", "--workers", "4"], capture_output=True,
                         text=True, timeout=60)
    assert cli.returncode != 0 and "workers" in cli.stderr and "PostgreSQL" in cli.stderr
