"""Renewal invoicing (rules §4): when, what, grouping, modes, early invoicing, reruns."""

from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing
from hostdesk.models.errors import PermissionDenied
from hostdesk.models.renewals import generate_due_invoices, invoice_selected_items
from hostdesk.models.schema import Admin, CancellationRequest, Invoice, InvoiceLine
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

D = Decimal
NDD = pendulum.date(2026, 3, 15)
SETTINGS = Settings()


@pytest.fixture(autouse=True)
def templates(db):
    make.ensure_template("invoice_created")
    Admin.create(login="t", role="full")


def run(today, settings=SETTINGS, *, admin=SYSTEM_ADMIN, **kw):
    return generate_due_invoices(today, settings, admin=admin, **kw)


def test_invoice_is_generated_exactly_invoice_days_before_ndd_and_only_once(db):
    service = make.service(next_due_date=NDD, recurring_amount=D("12.34"))
    assert run(NDD.subtract(days=15)).invoices == 0
    result = run(NDD.subtract(days=14))
    assert (result.invoices, result.lines, result.amount) == (1, 1, D("12.34"))
    invoice = Invoice.get()
    assert (invoice.due_date, invoice.date, invoice.total) == (NDD, NDD.subtract(days=14), D("12.34"))
    line = InvoiceLine.get()
    assert (line.kind, line.item_id, line.period_start, line.period_end) == (
        "renewal", service.id, NDD, pendulum.date(2026, 4, 15))
    assert line.description.endswith("(2026-03-15 - 2026-04-14)")
    # the same day again, and the next days: nothing new while the line is unpaid
    for day in range(0, 40, 3):
        assert run(NDD.subtract(days=14).add(days=day)).invoices == 0
    assert InvoiceLine.select().count() == 1


def test_invoices_follow_client_order_and_lines_item_order_whatever_the_database_returns(db):
    """An updated row moves: PostgreSQL then returns it after rows written later (a heap
    scan, and an index's equal keys, follow where rows lie). The invoices still come in
    client order and each invoice's lines by item."""
    first, second = make.client(), make.client()
    older = make.service(first, next_due_date=NDD, recurring_amount=D("1.00"))
    newer = make.service(first, next_due_date=NDD, recurring_amount=D("2.00"))
    make.service(second, next_due_date=NDD, recurring_amount=D("3.00"))
    addon = make.addon(older, recurring_amount=D("4.00"))
    domain = make.domain(first, next_due_date=NDD)
    type(older).update(admin_notes="moved").where(type(older).id == older.id).execute()
    assert run(NDD.subtract(days=14)).invoices == 2
    invoices = list(Invoice.select().order_by(Invoice.id))
    assert [i.client_id for i in invoices] == [first.id, second.id]
    lines = (InvoiceLine.select().where(InvoiceLine.invoice == invoices[0])
             .order_by(InvoiceLine.sort_order))
    assert [(line.item_type, line.item_id) for line in lines] == [
        ("service", older.id), ("service", newer.id), ("addon", addon.id), ("domain", domain.id)]


def test_per_cycle_invoice_days(db):
    make.service(next_due_date=NDD, billing_cycle="annually", recurring_amount=D("100.00"))
    settings = replace(SETTINGS, invoice_days_per_cycle={"annually": 30})
    assert run(NDD.subtract(days=31), settings).invoices == 0
    assert run(NDD.subtract(days=30), settings).invoices == 1


def test_after_payment_the_next_period_is_billed(db):
    service = make.service(next_due_date=NDD)
    run(NDD.subtract(days=14))
    invoice = Invoice.get()
    invoicing.record_payment(invoice.id, "10.00", date=NDD, method="card", admin=as_login("t"))
    assert run(NDD).invoices == 0  # next NDD 2026-04-15 is 31 days away
    result = run(pendulum.date(2026, 4, 1))
    assert result.invoices == 1
    assert InvoiceLine.select().order_by(InvoiceLine.id.desc()).get().period_start == pendulum.date(2026, 4, 15)
    assert service.id == InvoiceLine.get().item_id


def test_standard_mode_waits_for_payment_continuous_does_not(db):
    make.service(next_due_date=NDD)
    run(NDD.subtract(days=14))
    later = pendulum.date(2026, 4, 2)  # next period (04-15) is within 14 days
    assert run(later).invoices == 0
    continuous = replace(SETTINGS, continuous_invoicing=True)
    result = run(later, continuous)
    assert result.invoices == 1
    starts = [l.period_start for l in InvoiceLine.select().order_by(InvoiceLine.period_start)]
    assert starts == [NDD, pendulum.date(2026, 4, 15)]
    assert run(later, continuous).invoices == 0


def test_continuous_mode_catches_up_missed_periods(db):
    make.service(next_due_date=pendulum.date(2026, 1, 31), anchor_day=31)
    continuous = replace(SETTINGS, continuous_invoicing=True, invoice_days=0)
    run(pendulum.date(2026, 4, 1), continuous)
    starts = [l.period_start for l in InvoiceLine.select().order_by(InvoiceLine.period_start)]
    assert starts == [pendulum.date(2026, 1, 31), pendulum.date(2026, 2, 28), pendulum.date(2026, 3, 31)]


@pytest.mark.parametrize("status", ["pending", "terminated", "cancelled", "completed", "fraud"])
def test_only_active_and_suspended_items_are_billed(db, status):
    make.service(next_due_date=NDD, status=status)
    make.service(next_due_date=NDD, status="suspended")
    assert run(NDD).invoices == 1


def test_free_one_time_cancellation_requests_and_auto_terminate_are_skipped(db):
    make.service(next_due_date=NDD, billing_cycle="one_time")
    make.service(next_due_date=None, billing_cycle="free", recurring_amount=D("0.00"))
    requested = make.service(next_due_date=NDD)
    CancellationRequest.create(service=requested, type="end_of_period", reason="moving")
    make.addon(requested)
    make.service(next_due_date=NDD, auto_terminate_end_of_cycle=True)
    assert run(NDD).invoices == 0


def test_lines_of_one_client_share_an_invoice_by_due_date_and_method(db):
    client = make.client()
    a = make.service(client, next_due_date=NDD, recurring_amount=D("10.00"))
    make.addon(a, recurring_amount=D("2.50"))
    make.service(client, next_due_date=NDD, recurring_amount=D("5.00"))
    make.service(client, next_due_date=NDD.add(days=1), recurring_amount=D("7.00"))
    make.service(client, next_due_date=NDD, recurring_amount=D("3.00"), payment_method="card")
    make.domain(client, next_due_date=NDD, recurring_amount=D("12.00"))
    run(NDD)
    invoices = {(i.due_date, i.payment_method): i.total for i in Invoice.select()}
    assert invoices == {
        (NDD, "banktransfer"): D("29.50"),
        (NDD.add(days=1), "banktransfer"): D("7.00"),
        (NDD, "card"): D("3.00"),
    }


def test_separate_invoices_gives_one_invoice_per_service_with_its_addons_and_domain(db):
    client = make.client(separate_invoices=True)
    a = make.service(client, next_due_date=NDD, recurring_amount=D("10.00"), domain="a.com")
    make.addon(a, recurring_amount=D("2.00"))
    make.addon(a, recurring_amount=D("3.00"), next_due_date=NDD.add(days=5), anchor_day=20)
    make.domain(client, name="a.com", next_due_date=NDD, recurring_amount=D("12.00"))
    make.service(client, next_due_date=NDD, recurring_amount=D("5.00"))
    run(NDD.add(days=5))
    totals = sorted(i.total for i in Invoice.select())
    assert totals == [D("3.00"), D("5.00"), D("24.00")]
    grouped = make.group(separate_invoices=True)
    other = make.client(group=grouped)
    make.service(other, next_due_date=NDD, recurring_amount=D("1.00"))
    make.service(other, next_due_date=NDD, recurring_amount=D("2.00"))
    assert run(NDD).invoices == 2


def test_zero_amount_items_are_not_billed(db):
    make.service(next_due_date=NDD, recurring_amount=D("0.00"))
    assert run(NDD).invoices == 0


def test_dry_run_reports_what_the_real_run_then_does(db):
    for i in range(5):
        client = make.client()
        make.service(client, next_due_date=NDD, recurring_amount=D("10.00") + i)
        make.service(client, next_due_date=NDD.add(days=2))
    planned = run(NDD, dry_run=True)
    assert Invoice.select().count() == 0 and InvoiceLine.select().count() == 0
    done = run(NDD)
    assert (planned.invoices, planned.lines, planned.amount) == (done.invoices, done.lines, done.amount)
    assert (done.invoices, done.lines) == (10, 10)


def test_one_client_on_demand_uses_the_same_rules(db):
    mine, other = make.client(), make.client()
    make.service(mine, next_due_date=NDD)
    make.service(other, next_due_date=NDD)
    result = run(NDD, client_ids=[mine.id])
    assert result.invoices == 1 and Invoice.get().client_id == mine.id
    assert run(NDD).invoices == 1  # the other client is billed by the daily run


def test_generating_a_clients_due_invoices_needs_the_permission(db):
    client = make.client()
    make.service(client, next_due_date=NDD)
    make.admin("helpdesk", role="support")
    with pytest.raises(PermissionDenied) as refused:
        run(NDD, client_ids=[client.id], admin=as_login("helpdesk"))
    assert "generate due invoices" in str(refused.value)
    with pytest.raises(PermissionDenied):
        run(NDD, client_ids=[client.id], admin=as_login("nobody-added-this-login"))
    assert Invoice.select().count() == 0
    make.admin("sales", role="sales")
    assert run(NDD, client_ids=[client.id], admin=as_login("sales")).invoices == 1


def test_batches_never_split_a_clients_invoice(db):
    settings = replace(SETTINGS, batch_size=4)  # one client per chunk
    clients = [make.client() for _ in range(5)]
    for client in clients:
        for _ in range(3):
            make.service(client, next_due_date=NDD)
    seen = []
    result = run(NDD, settings, progress=lambda done, total: seen.append((done, total)))
    assert result.invoices == 5 and result.lines == 15
    assert seen[-1] == (5, 5)


def test_chunks_are_sized_by_items_and_never_split_a_client(db, monkeypatch):
    from hostdesk.models import renewals

    monkeypatch.setattr(renewals, "CHUNK_ITEMS", 4)
    # items due per client: 1, 2 (a service and its addon), 3, 5 (more than a chunk), 1, 1
    shapes = [(1, 0, 0), (1, 1, 0), (2, 0, 1), (3, 1, 1), (1, 0, 0), (0, 0, 1)]
    clients = []
    for services, addons, domains in shapes:
        client = make.client()
        clients.append(client.id)
        rows = [make.service(client, next_due_date=NDD) for _ in range(services)]
        for _ in range(addons):
            make.addon(rows[0], next_due_date=NDD)
        for _ in range(domains):
            make.domain(client, next_due_date=NDD)
    make.service(make.client(), next_due_date=NDD.add(months=2))  # nothing due: in no chunk
    job = renewals._BillingJob(NDD, SETTINGS, SYSTEM_ADMIN, False)
    assert job.chunks() == [clients[0:2], clients[2:3], clients[3:4], clients[4:6]]
    fewer_clients = renewals._BillingJob(NDD, replace(SETTINGS, batch_size=1), SYSTEM_ADMIN, False)
    assert fewer_clients.chunks() == [[client] for client in clients]
    seen = []
    result = run(NDD, progress=lambda done, total: seen.append((done, total)))
    assert (result.invoices, result.lines) == (6, 13)
    assert seen == [(2, 6), (3, 6), (4, 6), (6, 6)]


def test_invoice_selected_items_early(db):
    client = make.client(separate_invoices=True)
    a = make.service(client, next_due_date=NDD.add(months=2), recurring_amount=D("10.00"))
    b = make.service(client, next_due_date=NDD.add(months=2), recurring_amount=D("20.00"))
    c = make.addon(a, next_due_date=NDD.add(months=3), recurring_amount=D("2.00"))
    gone = make.service(client, status="terminated")
    result = invoice_selected_items([("service", a.id), ("service", b.id), ("addon", c.id),
                                     ("service", gone.id)], NDD, SETTINGS, admin=as_login("t"))
    assert len(result.invoice_ids) == 2
    totals = sorted(Invoice.get_by_id(i).total for i in result.invoice_ids)
    assert totals == [D("2.00"), D("30.00")]
    assert result.refused == [("service", gone.id, "is terminated; only pending, active or "
                                                   "suspended items can be invoiced")]
    again = invoice_selected_items([("service", a.id)], NDD, SETTINGS, admin=as_login("t"))
    assert again.invoice_ids == []
    assert "already invoiced" in again.refused[0][2]
    # the daily run does not bill those periods a second time
    assert run(NDD.add(months=3)).invoices == 0


def test_a_promotion_recurring_for_two_renewals_then_the_catalog_price(db):
    from hostdesk.models.schema import Promotion, Service

    product = make.product(prices={"monthly": "20.00"})
    promo = Promotion.create(code="HALF2", type="percentage", value=D("50.00"), recurring=True,
                             recur_for=2)
    service = make.service(product_row=product, next_due_date=NDD, recurring_amount=D("10.00"),
                           promotion=promo)
    amounts = []
    day = NDD
    for _ in range(4):
        run(day)
        invoice = Invoice.select().order_by(Invoice.id.desc()).get()
        amounts.append(invoice.total)
        invoicing.record_payment(invoice.id, str(invoice.total), date=day, method="card",
                                 admin=as_login("t"))
        day = Service.get_by_id(service.id).next_due_date
    assert amounts == [D("10.00"), D("10.00"), D("20.00"), D("20.00")]
    assert Service.get_by_id(service.id).promotion_uses == 2


def test_invoice_email_shows_the_invoice_as_stored(db):
    """The daily run builds its invoice emails from the rows it writes, not from a re-read:
    each email must read exactly as the same template rendered from the stored invoice."""
    from hostdesk.models.emails import render
    from hostdesk.models.schema import EmailOutbox

    client = make.client(first_name="Grace", company="Hopper & Co")
    service = make.service(client, next_due_date=NDD, recurring_amount=D("1234.50"),
                           domain="grace.example.org")
    make.addon(service, recurring_amount=D("9.99"))
    other = make.service(next_due_date=NDD, recurring_amount=D("7.00"))
    assert run(NDD.subtract(days=14), replace(SETTINGS, company_name="Acme")).invoices == 2
    emails = list(EmailOutbox.select().order_by(EmailOutbox.related_id))
    invoices = list(Invoice.select().order_by(Invoice.id))
    assert [e.related_id for e in emails] == [i.id for i in invoices]
    assert [e.to_address for e in emails] == [client.email, other.client.email]
    for email, invoice in zip(emails, invoices):
        subject, body = render("invoice_created", {
            "invoice": invoice, "total": invoice.total, "company_name": "Acme"})
        assert (email.subject, email.body) == (subject, body)
    assert "Total: $1,244.49" in emails[0].body and "Dear Grace" in emails[0].body


def test_an_edited_invoice_email_sees_every_variable_as_a_single_email_would(db):
    """The daily run builds its invoice emails' contexts per batch (`invoice_email_contexts`);
    an admin's template that prints every variable must read exactly as the one-email path
    (`template_context` of the stored invoice) renders it."""
    from hostdesk.models.emails import render, save_template
    from hostdesk.models.schema import EmailOutbox

    boss = make.admin("boss")
    body = ("{{ client.id }} {{ client.first_name }} {{ client.last_name }} "
            "{{ client.full_name }} [{{ client.company }}] {{ client.email }}\n"
            "{{ invoice.id }} {{ invoice.number }} {{ invoice.date }} {{ invoice.due_date }} "
            "[{{ invoice.paid_date }}] {{ invoice.status }} {{ invoice.payment_method }} "
            "{{ invoice.total }} {{ invoice.amount_paid }} {{ invoice.balance }}\n"
            "{% for line in lines %}{{ loop.index }} {{ line.description }} {{ line.amount }} "
            "{{ line.amount|money('EUR') }} {{ line.period_start }} {{ line.period_end }}\n"
            "{% endfor %}{{ currency }} {{ company_name }}\n")
    save_template("invoice_created", "#{{ invoice.number }} {{ invoice.due_date }}", body,
                  boss, 0)
    client = make.client(first_name="Grace", last_name="Hopper", company="")
    service = make.service(client, next_due_date=NDD, recurring_amount=D("1234.50"),
                           domain="grace.example.org")
    make.addon(service, recurring_amount=D("9.99"))
    make.service(next_due_date=NDD, recurring_amount=D("7.00"))
    assert run(NDD.subtract(days=14), replace(SETTINGS, company_name="Acme")).invoices == 2
    emails = list(EmailOutbox.select().order_by(EmailOutbox.related_id))
    assert len(emails) == 2 and all(e.status == "queued" for e in emails)
    for email in emails:
        invoice = Invoice.get_by_id(email.related_id)
        assert (email.subject, email.body) == render("invoice_created", {
            "invoice": invoice, "total": invoice.total, "company_name": "Acme"})
    assert "Grace Hopper []" in emails[0].body and "€" in emails[0].body
    assert "[] unpaid" in emails[0].body  # no paid date yet: shown empty


def test_each_new_invoice_is_in_the_activity_log_as_audit_writes_it(db):
    """The daily run writes each invoice's activity row in bulk, its `after` text built
    directly: it must be the text `audit.record` writes for the same values."""
    import json

    from hostdesk.models import audit
    from hostdesk.models.schema import ActivityLog

    client = make.client()
    service = make.service(client, next_due_date=NDD, recurring_amount=D("1234.50"))
    make.addon(service, recurring_amount=D("9.99"))
    make.service(next_due_date=NDD, recurring_amount=D("7.00"))
    assert run(NDD.subtract(days=14), SETTINGS).invoices == 2
    rows = list(ActivityLog.select().where(ActivityLog.action == "invoice.create")
                .order_by(ActivityLog.object_id))
    invoices = list(Invoice.select().order_by(Invoice.id))
    assert [row.object_id for row in rows] == [invoice.id for invoice in invoices]
    for row, invoice in zip(rows, invoices):
        lines = InvoiceLine.select().where(InvoiceLine.invoice == invoice.id).count()
        expected = {"total": str(invoice.total), "due_date": invoice.due_date.isoformat(),
                    "lines": lines}
        assert row.after == json.dumps(expected, default=audit._plain, sort_keys=True)
        assert row.client_id == invoice.client_id and row.admin_login == "system"
    assert json.loads(rows[0].after) == {"due_date": NDD.isoformat(), "lines": 2,
                                         "total": "1244.49"}
