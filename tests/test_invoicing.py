"""Invoices and payments (rules §4, §5) on both engines."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing
from hostdesk.models.errors import RuleViolation, ValidationError
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.schema import (
    Client,
    CreditEntry,
    Invoice,
    InvoiceLine,
    LineKind,
    ModuleJob,
    Payment,
    Service,
)
from tests import factories as make
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

D = Decimal
JAN1, FEB1 = pendulum.date(2026, 1, 1), pendulum.date(2026, 2, 1)


@pytest.fixture(autouse=True)
def templates(db):
    make.ensure_template("invoice_created")


@pytest.fixture(autouse=True)
def admins(db):
    """The admins these tests act as: managing invoices needs the permission (rules §12)."""
    for login in ("tester", "t"):
        make.admin(login, role="full")


def renewal_invoice(service, start=JAN1, end=FEB1, amount="10.00"):
    return invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=D(amount),
                  item_type="service", item_id=service.id, period_start=start, period_end=end)],
        date=start.subtract(days=14), due_date=start, payment_method="banktransfer",
        admin=as_login("tester"))


def test_invoice_total_is_exact_sum_of_lines_and_email_is_queued(db):
    client = make.client()
    invoice = invoicing.create_invoice(
        client.id,
        [LineSpec(kind=LineKind.CUSTOM, description=f"x{i}", amount=D("0.10")) for i in range(3)]
        + [LineSpec(kind=LineKind.DISCOUNT, description="promo", amount=D("-0.05"))],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("tester"))
    assert Invoice.get_by_id(invoice.id).total == D("0.25")
    from hostdesk.models.schema import EmailOutbox
    assert EmailOutbox.select().where(EmailOutbox.related_id == invoice.id).count() == 1


def test_paying_a_renewal_advances_ndd_once_from_the_period_start(db):
    service = make.service(next_due_date=JAN1)
    invoice = renewal_invoice(service)
    result = invoicing.record_payment(invoice.id, "10.00", date=pendulum.date(2026, 1, 20),
                                      method="banktransfer", transaction_ref="TX1",
                                      admin=as_login("tester"))
    assert result.invoice.status == "paid"
    assert Service.get_by_id(service.id).next_due_date == FEB1  # from period start, not paid date
    again = invoicing.record_payment(invoice.id, "10.00", date=pendulum.date(2026, 1, 20),
                                     method="banktransfer", transaction_ref="TX1",
                                     admin=as_login("tester"))
    assert again.duplicate and again.payment is None
    assert Service.get_by_id(service.id).next_due_date == FEB1
    assert Payment.select().count() == 1
    # money received on a paid invoice is kept as credit and applies nothing (rules §5)
    paid_twice = invoicing.record_payment(invoice.id, "10.00", date=JAN1, method="banktransfer",
                                          admin=as_login("tester"))
    assert (paid_twice.applied_lines, paid_twice.credited) == ([], D("10.00"))
    assert Client.get_by_id(service.client_id).credit == D("10.00")
    assert Service.get_by_id(service.id).next_due_date == FEB1


def test_month_end_anchor_survives_payments(db):
    service = make.service(next_due_date=pendulum.date(2028, 1, 31), anchor_day=31)
    from hostdesk.models.renewals import renewal_line_spec
    for start, expected in [(pendulum.date(2028, 1, 31), pendulum.date(2028, 2, 29)),
                            (pendulum.date(2028, 2, 29), pendulum.date(2028, 3, 31))]:
        service = Service.get_by_id(service.id)
        spec = renewal_line_spec("service", service, start, "Hosting")
        invoice = invoicing.create_invoice(service.client_id, [spec], date=start, due_date=start,
                                           payment_method="card", admin=as_login("tester"))
        invoicing.record_payment(invoice.id, "10.00", date=start, method="card", admin=as_login("t"))
        assert Service.get_by_id(service.id).next_due_date == expected


def test_partial_payment_keeps_balance_and_overpayment_becomes_credit(db):
    service = make.service()
    invoice = renewal_invoice(service, amount="10.00")
    first = invoicing.record_payment(invoice.id, "4.00", date=JAN1, method="card", admin=as_login("t"))
    assert first.invoice.status == "unpaid"
    assert invoicing.balance(Invoice.get_by_id(invoice.id)) == D("6.00")
    assert Service.get_by_id(service.id).next_due_date == JAN1
    second = invoicing.record_payment(invoice.id, "7.50", date=JAN1, method="card", admin=as_login("t"))
    assert second.invoice.status == "paid" and second.credited == D("1.50")
    assert Client.get_by_id(service.client_id).credit == D("1.50")
    assert CreditEntry.get().amount == D("1.50")


def test_client_credit_pays_an_invoice(db):
    service = make.service()
    Client.update(credit=D("25.00")).where(Client.id == service.client_id).execute()
    invoice = renewal_invoice(service, amount="10.00")
    with pytest.raises(ValidationError, match="balance"):
        invoicing.apply_credit(invoice.id, "11.00", admin=as_login("t"), today=JAN1)
    invoicing.apply_credit(invoice.id, "10.00", admin=as_login("t"), today=JAN1)
    assert Invoice.get_by_id(invoice.id).status == "paid"
    assert Client.get_by_id(service.client_id).credit == D("15.00")
    assert Service.get_by_id(service.id).next_due_date == FEB1


@pytest.mark.parametrize("amount,message", [
    ("0", "amount"), ("-5.00", "amount"), ("1.234", "2 decimal places"), ("abc", "amount"),
    ("NaN", "amount"),
])
def test_bad_payment_amounts_are_refused_and_nothing_written(db, amount, message):
    invoice = renewal_invoice(make.service())
    with pytest.raises(ValidationError, match=message) as error:
        invoicing.record_payment(invoice.id, amount, date=JAN1, method="card", admin=as_login("t"))
    assert error.value.field == "amount"
    assert Payment.select().count() == 0
    assert Invoice.get_by_id(invoice.id).amount_paid == D("0.00")


def test_cancelled_invoice_refuses_payment_and_frees_its_period(db):
    service = make.service()
    invoice = renewal_invoice(service)
    invoicing.cancel_invoice(invoice.id, as_login("t"))
    with pytest.raises(ValidationError, match="cancelled"):
        invoicing.record_payment(invoice.id, "10.00", date=JAN1, method="card", admin=as_login("t"))
    second = renewal_invoice(service)  # the same period can be billed again
    assert second.id != invoice.id
    with pytest.raises(RuleViolation, match="invoiced again"):
        invoicing.reopen_invoice(invoice.id, as_login("t"))
    assert Invoice.get_by_id(invoice.id).status == "cancelled"
    invoicing.cancel_invoice(second.id, as_login("t"))
    reopened = invoicing.reopen_invoice(invoice.id, as_login("t"))
    assert reopened.status == "unpaid" and reopened.total == D("10.00")


def test_removing_a_line_retotals_and_an_empty_invoice_is_cancelled(db):
    service = make.service()
    invoice = invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.CUSTOM, description="a", amount=D("3.00")),
         LineSpec(kind=LineKind.CUSTOM, description="b", amount=D("4.00"))],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("t"))
    lines = invoicing.live_lines(invoice.id)
    assert invoicing.remove_line(lines[0].id, as_login("t")).total == D("4.00")
    assert invoicing.remove_line(lines[1].id, as_login("t")).status == "cancelled"


def test_prorata_line_sets_ndd_to_its_period_end_and_reanchors(db):
    service = make.service(next_due_date=JAN1)
    new_ndd = pendulum.date(2026, 1, 10)
    invoice = invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.PRORATA, description="prorata", amount=D("8.71"),
                  item_type="service", item_id=service.id, period_start=JAN1, period_end=new_ndd)],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("t"))
    assert Service.get_by_id(service.id).next_due_date == JAN1  # nothing before payment
    invoicing.record_payment(invoice.id, "8.71", date=JAN1, method="card", admin=as_login("t"))
    fresh = Service.get_by_id(service.id)
    assert (fresh.next_due_date, fresh.anchor_day) == (new_ndd, 10)


def test_payment_unsuspends_non_payment_suspensions_only(db):
    overdue = make.service(status="suspended", suspension_reason="Overdue on payment")
    custom = make.service(status="suspended", suspension_reason="Abuse report")
    for service in (overdue, custom):
        invoice = renewal_invoice(service)
        invoicing.record_payment(invoice.id, "10.00", date=pendulum.date(2026, 1, 10),
                                 method="card", admin=as_login("t"))
    jobs = list(ModuleJob.select())
    assert [(j.service_id, j.command, j.status) for j in jobs] == [(overdue.id, "unsuspend", "queued")]


def test_unsuspend_waits_while_another_invoice_is_overdue(db):
    service = make.service(status="suspended", suspension_reason="")
    older = renewal_invoice(service, start=pendulum.date(2025, 12, 1), end=JAN1)
    newer = renewal_invoice(service)
    invoicing.record_payment(newer.id, "10.00", date=pendulum.date(2026, 1, 10), method="card",
                             admin=as_login("t"))
    assert ModuleJob.select().count() == 0
    invoicing.record_payment(older.id, "10.00", date=pendulum.date(2026, 1, 10), method="card",
                             admin=as_login("t"))
    assert ModuleJob.select().where(ModuleJob.command == "unsuspend").count() == 1


def test_first_payment_queues_provisioning_for_on_payment_products(db):
    product = make.product(auto_setup="on_payment")
    service = make.service(product_row=product, status="pending")
    invoice = invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.FIRST, description="first", amount=D("10.00"),
                  item_type="service", item_id=service.id, period_start=JAN1, period_end=FEB1)],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("t"))
    invoicing.record_payment(invoice.id, "10.00", date=JAN1, method="card", admin=as_login("t"))
    invoicing.record_payment  # noqa: B018
    job = ModuleJob.get()
    assert (job.service_id, job.command, job.source) == (service.id, "create", "payment")


def test_lines_are_applied_exactly_once_even_if_marked_paid_again(db):
    service = make.service()
    invoice = renewal_invoice(service)
    invoicing.record_payment(invoice.id, "10.00", date=JAN1, method="card", admin=as_login("t"))
    # Simulate a replay of the paid-marking step (e.g. a retried transaction).
    applied = invoicing._mark_paid(Invoice.get_by_id(invoice.id), JAN1, as_login("t"))
    assert applied == []
    assert Service.get_by_id(service.id).next_due_date == FEB1
    assert InvoiceLine.get().applied_at is not None


def test_paying_withdraws_a_failed_suspension_from_the_module_queue(db):
    from hostdesk.models import modulequeue

    service = make.service()
    invoice = renewal_invoice(service)
    modulequeue.enqueue_failure(service.id, "suspend", {"reason": ""}, "server down", source="cron",
                                admin=SYSTEM_ADMIN)
    invoicing.record_payment(invoice.id, "10.00", date=JAN1, method="card", admin=as_login("t"))
    job = ModuleJob.get(ModuleJob.command == "suspend")
    assert job.status == "dismissed" and "paid" in job.last_error


def test_a_services_unpaid_lines_are_its_own_then_each_addons_live_unpaid_ones(db):
    service = make.service()
    other = make.service(client_row=service.client)
    first, second = make.addon(service), make.addon(service)
    stranger_addon = make.addon(other)

    def line(item_type, item_id, start, amount="5.00"):
        return LineSpec(kind=LineKind.RENEWAL, description="r", amount=D(amount),
                        item_type=item_type, item_id=item_id, period_start=start,
                        period_end=start.add(months=1))

    unpaid = invoicing.create_invoice(
        service.client_id,
        [line("addon", second.id, JAN1), line("service", service.id, JAN1),
         line("addon", first.id, JAN1), line("addon", stranger_addon.id, JAN1),
         line("service", other.id, JAN1), line("addon", first.id, FEB1)],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("t"))
    lines = {(l.item_type, l.item_id, l.period_start): l.id for l in invoicing.live_lines(unpaid.id)}
    cancelled = invoicing.create_invoice(
        service.client_id, [line("service", service.id, FEB1)],
        date=JAN1, due_date=JAN1, payment_method="card", admin=as_login("t"))
    invoicing.cancel_invoice(cancelled.id, as_login("t"))
    removed = lines[("addon", first.id, FEB1)]
    invoicing.remove_line(removed, as_login("t"))

    assert invoicing.unpaid_lines_of_service(service.id) == [
        lines[("service", service.id, JAN1)], lines[("addon", first.id, JAN1)],
        lines[("addon", second.id, JAN1)]]
    assert invoicing.unpaid_lines_of_service(other.id) == [
        lines[("service", other.id, JAN1)], lines[("addon", stranger_addon.id, JAN1)]]
