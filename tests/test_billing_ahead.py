"""The daily run's invoicing with each next chunk of clients read and planned on a second thread
while the current one is written (`models.work_ahead`): the same end state as planning inline,
on both engines and both paths (one process, claimed chunks); a chunk that cannot be written
or planned fails alone; a plan another connection's commit may have missed is made again."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal as D
from itertools import count

import pendulum
import psycopg2
import pytest
from peewee import DateTimeField, OperationalError

from hostdesk.automation import daily_tasks
from hostdesk.automation.cron import run_daily
from hostdesk.models import renewals, work_ahead
from hostdesk.models.clock import Clock
from hostdesk.models.db import RUN_RANDOM_PAGE_COST, bind, database, sqlite_path_from_url
from hostdesk.models.permissions import SYSTEM_ADMIN
from hostdesk.models.schema import (
    ActivityLog,
    BillingChunk,
    CronRun,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    Promotion,
    Service,
)
from hostdesk.models.settings import Settings
from hostdesk.models.work_ahead import PLANNER_MODULE, WorkAhead
from tests import factories as make
from tests.children import living_children

TODAY = pendulum.date(2026, 3, 1)
NEXT_MONTH = TODAY.add(months=1)
SETTINGS = Settings(batch_size=3)  # three clients a chunk: five chunks
CLIENTS = 13


def build(monkeypatch) -> list[int]:
    """The same clients, services, addons, domains and promotion in every database."""
    monkeypatch.setattr(make, "_seq", count(1))
    plan = make.product(prices={"monthly": "10.00", "annually": "100.00"})
    promotion = Promotion.create(code="TWICE", type="percentage", value=D("10"), recurring=True,
                                 recur_for=1)
    ids = []
    for number in range(CLIENTS):
        client = make.client(separate_invoices=number == 4)
        ids.append(client.id)
        due = TODAY.add(days=number % 5)
        service = make.service(client, plan, next_due_date=due,
                               recurring_amount=D("10.00") + number,
                               promotion=promotion if number == 7 else None)
        if number % 3 == 0:
            make.addon(service, recurring_amount=D("2.50"))
        if number % 4 == 0:
            make.domain(client, next_due_date=due, name=service.domain)
        if number == 9:  # a period that starts off its anchor day: prorated
            make.service(client, plan, next_due_date=due, anchor_day=20)
        if number == 10:
            make.service(client, plan, next_due_date=due, billing_cycle="annually",
                         recurring_amount=D("100.00"))
    return ids


def state() -> dict:
    """Every row the invoicing writes, timestamps left out."""
    def rows(model):
        fields = [f for f in model._meta.sorted_fields if not isinstance(f, DateTimeField)
                  and f.name not in ("created_at", "at", "sent_at")]
        return list(model.select(*fields).order_by(model.id).tuples())

    return {"invoices": rows(Invoice), "lines": rows(InvoiceLine), "emails": rows(EmailOutbox),
            "activity": rows(ActivityLog), "services": rows(Service)}


def planning_processes() -> list[int]:
    """The pids of this process's living planning processes (`python -m` PLANNER_MODULE)."""
    return living_children(PLANNER_MODULE)


def ahead_threads() -> int:
    """The planning processes running."""
    return len(planning_processes())


def claimed_run(day=TODAY) -> int:
    """A daily run of `day` with its five chunks of clients, pending."""
    with database.atomic():
        run = CronRun.create(run_date=day, holder="test")
    assert renewals.plan_billing_chunks(run.id, day, SETTINGS) == 5
    return run.id


def bill_two_days(path: str) -> tuple[list, list]:
    """Bill today and a month later (history: billed and unpaid periods) by `path`; the number
    of planning threads seen after each chunk, and the failures."""
    seen, failures = [], []
    for day in (TODAY, NEXT_MONTH):
        if path == "one process":
            result = renewals.generate_due_invoices(
                day, SETTINGS, admin=SYSTEM_ADMIN,
                progress=lambda done, total: seen.append(ahead_threads()))
        else:
            result = renewals.bill_pending_chunks(
                claimed_run(day), day, SETTINGS, worker="test",
                progress=lambda done, total: seen.append(ahead_threads()))
        failures += result.failures
        # Half the invoices paid: those items bill on, the others wait (standard mode).
        even = [row[0] for row in Invoice.select(Invoice.id).tuples() if row[0] % 2 == 0]
        Invoice.update(status="paid", amount_paid=Invoice.total).where(Invoice.id.in_(even)).execute()
    return seen, failures


@pytest.mark.parametrize("path", ["one process", "claimed chunks"])
def test_planning_ahead_reaches_the_same_end_state_as_planning_inline(
        db, new_database_url, monkeypatch, path):
    build(monkeypatch)
    seen, failures = bill_two_days(path)
    ahead = state()
    assert failures == [] and max(seen) == 1, "the chunks were not planned on a second thread"
    assert len(ahead["invoices"]) > CLIENTS + 3 and ahead["emails"] and ahead["activity"]

    plain = bind(new_database_url())
    try:
        plain.connect()
        monkeypatch.setattr(renewals, "can_work_ahead", lambda: False)
        build(monkeypatch)
        seen, failures = bill_two_days(path)
        assert failures == [] and max(seen) == 0
        assert state() == ahead
    finally:
        plain.close()


def refuse_invoices_of(engine: str, client_id: int) -> None:
    """A database trigger that refuses this client's invoices (an integrity error)."""
    if engine == "sqlite":
        database.execute_sql(f"CREATE TRIGGER refuse_one BEFORE INSERT ON invoice "
                             f"WHEN NEW.client_id = {client_id} "
                             "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        return
    database.execute_sql(f"""CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN
        IF NEW.client_id = {client_id} THEN
            RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation';
        END IF; RETURN NEW; END $$ LANGUAGE plpgsql""")
    database.execute_sql("CREATE TRIGGER refuse_one BEFORE INSERT ON invoice "
                         "FOR EACH ROW EXECUTE FUNCTION refuse_one()")


def test_a_chunk_that_cannot_be_written_fails_alone(db, engine, monkeypatch):
    clients = build(monkeypatch)
    refuse_invoices_of(engine, clients[7])  # in the third chunk, planned ahead
    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    assert [f["item"] for f in result.failures] == [f"clients {clients[6]}–{clients[8]}"]
    assert "refused by the test" in result.failures[0]["error"]
    billed = {row[0] for row in Invoice.select(Invoice.client).tuples()}
    assert billed == set(clients) - set(clients[6:9])


@pytest.mark.parametrize("chunk", [0, 3])  # planned inline, planned ahead
def test_a_chunk_that_cannot_be_planned_is_that_chunks_failure(db, monkeypatch, chunk):
    clients = build(monkeypatch)
    broken = clients[3 * chunk + 1]
    Service.update(billing_cycle="fortnightly").where(Service.client == broken).execute()
    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    chunk_clients = clients[3 * chunk:3 * chunk + 3]
    assert [f["item"] for f in result.failures] == [f"clients {chunk_clients[0]}–{chunk_clients[-1]}"]
    assert "fortnightly" in result.failures[0]["error"]
    billed = {row[0] for row in Invoice.select(Invoice.client).tuples()}
    assert billed == set(clients) - set(chunk_clients)
    assert ahead_threads() == 0  # the planning thread ended with the run


def test_a_commit_of_another_connection_sends_the_plan_back(db, engine, db_url, monkeypatch):
    if engine != "sqlite":
        pytest.skip("PostgreSQL plans at READ COMMITTED, ahead or inline (models.work_ahead)")
    clients = build(monkeypatch)
    other = sqlite3.connect(sqlite_path_from_url(db_url))

    def other_commits(sql: str) -> None:
        other.execute(sql)
        other.commit()

    with WorkAhead(len) as planner:
        planner.start("a", "four")
        ahead = planner.take("a")
        ahead.wait()
        with database.atomic():
            Service.update(version=Service.version + 1).execute()  # this connection's commits change nothing
        with database.atomic():
            assert ahead.current() and ahead.result() == 4
        other_commits("UPDATE service SET version = version + 1")
        with database.atomic():
            assert not ahead.current()

    # Cancelled by an admin after the third chunk was planned: that plan is made again.
    cancelled = Service.get(Service.client == clients[7]).id

    def after_chunk(done, total):
        if done == 6:  # the third chunk was planned while the second was written
            other_commits(f"UPDATE service SET status = 'cancelled' WHERE id = {cancelled}")

    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN,
                                            progress=after_chunk)
    other.close()
    assert result.failures == []
    assert not InvoiceLine.select().where((InvoiceLine.item_type == "service")
                                          & (InvoiceLine.item_id == cancelled)).exists()
    assert Invoice.select().where(Invoice.client == clients[8]).exists()


def chunk_statuses(run_id: int) -> list[str]:
    return [row[0] for row in BillingChunk.select(BillingChunk.status)
            .where(BillingChunk.run == run_id).order_by(BillingChunk.id).tuples()]


def test_a_database_error_keeps_the_chunks_billed_before_it_and_leaves_the_rest_pending(
        db, monkeypatch):
    clients = build(monkeypatch)
    run_id = claimed_run()
    bill = renewals._bill_with_retries
    chunks = count(1)

    def the_disk_fills_on_the_third(client_ids, *args, **kwargs):
        if next(chunks) == 3:
            raise OperationalError("database or disk is full")
        return bill(client_ids, *args, **kwargs)

    monkeypatch.setattr(renewals, "_bill_with_retries", the_disk_fills_on_the_third)
    result = renewals.bill_pending_chunks(run_id, TODAY, SETTINGS, worker="test")
    assert [f["error"] for f in result.failures] == ["stopped billing: database or disk is full"]
    assert chunk_statuses(run_id) == ["done", "done", "pending", "pending", "pending"]
    assert {row[0] for row in Invoice.select(Invoice.client).tuples()} == set(clients[:6])


def test_a_run_inside_the_callers_transaction_plans_inline(db, monkeypatch):
    """A second connection would not see the caller's uncommitted rows."""
    with database.atomic():
        clients = build(monkeypatch)
        seen = []
        result = renewals.generate_due_invoices(
            TODAY, SETTINGS, admin=SYSTEM_ADMIN,
            progress=lambda done, total: seen.append(ahead_threads()))
    assert result.failures == [] and len(seen) == 5 and max(seen) == 0
    assert {row[0] for row in Invoice.select(Invoice.client).tuples()} == set(clients)


def test_a_planning_process_that_dies_leaves_its_chunks_to_be_planned_inline(db, monkeypatch):
    clients = build(monkeypatch)

    def kill_the_planner(done, total):
        if done == 3:
            for pid in planning_processes():
                os.kill(pid, signal.SIGKILL)

    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN,
                                            progress=kill_the_planner)
    assert result.failures == []
    assert {row[0] for row in Invoice.select(Invoice.client).tuples()} == set(clients)


def test_a_script_of_ones_own_bills_ahead_without_a_main_guard(db, db_url, monkeypatch, tmp_path):
    """The planning process is `python -m` PLANNER_MODULE: it never runs the caller's main
    script again (a script without `if __name__ == "__main__":` would bill twice or fail)."""
    clients = build(monkeypatch)
    runs = tmp_path / "runs.txt"
    script = tmp_path / "nightly.py"
    script.write_text(
        "import pendulum\n"
        "from hostdesk.models import renewals\n"
        "from hostdesk.models.db import bind\n"
        "from hostdesk.models.permissions import SYSTEM_ADMIN\n"
        "from hostdesk.models.settings import Settings\n"
        f"open({str(runs)!r}, 'a').write('started\\n')\n"
        f"bind({db_url!r})\n"
        f"result = renewals.generate_due_invoices(pendulum.date({TODAY.year}, {TODAY.month}, {TODAY.day}),"
        f" Settings(batch_size={SETTINGS.batch_size}), admin=SYSTEM_ADMIN,\n"
        f"    progress=lambda done, total: open({str(runs)!r}, 'a').write(f'chunk {{done}}\\n'))\n"
        "print('FAILURES', result.failures)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "FAILURES []"
    lines = runs.read_text().splitlines()
    assert lines.count("started") == 1 and len(lines) > 2  # one run, several chunks
    assert {row[0] for row in Invoice.select(Invoice.client).tuples()} == set(clients)


def count_renders_here(monkeypatch) -> list:
    """The invoice emails rendered in this (the writing) process, one entry per chunk, while
    the planning process is asked to render every chunk's (however long the writer waits)."""
    planning_next = renewals._planning_next
    monkeypatch.setattr(renewals, "_planning_next",
                        lambda planner, key, ids, writer_renders: planning_next(
                            planner, key, ids, writer_renders=False))
    rendered = []
    render = renewals._render_invoice_emails

    def counted(prepared, ids, *args):
        rendered.append(ids[0])
        return render(prepared, ids, *args)

    monkeypatch.setattr(renewals, "_render_invoice_emails", counted)
    return rendered


def invoice_emails_name_their_invoices() -> None:
    emails = list(EmailOutbox.select().where(EmailOutbox.template == "invoice_created"))
    invoices = {i.id: i for i in Invoice.select()}
    assert emails and len(emails) == sum(1 for i in invoices.values() if i.notes != "by hand")
    for email in emails:
        invoice = invoices[email.related_id]
        assert email.client_id == invoice.client_id
        assert email.subject == f"Invoice #{invoice.id} created"
        assert f"#{invoice.id}" in email.body and str(invoice.total) in email.body


def test_the_emails_of_a_chunk_planned_ahead_are_rendered_ahead(db, monkeypatch):
    build(monkeypatch)
    rendered = count_renders_here(monkeypatch)
    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    assert result.failures == [] and len(result.invoice_ids) > 5
    assert rendered == [min(result.invoice_ids)]  # the first chunk's, planned here
    invoice_emails_name_their_invoices()


@pytest.mark.parametrize("shared", [False, True])
def test_a_run_shared_with_other_workers_renders_no_email_ahead(db, monkeypatch, shared):
    """Other workers take invoice ids the planning process cannot foresee: emails rendered
    ahead for the ids this worker expects would be rendered again when it writes them."""
    build(monkeypatch)
    run_id = claimed_run()
    asked = []
    start, wait = WorkAhead.start, WorkAhead.wait

    def recorded(planner, key, client_ids, first_id):
        asked.append(first_id)
        return start(planner, key, client_ids, first_id)

    monkeypatch.setattr(WorkAhead, "start", recorded)
    monkeypatch.setattr(WorkAhead, "wait", lambda planner: wait(planner) and False)  # never slow
    result = renewals.bill_pending_chunks(run_id, TODAY, SETTINGS, worker="test", shared=shared)
    assert result.failures == [] and len(asked) == 4  # each chunk after the first planned ahead
    if shared:
        assert asked == [None] * 4
    else:
        assert None not in asked
    invoice_emails_name_their_invoices()


def test_an_invoice_made_meanwhile_elsewhere_leaves_every_email_naming_its_invoice(
        db, engine, db_url, monkeypatch):
    """Another connection's invoice takes the id the third chunk's emails were rendered for
    (PostgreSQL keeps that plan: its emails are rendered again; SQLite plans the chunk again)."""
    clients = build(monkeypatch)
    rendered = count_renders_here(monkeypatch)
    if engine == "sqlite":
        other = sqlite3.connect(sqlite_path_from_url(db_url))
    else:
        other = psycopg2.connect(db_url)

    def invoice_by_hand(done, total):
        if done == 6:  # the third chunk is planned, its first invoice id counted
            other.cursor().execute(
                "INSERT INTO invoice (client_id, status, date, due_date, payment_method, total, "
                "amount_paid, notes, created_at, version, currency) VALUES "
                f"({clients[0]}, 'unpaid', '2026-03-01', '2026-03-01', 'banktransfer', 500, 0, "
                f"'by hand', '2026-03-01 00:00:00', 1, 'USD')")
            other.commit()

    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN,
                                            progress=invoice_by_hand)
    other.close()
    assert result.failures == []
    assert len(rendered) == 2  # the first chunk's and the third's, again
    invoice_emails_name_their_invoices()


def test_the_writer_renders_the_next_chunks_emails_when_it_waited_for_this_chunks_plan(db):
    """The planning process renders a chunk's emails only while it keeps ahead of the writer:
    when the writer had to wait for a plan, it renders the next chunk's emails itself."""
    with WorkAhead(time.sleep) as planner:
        planner.start("slow", 0.3)
        assert planner.wait() is True  # the plan was not made yet
        planner.take("slow")
        planner.start("quick", 0)
        planner._ahead.result()
        assert planner.wait() is False

    with WorkAhead("{}|{}".format) as planner:
        renewals._planning_next(planner, "after a wait", [1, 2], writer_renders=True)(41)
        assert planner.take("after a wait").result() == "[1, 2]|None"
        renewals._planning_next(planner, "no wait", [3], writer_renders=False)(42)
        assert planner.take("no wait").result() == "[3]|42"


def random_page_cost() -> str:
    """The PostgreSQL planner cost of a random page read on this connection."""
    return database.execute_sql("SHOW random_page_cost").fetchone()[0]


def planners_random_page_cost() -> str:
    """The same on a connection opened as the planning process opens its own."""
    _, name, params = work_ahead._database_spec()
    with psycopg2.connect(dbname=name, **params) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        return cursor.fetchone()[0]


def test_the_daily_run_prices_random_reads_for_its_index_reads_in_every_process(
        db, engine, monkeypatch):
    if engine != "postgres":
        pytest.skip("a PostgreSQL planner cost")
    default = random_page_cost()
    seen = {}

    def probe(ctx):
        seen["run"], seen["planner"] = random_page_cost(), planners_random_page_cost()
        return daily_tasks.TaskResult()

    monkeypatch.setattr(daily_tasks, "TASKS", [("probe", probe)])
    run_daily(SETTINGS, Clock("UTC", TODAY), send_emails=False)
    assert seen == {"run": str(RUN_RANDOM_PAGE_COST), "planner": str(RUN_RANDOM_PAGE_COST)}
    assert random_page_cost() == default != str(RUN_RANDOM_PAGE_COST)


@pytest.mark.parametrize("items_a_chunk, started_early", [(4, True), (3000, False)])
def test_the_planning_process_starts_before_the_run_counts_its_chunks_when_many_are_due(
        db, monkeypatch, items_a_chunk, started_early):
    """More services due than one chunk holds: the planning process is started before the
    chunks are counted (it then is ready sooner); a day of fewer starts it only once it has
    more than one chunk to plan."""
    build(monkeypatch)
    monkeypatch.setattr(renewals, "CHUNK_ITEMS", items_a_chunk)
    seen = []
    plan_billing_chunks = renewals.plan_billing_chunks

    def counting(*args):
        seen.append(ahead_threads())
        return plan_billing_chunks(*args)

    monkeypatch.setattr(renewals, "plan_billing_chunks", counting)
    report = run_daily(SETTINGS, Clock("UTC", TODAY), send_emails=True)
    assert seen == [1 if started_early else 0]
    assert report.tasks["invoices"]["failures"] == [] and report.tasks["invoices"]["done"] > 5
    assert ahead_threads() == 0  # ended with the invoicing
    invoice_emails_name_their_invoices()


def test_invoices_whose_ids_no_sequence_owns_get_their_emails_rendered_at_the_write(
        db, engine, monkeypatch):
    """PostgreSQL: an invoice table whose id sequence is not owned by it (a hand-made
    schema) gives no guess of the next ids; the emails are rendered by the writer."""
    if engine != "postgres":
        pytest.skip("a PostgreSQL sequence")
    build(monkeypatch)
    database.execute_sql("ALTER SEQUENCE invoice_id_seq OWNED BY NONE")
    rendered = count_renders_here(monkeypatch)
    result = renewals.generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    assert result.failures == [] and len(rendered) == 5  # every chunk's, in the writer
    invoice_emails_name_their_invoices()
