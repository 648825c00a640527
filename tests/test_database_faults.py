"""The database refusing writes (full disk, read-only file) mid-work: a clear error, nothing
half-written, and the work can be redone once the fault is gone (issue 9)."""

from decimal import Decimal

import pendulum
import pytest
from peewee import OperationalError

from hostdesk.automation.cron import run_daily
from hostdesk.models import invoicing
from hostdesk.models.clock import Clock
from hostdesk.models.db import bind
from hostdesk.models.schema import Invoice, InvoiceLine, Payment, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

NDD = pendulum.date(2026, 3, 15)


@pytest.fixture
def sqlite_db(sqlite_template, tmp_path):
    import shutil

    path = tmp_path / "faults.db"
    shutil.copy(sqlite_template, path)
    db = bind(f"sqlite:///{path}")
    db.connect()
    make.ensure_template("invoice_created")
    make.admin("t", role="full")
    yield db
    db.close()


def test_a_read_only_database_refuses_a_payment_and_keeps_the_invoice_as_it_was(sqlite_db):
    service = make.service(next_due_date=NDD)
    invoice = invoicing.create_invoice(
        service.client_id, [invoicing.renewal_line_spec("service", service, NDD, "Hosting")],
        date=NDD, due_date=NDD, payment_method="card", admin=as_login("t"))
    sqlite_db.execute_sql("PRAGMA query_only = 1")  # as if the file had become read-only
    with pytest.raises(OperationalError, match="readonly"):
        invoicing.record_payment(invoice.id, "10.00", date=NDD, method="card", admin=as_login("t"))
    sqlite_db.execute_sql("PRAGMA query_only = 0")
    assert Payment.select().count() == 0
    assert Invoice.get_by_id(invoice.id).status == "unpaid"
    assert Service.get_by_id(service.id).next_due_date == NDD
    invoicing.record_payment(invoice.id, "10.00", date=NDD, method="card", admin=as_login("t"))
    assert Service.get_by_id(service.id).next_due_date == NDD.add(months=1)


def test_a_full_disk_during_the_daily_run_leaves_whole_invoices_and_a_rerun_finishes(sqlite_db):
    for i in range(300):
        client = make.client()
        make.service(client, next_due_date=NDD, recurring_amount=Decimal("10.00"),
                     domain=f"full-{i}.example.com" + "x" * 150)
    pages = sqlite_db.execute_sql("PRAGMA page_count").fetchone()[0]
    sqlite_db.execute_sql(f"PRAGMA max_page_count = {pages + 12}")  # the disk fills up soon
    settings = Settings(batch_size=40)
    report = run_daily(settings, Clock("UTC", NDD))
    failures = report.tasks["invoices"]["failures"]
    assert not report.ok and failures
    assert any("full" in f["error"] for f in failures)
    billed = Invoice.select().count()
    assert 0 < billed < 300
    for invoice in Invoice.select():  # every invoice written is whole
        lines = [l.amount for l in InvoiceLine.select().where(InvoiceLine.invoice == invoice.id)]
        assert lines and invoice.total == sum(lines, Decimal("0.00"))
    sqlite_db.execute_sql("PRAGMA max_page_count = 1073741823")  # space freed
    again = run_daily(settings, Clock("UTC", NDD))
    assert again.tasks["invoices"]["failures"] == []
    assert Invoice.select().count() == 300
    assert InvoiceLine.select().count() == 300
