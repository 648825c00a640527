"""NDD-change prorata invoices (rules §3) with the product manual's worked case."""

from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing
from hostdesk.models.cycles import DayBasis
from hostdesk.models.prorata import create_prorata_invoices, plan_prorata
from hostdesk.models.schema import Invoice, InvoiceLine, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
NEW = pendulum.date(2012, 1, 10)


@pytest.fixture(autouse=True)
def admin(db):
    """The admin paying and cancelling the invoices needs "manage invoices" (rules §12)."""
    return make.admin("t", role="full")


@pytest.mark.parametrize("basis,a,b,total", [
    (DayBasis.CALENDAR, "8.71", "9.68", "18.39"),
    (DayBasis.THIRTY_DAY, "9.00", "10.00", "19.00"),
])
def test_worked_case_one_invoice_ndds_move_only_when_paid(db, basis, a, b, total):
    make.ensure_template("invoice_created")
    client = make.client()
    product = make.product(name="Shared")
    sa = make.service(client, product, next_due_date=pendulum.date(2012, 1, 1),
                      recurring_amount=D("30.00"), domain="a.example")
    sb = make.service(client, product, next_due_date=pendulum.date(2012, 1, 5),
                      recurring_amount=D("60.00"), domain="b.example")
    settings = replace(Settings(), prorata_day_basis=basis)
    plan = plan_prorata([("service", sa.id, NEW), ("service", sb.id, NEW)], settings)
    assert [line.amount for line in plan.lines] == [D(a), D(b)]
    assert plan.total == D(total)
    assert plan.lines[0].label == "Shared - a.example (2012-01-01 – 2012-01-09)"
    [invoice_id] = create_prorata_invoices(plan, pendulum.date(2012, 1, 1), admin=as_login("t"))
    invoice = Invoice.get_by_id(invoice_id)
    assert invoice.total == D(total)
    assert [l.kind for l in InvoiceLine.select().where(InvoiceLine.invoice == invoice_id)] == [
        "prorata", "prorata"]
    assert Service.get_by_id(sa.id).next_due_date == pendulum.date(2012, 1, 1)  # not yet
    invoicing.record_payment(invoice_id, total, date=pendulum.date(2012, 1, 2), method="card",
                             admin=as_login("t"))
    assert Service.get_by_id(sa.id).next_due_date == NEW
    assert Service.get_by_id(sb.id).next_due_date == NEW


def test_cancelling_the_prorata_invoice_leaves_items_unchanged(db):
    make.ensure_template("invoice_created")
    service = make.service(next_due_date=pendulum.date(2012, 1, 1))
    plan = plan_prorata([("service", service.id, NEW)], Settings())
    [invoice_id] = create_prorata_invoices(plan, pendulum.date(2012, 1, 1), admin=as_login("t"))
    invoicing.cancel_invoice(invoice_id, as_login("t"))
    assert Service.get_by_id(service.id).next_due_date == pendulum.date(2012, 1, 1)


def test_items_that_cannot_be_prorated_are_refused_with_reasons(db):
    free = make.service(billing_cycle="free", next_due_date=None)
    later = make.service(next_due_date=pendulum.date(2012, 2, 1))
    plan = plan_prorata([("service", free.id, NEW), ("service", later.id, NEW),
                         ("service", 999999, NEW)], Settings())
    assert plan.lines == []
    assert [r[2] for r in plan.refused] == ["has no next due date",
                                            "the new date 2012-01-10 is not after the current 2012-02-01",
                                            "does not exist"]


def test_one_invoice_per_client(db):
    make.ensure_template("invoice_created")
    one, two = make.client(), make.client()
    items = [make.service(one, next_due_date=pendulum.date(2012, 1, 1)),
             make.service(one, next_due_date=pendulum.date(2012, 1, 2)),
             make.service(two, next_due_date=pendulum.date(2012, 1, 3))]
    plan = plan_prorata([("service", s.id, NEW) for s in items], Settings())
    ids = create_prorata_invoices(plan, pendulum.date(2012, 1, 1), admin=as_login("t"))
    assert sorted(Invoice.get_by_id(i).client_id for i in ids) == sorted([one.id, two.id])
