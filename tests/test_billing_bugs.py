"""Billing bugs of issue 14, each on both engines: one check of what may be billed (early
invoicing and the daily run), no overlapping renewal periods, fixed-term end, a payment on a
paid invoice, and the end of override auto-suspend (rules §3, §4, §5, §6, §10)."""

from dataclasses import replace
from decimal import Decimal

import peewee
import pendulum
import pytest

from hostdesk.automation.cron import run_daily
from hostdesk.models import invoicing, massupdate, overdue, renewals
from hostdesk.models.clock import Clock
from hostdesk.models.db import insert_rows
from hostdesk.models.errors import ValidationError
from hostdesk.models.renewals import generate_due_invoices, invoice_selected_items
from hostdesk.models.schema import (
    Admin,
    CancellationRequest,
    Client,
    CreditEntry,
    Invoice,
    InvoiceLine,
    LineKind,
    Payment,
    Service,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
d = pendulum.date
SETTINGS = Settings(smtp_port=1,  # no mail server: delivery fails and is retried later
                    terminate_guard_percent=100)  # a few services: no termination guard


@pytest.fixture(autouse=True)
def admin(db):
    make.ensure_template("invoice_created")
    return Admin.create(login="t", role="full")


def lines_of(item):
    return [(line.period_start, line.period_end, line.amount)
            for line in InvoiceLine.select().where(
                (InvoiceLine.item_id == item.id) & (InvoiceLine.kind == LineKind.RENEWAL)
                & (InvoiceLine.cancelled == False))  # noqa: E712
            .order_by(InvoiceLine.period_start)]


def pay_everything(on):
    for invoice in Invoice.select().where(Invoice.status == "unpaid"):
        invoicing.record_payment(invoice.id, str(invoice.total - invoice.amount_paid), date=on,
                                 method="card", admin=as_login("t"))


# --- bug 1: early invoicing uses the daily run's billable check ---------------------------


def test_early_invoicing_refuses_an_open_cancellation_request_and_auto_terminate(db):
    client = make.client()
    ndd = d(2026, 5, 1)
    leaving = make.service(client, next_due_date=ndd)
    leaving_addon = make.addon(leaving)
    CancellationRequest.create(service=leaving, type="end_of_period", reason="moving")
    ending = make.service(client, next_due_date=ndd, auto_terminate_end_of_cycle=True)
    ending_addon = make.addon(ending)
    staying = make.service(client, next_due_date=ndd)
    result = invoice_selected_items(
        [("service", leaving.id), ("addon", leaving_addon.id), ("service", ending.id),
         ("addon", ending_addon.id), ("service", staying.id)],
        d(2026, 4, 1), SETTINGS, admin=as_login("t"))
    reasons = {(kind, item_id): reason for kind, item_id, reason in result.refused}
    assert reasons == {
        ("service", leaving.id): "has an open cancellation request",
        ("addon", leaving_addon.id): "its service has an open cancellation request",
        ("service", ending.id): "is set to terminate at the end of its cycle",
        ("addon", ending_addon.id): "its service is set to terminate at the end of its cycle",
    }
    assert len(result.invoice_ids) == 1
    assert [line.item_id for line in InvoiceLine.select()] == [staying.id]


# --- bug 5: a fixed term ends billing ------------------------------------------------------


def test_fixed_term_service_is_never_billed_from_its_termination_day(db):
    trial = make.product(auto_terminate_days=30, prices={"monthly": "10.00"})
    # registered 2026-03-01 + 30 days: the term ends on 2026-03-31, the NDD
    ends_on_ndd = make.service(product_row=trial, registration_date=d(2026, 3, 1),
                               next_due_date=d(2026, 3, 31), anchor_day=31)
    # registered 2026-03-02: the term ends on 2026-04-01, so [03-31, 04-30) starts inside it
    one_more = make.service(product_row=trial, registration_date=d(2026, 3, 2),
                            next_due_date=d(2026, 3, 31), anchor_day=31)
    report = run_daily(SETTINGS, Clock("UTC", d(2026, 3, 17)))
    assert report.tasks["invoices"]["done"] == 1
    assert lines_of(ends_on_ndd) == []
    assert [start for start, _, _ in lines_of(one_more)] == [d(2026, 3, 31)]
    refused = invoice_selected_items([("service", ends_on_ndd.id)], d(2026, 3, 17), SETTINGS,
                                     admin=as_login("t")).refused
    assert refused == [("service", ends_on_ndd.id,
                        "its fixed term ends on 2026-03-31: the period from 2026-03-31 is not part of it")]
    # terminated on its day, it leaves no unpaid invoice behind
    run_daily(SETTINGS, Clock("UTC", d(2026, 3, 31)))
    assert Service.get_by_id(ends_on_ndd.id).status == "terminated"
    assert not Invoice.select().join(InvoiceLine).where(
        (InvoiceLine.item_id == ends_on_ndd.id) & (Invoice.status == "unpaid")).exists()


def test_continuous_invoicing_stops_at_the_fixed_term_end(db):
    term = make.product(auto_terminate_days=59, prices={"monthly": "10.00"})
    service = make.service(product_row=term, registration_date=d(2026, 1, 1),
                           next_due_date=d(2026, 1, 1))  # the term ends on 2026-03-01
    generate_due_invoices(d(2026, 4, 20), replace(SETTINGS, continuous_invoicing=True),
                          admin=as_login("t"))
    assert [start for start, _, _ in lines_of(service)] == [d(2026, 1, 1), d(2026, 2, 1)]


# --- bug 2: no overlapping renewal periods ---------------------------------------------------


def _renewal(invoice, service, start, end, **kw):
    return InvoiceLine.create(invoice=invoice, kind=LineKind.RENEWAL, item_type="service",
                              item_id=service.id, period_start=start, period_end=end,
                              description="Hosting", amount=D("10.00"), **kw)


def test_the_database_refuses_overlapping_live_renewal_periods(db):
    service = make.service()
    invoice = Invoice.create(client=service.client_id, date=d(2026, 1, 1),
                             due_date=d(2026, 1, 1), payment_method="card")
    first = _renewal(invoice, service, d(2026, 1, 1), d(2026, 2, 1))
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _renewal(invoice, service, d(2026, 1, 20), d(2026, 2, 20))  # starts inside
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _renewal(invoice, service, d(2025, 12, 20), d(2026, 1, 2))  # ends inside
    # a period that follows, another item, another kind and a cancelled line do not count
    _renewal(invoice, service, d(2026, 2, 1), d(2026, 3, 1))
    _renewal(invoice, make.service(), d(2026, 1, 20), d(2026, 2, 20))
    InvoiceLine.create(invoice=invoice, kind=LineKind.PRORATA, item_type="service",
                       item_id=service.id, period_start=d(2026, 1, 10), period_end=d(2026, 1, 20),
                       description="prorata", amount=D("3.00"))
    first.cancelled = True
    first.save()
    replacement = _renewal(invoice, service, d(2026, 1, 10), d(2026, 2, 1))
    # reviving the cancelled line would overlap its replacement: refused too
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            InvoiceLine.update(cancelled=False).where(InvoiceLine.id == first.id).execute()
    # a bulk insert is judged row by row, within the statement too
    columns = ("invoice", "kind", "item_type", "item_id", "period_start", "period_end",
               "description", "amount", "cancelled", "sort_order")
    other = make.service()
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            insert_rows(InvoiceLine, columns, [
                (invoice.id, "renewal", "service", other.id, "2026-05-01", "2026-06-01", "a", 1000,
                 False, 0),
                (invoice.id, "renewal", "service", other.id, "2026-05-15", "2026-06-15", "b", 1000,
                 False, 1)])
    assert lines_of(other) == []
    assert replacement.id


def test_moving_the_ndd_back_across_a_billed_period_is_refused(db, admin):
    service = make.service(next_due_date=d(2026, 1, 1))
    generate_due_invoices(d(2026, 1, 1), SETTINGS, admin=as_login("t"))
    pay_everything(d(2026, 1, 1))
    assert Service.get_by_id(service.id).next_due_date == d(2026, 2, 1)
    reason = ("the period 2026-01-01 – 2026-01-31 is already invoiced (invoice #"
              f"{Invoice.get().id}); cancel that line first")
    with pytest.raises(ValidationError) as refused:
        renewals.check_next_due_date_change("service", Service.get_by_id(service.id), d(2026, 1, 20))
    assert refused.value.field == "next_due_date" and refused.value.message == reason
    change = massupdate.parse_mass_change({"next_due_date": "2026-01-20"})
    plan = massupdate.preview([service.id], change, SETTINGS)
    assert [item.refused for item in plan.items] == [reason]
    result = massupdate.apply([service.id], change, admin, SETTINGS, d(2026, 1, 5))
    assert (result.updated, result.refused) == (0, 1)
    assert Service.get_by_id(service.id).next_due_date == d(2026, 2, 1)
    # forward, or back to where nothing is billed, is allowed
    renewals.check_next_due_date_change("service", Service.get_by_id(service.id), d(2026, 2, 1))
    renewals.check_next_due_date_change("service", Service.get_by_id(service.id), d(2026, 2, 10))
    # so no run bills January's days twice
    generate_due_invoices(d(2026, 1, 20), SETTINGS, admin=as_login("t"))
    assert lines_of(service) == [(d(2026, 1, 1), d(2026, 2, 1), D("10.00")),
                                 (d(2026, 2, 1), d(2026, 3, 1), D("10.00"))]


def test_an_addon_edit_cannot_move_its_ndd_back_across_a_billed_period(db, admin):
    from hostdesk.models.services import edit_addon

    addon = make.addon(make.service(next_due_date=d(2026, 1, 1)))
    generate_due_invoices(d(2026, 1, 1), SETTINGS, admin=as_login("t"))
    with pytest.raises(ValidationError) as refused:
        edit_addon(addon.id, addon.version, {"next_due_date": "2025-12-15"}, admin)
    assert "2026-01-01 – 2026-01-31 is already invoiced" in refused.value.message


def test_continuous_invoicing_after_an_ndd_move_prorates_the_short_period(db, admin):
    continuous = replace(SETTINGS, continuous_invoicing=True)
    service = make.service(next_due_date=d(2026, 3, 20), recurring_amount=D("10.00"))
    generate_due_invoices(d(2026, 3, 6), continuous, admin=as_login("t"))
    assert lines_of(service) == [(d(2026, 3, 20), d(2026, 4, 20), D("10.00"))]
    # the admin moves the NDD forward to the 1st (no prorata invoice): the anchor is now 1
    massupdate.apply([service.id], massupdate.parse_mass_change({"next_due_date": "2026-04-01"}),
                     admin, continuous, d(2026, 3, 10))
    generate_due_invoices(d(2026, 4, 18), continuous, admin=as_login("t"))
    # [04-20, 05-01) is 11 days of the 30-day period [04-01, 05-01): 10 × 11/30 = 3.67
    assert lines_of(service)[1:] == [(d(2026, 4, 20), d(2026, 5, 1), D("3.67")),
                                     (d(2026, 5, 1), d(2026, 6, 1), D("10.00"))]
    line = InvoiceLine.select().where(InvoiceLine.period_start == d(2026, 4, 20)).get()
    assert line.description.endswith("(2026-04-20 - 2026-04-30)")


def test_standard_mode_after_paying_into_a_moved_anchor_prorates_to_the_anchor(db, admin):
    service = make.service(next_due_date=d(2026, 3, 20), recurring_amount=D("10.00"))
    generate_due_invoices(d(2026, 3, 6), SETTINGS, admin=as_login("t"))
    massupdate.apply([service.id], massupdate.parse_mass_change({"next_due_date": "2026-04-01"}),
                     admin, SETTINGS, d(2026, 3, 10))
    pay_everything(d(2026, 3, 20))  # the paid line moves the NDD to its end, 04-20
    assert Service.get_by_id(service.id).next_due_date == d(2026, 4, 20)
    generate_due_invoices(d(2026, 4, 18), SETTINGS, admin=as_login("t"))
    assert lines_of(service)[1:] == [(d(2026, 4, 20), d(2026, 5, 1), D("3.67"))]


# --- bug 6: money received on a paid invoice is kept as credit --------------------------------


def test_a_second_payment_on_a_paid_invoice_becomes_credit_and_applies_nothing(db):
    service = make.service(next_due_date=d(2026, 1, 1))
    generate_due_invoices(d(2026, 1, 1), SETTINGS, admin=as_login("t"))
    invoice = Invoice.get()
    first = invoicing.record_payment(invoice.id, "10.00", date=d(2026, 1, 2), method="card",
                                     transaction_ref="ch_1", admin=as_login("t"))
    assert first.applied_lines and first.credited == D("0.00")
    assert Service.get_by_id(service.id).next_due_date == d(2026, 2, 1)
    second = invoicing.record_payment(invoice.id, "10.00", date=d(2026, 1, 3), method="card",
                                      transaction_ref="ch_2", admin=as_login("t"))
    assert not second.duplicate and second.payment is not None
    assert second.applied_lines == [] and second.credited == D("10.00")
    assert Service.get_by_id(service.id).next_due_date == d(2026, 2, 1)  # no line twice
    assert Client.get_by_id(service.client_id).credit == D("10.00")
    assert [e.amount for e in CreditEntry.select()] == [D("10.00")]
    assert Invoice.get_by_id(invoice.id).status == "paid"
    # the same gateway reference again is a duplicate: stored once, nothing credited
    again = invoicing.record_payment(invoice.id, "10.00", date=d(2026, 1, 3), method="card",
                                     transaction_ref="ch_2", admin=as_login("t"))
    assert again.duplicate and again.payment is None
    assert Payment.select().count() == 2
    assert Client.get_by_id(service.client_id).credit == D("10.00")


def test_an_overpaid_then_paid_again_invoice_credits_each_excess_once(db):
    service = make.service(next_due_date=d(2026, 1, 1), recurring_amount=D("10.00"))
    generate_due_invoices(d(2026, 1, 1), SETTINGS, admin=as_login("t"))
    invoice = Invoice.get()
    assert invoicing.record_payment(invoice.id, "12.50", date=d(2026, 1, 2), method="banktransfer",
                                    admin=as_login("t")).credited == D("2.50")
    assert invoicing.record_payment(invoice.id, "4.00", date=d(2026, 1, 2), method="banktransfer",
                                    admin=as_login("t")).credited == D("4.00")
    assert Client.get_by_id(service.client_id).credit == D("6.50")


# --- bug 7: the end of override auto-suspend suspends, and terminates only after the grace ----


def test_override_ending_suspends_first_and_terminates_after_the_grace(db):
    """Rules §6: until 2026-03-20 → suspended on the 2026-03-21 run, terminated on the
    2026-04-15 run at the earliest (terminate_days 30 − suspend_days 5 = 25 days after)."""
    service = make.service(next_due_date=d(2026, 2, 1), override_suspend=True,
                           override_suspend_until=d(2026, 3, 20))
    run_daily(SETTINGS, Clock("UTC", d(2026, 1, 18)))  # its invoice, due 2026-02-01
    assert Invoice.get().due_date == d(2026, 2, 1)
    for day in (d(2026, 3, 1), d(2026, 3, 20)):
        run_daily(SETTINGS, Clock("UTC", day))
        assert Service.get_by_id(service.id).status == "active"
    report = run_daily(SETTINGS, Clock("UTC", d(2026, 3, 21)))
    assert report.tasks["suspensions"]["done"] == 1
    assert report.tasks["terminations"]["done"] == 0
    assert Service.get_by_id(service.id).status == "suspended"
    assert overdue.services_to_terminate(d(2026, 4, 14), SETTINGS) == []
    run_daily(SETTINGS, Clock("UTC", d(2026, 4, 14)))
    assert Service.get_by_id(service.id).status == "suspended"
    assert overdue.services_to_terminate(d(2026, 4, 15), SETTINGS) == [service.id]
    assert run_daily(SETTINGS, Clock("UTC", d(2026, 4, 15))).tasks["terminations"]["done"] == 1
    assert Service.get_by_id(service.id).status == "terminated"


def test_override_grace_follows_the_configured_days(db):
    settings = replace(SETTINGS, suspend_days=3, terminate_days=10)
    service = make.service(next_due_date=d(2026, 2, 1), status="suspended",
                           override_suspend=True, override_suspend_until=d(2026, 3, 20))
    run_daily(settings, Clock("UTC", d(2026, 1, 18)))
    # 10 − 3 = 7 days after 2026-03-20: the 2026-03-28 run at the earliest
    assert overdue.services_to_terminate(d(2026, 3, 27), settings) == []
    assert overdue.services_to_terminate(d(2026, 3, 28), settings) == [service.id]


def test_the_overlap_migration_names_periods_billed_twice_before_it(db):
    from playhouse.migrations import Runner

    from hostdesk.models.db import MIGRATIONS_DIR
    from hostdesk.models.errors import RuleViolation

    service = make.service()
    invoice = Invoice.create(client=service.client_id, date=d(2026, 1, 1),
                             due_date=d(2026, 1, 1), payment_method="card")
    january = _renewal(invoice, service, d(2026, 1, 1), d(2026, 2, 1))
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    rolled_back = []
    while "0011_no_overlapping_renewals" not in rolled_back:  # the later ones first
        rolled_back += runner.down()
    moved = _renewal(invoice, service, d(2026, 1, 20), d(2026, 2, 20))  # billed before 0011
    with pytest.raises(RuleViolation) as refused:
        runner.up()
    assert (f"line #{moved.id} (invoice #{invoice.id}, service #{service.id} from 2026-01-20) "
            f"overlaps line #{january.id}") in str(refused.value)
    moved.cancelled = True
    moved.save()
    assert runner.up()[0] == "0011_no_overlapping_renewals"
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            _renewal(invoice, service, d(2026, 1, 20), d(2026, 2, 20))
