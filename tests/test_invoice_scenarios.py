"""Whole billing stories with a fixed "today", on both engines (rules §3, §4, §5, §7).

Each scenario walks the path an admin and the daily run take — order, invoice, payment,
renewal, upgrade — and checks that what must happen once happens exactly once.
"""

import multiprocessing
import time
from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing, upgrades
from hostdesk.models.cycles import DayBasis
from hostdesk.models.errors import RuleViolation
from hostdesk.models.orders import LineRequest, OrderRequest, place_order
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from hostdesk.models.prorata import create_prorata_invoices, plan_prorata
from hostdesk.models.renewals import generate_due_invoices
from hostdesk.models.schema import (
    Admin,
    Client,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Payment,
    Service,
    Upgrade,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
d = pendulum.date
SETTINGS = Settings()


@pytest.fixture(autouse=True)
def setup(db):
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")


def pay(invoice_id, ref, date, amount=None):
    invoice = Invoice.get_by_id(invoice_id)
    return invoicing.record_payment(invoice_id, amount or str(invoice.total), date=date,
                                    method="banktransfer", transaction_ref=ref,
                                    admin=as_login("boss"), today=date)


# --- order → invoice → pay → renewals, each period once ----------------------------------------


def test_order_invoice_pay_then_each_renewal_advances_the_ndd_once(db):
    client = make.client()
    product = make.product(name="Hosting", prices={"monthly": "10.00"}, auto_setup="on_payment")
    ordered_on = d(2026, 1, 31)  # anchored on the 31st: due on the last day of short months
    result = place_order(OrderRequest(client_id=client.id, payment_method="banktransfer",
                                      lines=[LineRequest(product=product.id, cycle="monthly",
                                                         domain="ada.example")]),
                         Admin.get(Admin.login == "boss"), ordered_on)
    service = Service.get_by_id(result.service_ids[0])
    assert (service.status, service.next_due_date) == ("pending", d(2026, 2, 28))
    assert result.invoice.total == D("10.00")

    pay(result.invoice.id, "ORDER-1", ordered_on)
    assert ModuleJob.get().command == "create"  # provisioned on payment
    assert Service.get_by_id(service.id).next_due_date == d(2026, 2, 28)  # the first period
    Service.update(status="active").where(Service.id == service.id).execute()  # module said yes

    # The daily run, day by day: one renewal per period, paid once, the NDD moved once.
    expected = [d(2026, 2, 28), d(2026, 3, 31), d(2026, 4, 30)]
    day, paid = d(2026, 2, 1), []
    while day <= d(2026, 4, 30):
        generate_due_invoices(day, SETTINGS, admin=SYSTEM_ADMIN)
        for invoice in Invoice.select().where((Invoice.status == "unpaid")
                                              & (Invoice.id != result.invoice.id)):
            pay(invoice.id, f"RENEW-{invoice.id}", day)
            pay(invoice.id, f"RENEW-{invoice.id}", day)  # the bank sends it twice
            paid.append(InvoiceLine.get(InvoiceLine.invoice == invoice.id).period_start)
        day = day.add(days=1)
    assert paid == expected
    assert Service.get_by_id(service.id).next_due_date == d(2026, 5, 31)
    assert Payment.select().count() == 1 + len(expected)
    assert InvoiceLine.select().where(InvoiceLine.kind == "renewal").count() == len(expected)


def test_the_same_payment_recorded_twice_moves_the_ndd_once(db):
    service = make.service(next_due_date=d(2028, 2, 29), anchor_day=31)
    generate_due_invoices(d(2028, 2, 20), SETTINGS, admin=SYSTEM_ADMIN)
    invoice = Invoice.get()
    first = pay(invoice.id, "TX-42", d(2028, 2, 21))
    second = pay(invoice.id, "TX-42", d(2028, 2, 21))
    assert (first.duplicate, second.duplicate) == (False, True)
    assert Service.get_by_id(service.id).next_due_date == d(2028, 3, 31)  # back on the 31st
    assert Payment.select().count() == 1


# --- rules §3, the product manual's worked case ---------------------------------------------------


@pytest.mark.parametrize("basis, amounts, total", [
    (DayBasis.CALENDAR, ("8.71", "9.68"), "18.39"),
    (DayBasis.THIRTY_DAY, ("9.00", "10.00"), "19.00"),
])
def test_rules_3_prorata_invoice_moves_the_ndds_only_when_paid(db, basis, amounts, total):
    client = make.client()
    plan_a = make.product(name="A", prices={"monthly": "30.00"})
    plan_b = make.product(name="B", prices={"monthly": "60.00"})
    a = make.service(client_row=client, product_row=plan_a, recurring_amount=D("30.00"),
                     next_due_date=d(2012, 1, 1), domain="")
    b = make.service(client_row=client, product_row=plan_b, recurring_amount=D("60.00"),
                     next_due_date=d(2012, 1, 5), domain="")
    new_ndd = d(2012, 1, 10)
    settings = replace(SETTINGS, prorata_day_basis=basis)
    plan = plan_prorata([("service", a.id, new_ndd), ("service", b.id, new_ndd)], settings)
    [invoice_id] = create_prorata_invoices(plan, d(2011, 12, 20), admin=as_login("boss"))
    lines = invoicing.live_lines(invoice_id)
    assert [(line.description, str(line.amount)) for line in lines] == [
        ("A (2012-01-01 – 2012-01-09)", amounts[0]), ("B (2012-01-05 – 2012-01-09)", amounts[1])]
    assert str(Invoice.get_by_id(invoice_id).total) == total
    assert [Service.get_by_id(s.id).next_due_date for s in (a, b)] == [d(2012, 1, 1), d(2012, 1, 5)]
    pay(invoice_id, "PRORATA", d(2011, 12, 21))
    for service in (a, b):
        fresh = Service.get_by_id(service.id)
        assert (fresh.next_due_date, fresh.anchor_day) == (new_ndd, 10)


def test_rules_3_cancelled_prorata_invoice_leaves_the_ndds(db):
    service = make.service(recurring_amount=D("30.00"), next_due_date=d(2012, 1, 1))
    plan = plan_prorata([("service", service.id, d(2012, 1, 10))], SETTINGS)
    [invoice_id] = create_prorata_invoices(plan, d(2011, 12, 20), admin=as_login("boss"))
    invoicing.cancel_invoice(invoice_id, as_login("boss"))
    fresh = Service.get_by_id(service.id)
    assert (fresh.next_due_date, fresh.anchor_day) == (d(2012, 1, 1), 1)


# --- rules §7 through the invoice -----------------------------------------------------------------


def test_upgrade_story_with_a_renewal_after_it(db):
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00", "annually": "150.00"})
    service = make.service(product_row=small, next_due_date=d(2026, 5, 1))
    today = d(2026, 4, 19)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", today, SETTINGS,
                                   admin=find_admin("boss"))
    assert str(made.invoice.total) == "6.00"
    with pytest.raises(RuleViolation):  # a second one waits for the first
        upgrades.create_upgrade(service.id, big.id, "annually", today, SETTINGS,
                                admin=find_admin("boss"))
    pay(made.invoice.id, "UP-1", today)
    pay(made.invoice.id, "UP-1", today)
    assert ModuleJob.select().where(ModuleJob.command == "change_package").count() == 1
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.recurring_amount, fresh.next_due_date) == (
        big.id, D("25.00"), d(2026, 5, 1))

    # then monthly → annually on the 25th: the credit is 25.00 × 6/30, the amount in force
    later = d(2026, 4, 25)
    second = upgrades.create_upgrade(service.id, big.id, "annually", later, SETTINGS,
                                     admin=find_admin("boss"))
    assert (str(second.quote.credit), str(second.quote.charge)) == ("5.00", "2.47")
    assert second.quote.payable == D("0.00") and second.quote.credit_to_client == D("2.53")
    assert Client.get_by_id(service.client_id).credit == D("2.53")
    generate_due_invoices(later, SETTINGS, admin=SYSTEM_ADMIN)
    renewal = InvoiceLine.get(InvoiceLine.kind == "renewal")
    assert (renewal.amount, renewal.period_start, renewal.period_end) == (
        D("150.00"), d(2026, 5, 1), d(2027, 5, 1))
    assert [u.status for u in Upgrade.select().order_by(Upgrade.id)] == ["applied", "applied"]


# --- two admins at once ------------------------------------------------------------------------------


def confirm_upgrade_in_a_process(url: str, service_id: int, product_id: int, start_at: float) -> str:
    from hostdesk.models.db import bind
    from hostdesk.models.errors import RuleViolation as Refused

    db = bind(url)
    db.connect()
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        made = upgrades.create_upgrade(service_id, product_id, "monthly", d(2026, 4, 19),
                                       Settings(), admin=find_admin("boss"))
        return f"created:{made.upgrade.id}"
    except Refused as exc:
        return f"refused:{exc}"
    finally:
        db.close()


def test_two_admins_confirm_an_upgrade_of_the_same_service_at_once(db, db_url):
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=d(2026, 5, 1))
    db.close()
    start_at = time.time() + 1.5
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        outcomes = pool.starmap(confirm_upgrade_in_a_process,
                                [(db_url, service.id, big.id, start_at)] * 2)
    db.connect(reuse_if_open=True)
    assert sorted(o.split(":")[0] for o in outcomes) == ["created", "refused"]
    assert Upgrade.select().count() == 1
    assert Invoice.select().count() == 1
