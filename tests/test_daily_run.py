"""Scenarios of the daily run on a fixed calendar (rules §4, §5, §10, §11).

Every scenario runs the day twice: the second run must find nothing new (the Kill Bill pattern).
"""

from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.cron import run_daily
from hostdesk.models import cancellations, invoicing
from hostdesk.models.clock import Clock
from hostdesk.models.overdue import REMINDER_TEMPLATES
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    EmailOutbox,
    Invoice,
    ModuleJob,
    Service,
    ServiceAddon,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
NDD = pendulum.date(2026, 3, 15)
# No mail server: delivery fails and is retried later. A handful of services, so any one
# termination is a large share: the termination guard is tested in test_run_safety.py.
SETTINGS = Settings(smtp_port=1, terminate_guard_percent=100)


@pytest.fixture(autouse=True)
def tester(db):
    Admin.create(login="tester", role="full")


def day(d, settings=SETTINGS, **kw):
    """Run the daily run for day `d` twice; return the first report, checking the second is empty."""
    first = run_daily(settings, Clock("UTC", d), **kw)
    again = run_daily(settings, Clock("UTC", d), **kw)
    for name, result in again.tasks.items():
        if name in ("email", "module_queue", "maintenance"):
            continue  # retries follow their own backoff; maintenance changes no record
        assert result["done"] == 0, f"second run on {d} did {name} again: {result}"
    return first


def done(report, task):
    return report.tasks[task]["done"]


def status(service):
    return Service.get_by_id(service.id).status


def pay(invoice, on):
    invoicing.record_payment(invoice.id, str(invoice.total - invoice.amount_paid), date=on,
                             method="card", admin=as_login("tester"))


def test_renewal_invoice_generated_invoice_days_before_ndd(db):
    make.service(next_due_date=NDD)
    assert done(day(NDD.subtract(days=15)), "invoices") == 0
    assert done(day(NDD.subtract(days=14)), "invoices") == 1
    assert Invoice.get().due_date == NDD


def test_overdue_suspension_override_and_unsuspension_on_payment(db):
    plain = make.service(next_due_date=NDD)
    until = make.service(next_due_date=NDD, override_suspend=True,
                         override_suspend_until=NDD.add(days=10))
    never = make.service(next_due_date=NDD, override_suspend=True, override_suspend_until=None)
    day(NDD.subtract(days=14))
    assert done(day(NDD.add(days=4)), "suspensions") == 0
    report = day(NDD.add(days=5))
    assert done(report, "suspensions") == 1
    assert (status(plain), status(until), status(never)) == ("suspended", "active", "active")
    assert Service.get_by_id(plain.id).suspension_reason == invoicing.OVERDUE_REASON
    day(NDD.add(days=11))  # the override date has passed
    assert (status(until), status(never)) == ("suspended", "active")
    pay(Invoice.get(Invoice.client == plain.client_id), NDD.add(days=12))
    report = day(NDD.add(days=12))
    assert done(report, "module_queue") == 1
    assert status(plain) == "active"


def test_custom_suspension_reason_stays_suspended_after_payment(db):
    service = make.service(next_due_date=NDD, status="suspended", suspension_reason="Abuse")
    day(NDD.subtract(days=14))
    pay(Invoice.get(), NDD)
    day(NDD.add(days=1))
    assert status(service) == "suspended"
    assert ModuleJob.select().count() == 0


def test_overdue_termination_at_terminate_days(db):
    service = make.service(next_due_date=NDD)
    backups = make.addon(service)
    day(NDD.subtract(days=14))
    assert done(day(NDD.add(days=29)), "terminations") == 0
    assert status(service) == "suspended"
    assert done(day(NDD.add(days=30)), "terminations") == 1
    assert status(service) == "terminated"
    assert ServiceAddon.get_by_id(backups.id).status == "cancelled"


def test_switched_off_suspension_and_termination(db):
    service = make.service(next_due_date=NDD)
    settings = replace(SETTINGS, suspend_enabled=False, terminate_enabled=False)
    day(NDD.subtract(days=14), settings)
    day(NDD.add(days=40), settings)
    assert status(service) == "active"


def test_immediate_cancellation_at_next_run_with_addons(db):
    service = make.service(next_due_date=NDD)
    addon = make.addon(service)
    day(NDD.subtract(days=14))
    request = cancellations.request_cancellation(service.id, "immediate", "closing shop",
                                                 admin=find_admin("tester"))
    assert Invoice.get().status == "cancelled"  # its unpaid lines were cancelled
    assert done(day(NDD.subtract(days=13)), "cancellations") == 1
    assert status(service) == "cancelled"
    assert ServiceAddon.get_by_id(addon.id).status == "cancelled"
    assert CancellationRequest.get_by_id(request.id).status == "completed"


def test_end_of_period_cancellation_on_its_ndd(db):
    service = make.service(next_due_date=NDD)
    cancellations.request_cancellation(service.id, "end_of_period", "too expensive",
                                       admin=find_admin("tester"))
    assert done(day(NDD.subtract(days=14)), "invoices") == 0  # no renewal for it
    assert done(day(NDD.subtract(days=1)), "cancellations") == 0
    assert status(service) == "active"
    assert done(day(NDD), "cancellations") == 1
    assert status(service) == "cancelled"


def test_cancellation_processing_can_be_switched_off(db):
    service = make.service(next_due_date=NDD)
    cancellations.request_cancellation(service.id, "immediate", "bye",
                                       admin=find_admin("tester"))
    day(NDD, replace(SETTINGS, process_cancellations=False))
    assert status(service) == "active"


def test_admin_auto_terminate_at_end_of_cycle(db):
    service = make.service(next_due_date=NDD)
    day(NDD.subtract(days=14))
    cancellations.set_auto_terminate(service.id, True, "customer asked", find_admin("tester"))
    assert Invoice.get().status == "cancelled"
    day(NDD.subtract(days=1))
    assert status(service) == "active"
    day(NDD)
    assert status(service) == "terminated"


def test_the_services_to_auto_terminate_are_found_through_their_own_index(db, monkeypatch):
    """A few ticked services of a million are found through (auto_terminate_end_of_cycle,
    id) (migration 0028), not by reading every service due by today."""
    from hostdesk.models.db import is_sqlite
    from hostdesk.models.schema import Service

    ticked = make.service(next_due_date=NDD)
    make.service(next_due_date=NDD)
    Service.update(auto_terminate_end_of_cycle=True).where(Service.id == ticked.id).execute()
    statements, execute = [], type(db).execute_sql
    monkeypatch.setattr(type(db), "execute_sql", lambda self, sql, params=None, *a, **k: (
        statements.append((sql, params)), execute(self, sql, params, *a, **k))[1])
    assert [s.id for s in cancellations.due_auto_terminations(NDD)] == [ticked.id]
    monkeypatch.undo()
    if is_sqlite(db):  # PostgreSQL rightly reads a table this small whole
        (sql, params), = statements
        plan = " ".join(row[3] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "service_auto_terminate_id" in plan and "TEMP B-TREE" not in plan, plan


def test_a_chunks_addons_are_found_through_its_services_not_a_scan_of_every_addon(db):
    """The billing candidates' addons: each due addon of the chunk's clients comes back with
    its service's client, and nothing else. On PostgreSQL each service's addons are looked
    up (a nested loop): even when the planner is told to avoid nested loops, it must not
    turn the query into a join over every addon of the table."""
    from hostdesk.models.db import is_postgres
    from hostdesk.models.renewals import AddonRow, _addons_query

    service, other = make.service(next_due_date=NDD), make.service(next_due_date=NDD)
    due, later = make.addon(service, next_due_date=NDD), make.addon(service, next_due_date=NDD.add(months=1))
    make.addon(other, next_due_date=NDD)  # another client's
    rows = [AddonRow._make(row) for row in db.execute(_addons_query(NDD, [service.client_id]))]
    assert [(row.id, row.service, row.client_id_) for row in rows] == [(due.id, service.id,
                                                                       service.client_id)]
    assert later.id not in [row.id for row in rows]
    if is_postgres(db):
        with db.atomic():
            db.execute_sql("SET LOCAL enable_nestloop = off")
            sql, params = _addons_query(NDD, [service.client_id]).sql()
            plan = " ".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params))
        assert "Nested Loop" in plan and "Hash Join" not in plan and "Merge Join" not in plan, plan


def test_fixed_term_product_terminates_after_its_days(db):
    trial = make.product(auto_terminate_days=30)
    service = make.service(product_row=trial, registration_date=pendulum.date(2026, 3, 1),
                           next_due_date=pendulum.date(2026, 4, 1), recurring_amount=D("0.00"))
    day(pendulum.date(2026, 3, 30))
    assert status(service) == "active"
    assert done(day(pendulum.date(2026, 3, 31)), "fixed_term") == 1
    assert status(service) == "terminated"


def test_reminders_sent_once_each(db):
    make.service(next_due_date=NDD)
    day(NDD.subtract(days=14))
    templates = lambda: sorted(e.template for e in EmailOutbox.select().where(  # noqa: E731
        EmailOutbox.template.in_(REMINDER_TEMPLATES)))
    day(NDD.subtract(days=8))
    assert templates() == []
    day(NDD.subtract(days=7))
    assert templates() == ["invoice_reminder"]
    day(NDD.add(days=1))
    day(NDD.add(days=2))
    assert templates() == ["invoice_reminder", "overdue_reminder_1"]
    day(NDD.add(days=14))
    assert templates() == ["invoice_reminder", "overdue_reminder_1", "overdue_reminder_3"]


def test_reminders_page_through_unpaid_invoices_by_due_date_from_an_index(db, monkeypatch):
    """The reminders read unpaid invoices a page at a time in (due date, id) order from the
    (status, due_date, id) index, not by walking every invoice ever written; a paid invoice
    gets no reminder and every unpaid one gets one, across pages."""
    from hostdesk.models import overdue
    from hostdesk.models.db import is_sqlite

    unpaid = [make.service(next_due_date=NDD.add(days=n % 3)) for n in range(5)]
    paid = make.service(next_due_date=NDD)
    day(NDD.subtract(days=12))
    pay(Invoice.get(Invoice.client == paid.client_id), NDD.subtract(days=10))
    statements, execute = [], type(db).execute_sql
    monkeypatch.setattr(type(db), "execute_sql", lambda self, sql, params=None, *a, **k: (
        statements.append((sql, params)), execute(self, sql, params, *a, **k))[1])
    found, after, pages = [], None, 0
    while True:
        queued, after = overdue.queue_reminders(NDD.subtract(days=1), SETTINGS, dry_run=True,
                                                after=after, limit=2, found=found)
        if after is None:
            break
        pages += 1
    monkeypatch.undo()
    expected = sorted((Invoice.get(Invoice.client == s.client_id).due_date,
                       Invoice.get(Invoice.client == s.client_id).id) for s in unpaid)
    assert pages == 3
    assert [int(f.split("#")[1].split(" ")[0]) for f in found] == [i for _, i in expected]
    sql, params = next((sql, params) for sql, params in statements if 'FROM "invoice"' in sql)
    if is_sqlite(db):
        plan = " ".join(row[3] for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params))
    else:
        with db.atomic():
            db.execute_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params))
    assert "invoice_status_due_date_id" in plan and "TEMP B-TREE" not in plan, plan
    assert "Sort" not in plan, plan


def test_dry_run_reports_the_counts_of_the_real_run_and_changes_nothing(db):
    for i in range(4):
        make.service(next_due_date=NDD)
    overdue = make.service(next_due_date=NDD.subtract(months=1))
    invoicing.create_invoice(
        overdue.client_id,
        [invoicing.renewal_line_spec("service", overdue, overdue.next_due_date, "Hosting")],
        date=NDD.subtract(months=1), due_date=overdue.next_due_date, payment_method="card",
        admin=as_login("t"))
    dry = run_daily(SETTINGS, Clock("UTC", NDD), dry_run=True)
    assert Invoice.select().count() == 1 and status(overdue) == "active"
    real = run_daily(SETTINGS, Clock("UTC", NDD))
    for task in ("invoices", "reminders", "suspensions", "terminations", "cancellations"):
        assert done(dry, task) == done(real, task), task
    assert done(real, "invoices") == 4 and done(real, "suspensions") == 1


def test_maintenance_tidies_the_search_index_on_sundays(db):
    from hostdesk.models.db import is_sqlite

    saturday, sunday = pendulum.date(2026, 11, 28), pendulum.date(2026, 11, 29)
    saturday_run = run_daily(SETTINGS, Clock("UTC", saturday)).tasks["maintenance"]
    sunday_run = run_daily(SETTINGS, Clock("UTC", sunday)).tasks["maintenance"]
    assert saturday_run["done"] == sunday_run["done"] == 1 and not saturday_run["failures"]
    if is_sqlite(db):
        assert saturday_run["details"]["search_index_steps"] == 0
        assert sunday_run["details"]["search_index_steps"] > 0
    else:  # nothing was billed: the invoice tables are not sampled again
        assert "invoice" not in sunday_run["details"]["analyzed"]
        assert "product" not in sunday_run["details"]["analyzed"]


def test_maintenance_keeps_planner_statistics_from_a_sample(db):
    """SQLite's planner statistics are refreshed every day (PRAGMA optimize), from a sample
    of each index so that a million-row table costs milliseconds, not seconds."""
    from hostdesk.models.db import database, is_sqlite

    if not is_sqlite(db):
        _postgres_analyses_only_what_was_written()
        return
    for _ in range(30):
        make.service(next_due_date=NDD)
    run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14)))
    analysed = {table for table, in database.execute_sql("SELECT tbl FROM sqlite_stat1")}
    assert {"service", "invoice", "invoice_line"} <= analysed
    assert database.execute_sql("PRAGMA analysis_limit").fetchone()[0] == 1000


def _postgres_analyses_only_what_was_written():
    """PostgreSQL: ANALYZE of the tables the run (or anyone) changed since their last
    analysis, not of the whole database: an untouched large table is not sampled again."""
    from hostdesk.models.db import database

    for _ in range(30):
        make.service(next_due_date=NDD)
    # The server learns of a session's writes when it next idles: first make it learn of
    # these, then analyse, so that from here on only what changes needs analysing.
    database.execute_sql("SELECT pg_stat_force_next_flush()")
    database.execute_sql("SELECT 1")
    database.execute_sql("ANALYZE")
    analysed = run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14))).tasks[
        "maintenance"]["details"]["analyzed"]
    assert {"invoice", "invoice_line", "activity_log"} <= set(analysed)
    assert "service" not in analysed and "product" not in analysed  # read, not written
    last = dict(database.execute_sql(
        "SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN "
        "('invoice', 'product')").fetchall())
    assert last["invoice"] is not None and last["invoice"] > last["product"]
    # The next day adds one invoice to thirty: under a tenth of the table, which autovacuum
    # would not analyse either, so the run does not sample it again.
    make.service(next_due_date=NDD.add(days=1))
    next_day = run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=13))).tasks
    assert next_day["invoices"]["done"] == 1
    assert "invoice" not in next_day["maintenance"]["details"]["analyzed"]
