"""Demo data (automation/demo.py): deterministic, complete, and consistent with the rules."""

import hashlib
from collections import defaultdict
from decimal import Decimal

import pendulum
import pytest
from peewee import fn

from hostdesk.automation.demo import build_demo
from hostdesk.models import secrets
from hostdesk.models.cycles import Cycle, add_months_anchored
from hostdesk.models.db import database, is_sqlite
from hostdesk.models.errors import ValidationError
from hostdesk.models.fields import UTCDateTimeField
from hostdesk.models.invoicing import OVERDUE_REASON
from hostdesk.models.schema import (
    ALL_TABLES,
    Admin,
    CancellationRequest,
    Client,
    CreditEntry,
    Domain,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ItemType,
    LineKind,
    ModuleJob,
    Order,
    Payment,
    PaymentMethod,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceAddon,
    ServiceStatus,
)
from hostdesk.models.settings import Settings
from tests.factories import as_login
from hostdesk.models.permissions import SYSTEM_ADMIN

TODAY = pendulum.date(2026, 3, 31)  # a 31st: anchors on month ends get exercised
CLIENTS = 60
RULES = Settings()


@pytest.fixture(autouse=True)
def secret_key():
    secrets.configure("demo-tests-key")
    yield
    secrets.configure("")


def build(seed=7, today=TODAY, login="ops"):
    return build_demo(seed=seed, clients=CLIENTS, today=today, owner_login=login)


SECRET_COLUMNS = {"password", "epp_code"}


def digest() -> str:
    """A hash of every row of every table as stored, ids and timestamps included, in key order.
    Encrypted columns are hashed decrypted: encryption is salted, the secrets are not."""
    sha = hashlib.sha256()
    for model in ALL_TABLES:
        cursor = database.execute_sql(f'SELECT * FROM "{model._meta.table_name}" ORDER BY 1')
        names = [column[0] for column in cursor.description]
        for row in cursor.fetchall():
            plain = [secrets.decrypt(value) if name in SECRET_COLUMNS else value
                     for name, value in zip(names, row)]
            sha.update(repr(plain).encode())
    return sha.hexdigest()


def wipe() -> None:
    """Back to a freshly migrated database: empty but for the payment methods the
    migration seeds (0015)."""
    for model in reversed(ALL_TABLES):
        if model is not PaymentMethod:
            model.delete().execute()


# --- determinism -------------------------------------------------------------------------


def test_same_seed_builds_the_same_rows_and_another_seed_differs(db):
    build(seed=7)
    first = digest()
    wipe()
    build(seed=7)
    assert digest() == first
    wipe()
    build(seed=8)
    assert digest() != first


def test_no_wall_clock_every_moment_is_on_or_before_the_given_day(db):
    past = pendulum.date(2019, 3, 31)
    build(today=past)
    end_of_day = pendulum.datetime(2019, 3, 31, 23, 59, 59, tz="UTC")
    checked = 0
    for model in ALL_TABLES:
        for field in model._meta.sorted_fields:
            if isinstance(field, UTCDateTimeField):
                row = model.select(field).where(field.is_null(False)).order_by(field.desc()).first()
                if row is not None:
                    checked += 1
                    assert getattr(row, field.name) <= end_of_day, (model.__name__, field.name)
    assert checked >= 10
    assert Service.select().order_by(Service.registration_date.desc()).first().registration_date <= past
    assert Invoice.select().order_by(Invoice.date.desc()).first().date <= past


# --- coverage ----------------------------------------------------------------------------


def test_every_status_cycle_and_special_case_is_present(db):
    build()
    statuses = {s for (s,) in Service.select(Service.status).distinct().tuples()}
    assert statuses == set(ServiceStatus.ALL)
    cycles = {c for (c,) in Service.select(Service.billing_cycle).distinct().tuples()}
    assert cycles == {c.value for c in Cycle}
    reasons = {r for (r,) in Service.select(Service.suspension_reason)
               .where(Service.status == "suspended").tuples()}
    assert OVERDUE_REASON in reasons or "" in reasons
    assert reasons - {OVERDUE_REASON, ""}, "a custom suspension reason"
    assert Service.select().where(Service.auto_terminate_end_of_cycle == True).count() >= 1  # noqa: E712
    assert Service.select().where(Service.override_suspend == True).count() >= 1  # noqa: E712
    assert ServiceAddon.select().count() > 0 and Domain.select().count() > 0
    assert {k for (k,) in Domain.select(Domain.kind).distinct().tuples()} == {"register", "transfer"}
    assert {a for (a,) in Domain.select(Domain.auto_renew).distinct().tuples()} == {True, False}
    assert {t for (t,) in Promotion.select(Promotion.type).distinct().tuples()} == set(Promotion.TYPES)
    assert Promotion.select().where(Promotion.expiry_date < TODAY).count() >= 1
    maxed = (Promotion.max_uses > 0) & (Promotion.uses >= Promotion.max_uses)
    assert Promotion.select().where(maxed).count() >= 1
    assert Product.select().where(Product.auto_terminate_days > 0).count() >= 1
    # `server` (issue 15) beside the types WHMCS imports bring
    assert {t for (t,) in Product.select(Product.type).distinct().tuples()} >= {
        "shared", "reseller", "vps", "dedicated", "server"}
    assert {c for (c,) in Client.select(Client.status).distinct().tuples()} >= {"active"}
    assert Admin.select().where(Admin.login == "ops", Admin.role == "full").exists()
    assert {r for (r,) in Admin.select(Admin.role).tuples()} == {"full", "sales", "support"}
    assert {t for (t,) in CancellationRequest.select(CancellationRequest.type)
            .where(CancellationRequest.status == "open").tuples()} == {"immediate", "end_of_period"}
    assert {s for (s,) in ModuleJob.select(ModuleJob.status).tuples()} >= {"queued", "failed"}
    assert ModuleJob.select().where(ModuleJob.status == "failed", ModuleJob.last_error != "").exists()
    assert {s for (s,) in EmailOutbox.select(EmailOutbox.status).tuples()} >= {"sent", "queued"}


def test_summary_names_the_counts(db):
    summary = build()
    assert f"clients {Client.select().count()}" in summary
    assert f"services {Service.select().count()}" in summary
    assert f"invoices {Invoice.select().count()}" in summary
    assert f"suspended {Service.select().where(Service.status == 'suspended').count()}" in summary
    assert Client.select().count() == CLIENTS


# --- money ---------------------------------------------------------------------------------


def test_invoice_totals_are_the_sum_of_their_lines_and_payments_cover_paid_invoices(db):
    build()
    line_sums = dict(InvoiceLine.select(InvoiceLine.invoice, fn.SUM(InvoiceLine.amount))
                     .group_by(InvoiceLine.invoice).tuples())
    paid_sums = dict(Payment.select(Payment.invoice, fn.SUM(Payment.amount))
                     .group_by(Payment.invoice).tuples())
    invoices = list(Invoice.select())
    assert invoices and {i.status for i in invoices} == {"paid", "unpaid"}
    partial = 0
    for invoice in invoices:
        assert invoice.id in line_sums, f"invoice {invoice.id} has no lines"
        assert invoice.total == Invoice.total.python_value(line_sums[invoice.id])
        assert isinstance(invoice.total, Decimal) and invoice.total >= 0
        payments = Invoice.total.python_value(paid_sums.get(invoice.id, 0))
        assert invoice.amount_paid == payments
        if invoice.status == "paid":
            assert payments == invoice.total and invoice.paid_date is not None
            assert invoice.date <= invoice.paid_date <= TODAY
        else:
            assert payments < invoice.total and invoice.paid_date is None
            partial += payments > 0
    assert partial >= 1  # a partly paid invoice shows a balance
    # Credit balances are the sum of their movements.
    credit = dict(CreditEntry.select(CreditEntry.client, fn.SUM(CreditEntry.amount))
                  .group_by(CreditEntry.client).tuples())
    for client in Client.select():
        assert client.credit == Client.credit.python_value(credit.get(client.id, 0))


def test_first_payment_and_recurring_amounts_come_from_the_catalog(db):
    build()
    prices = {(p.product_id, p.cycle): p for p in ProductPrice.select()}
    order_lines = defaultdict(list)  # (item type, id) -> lines on the order's first invoice
    for line in InvoiceLine.select().where(InvoiceLine.kind.in_(
            (LineKind.FIRST, LineKind.SETUP, LineKind.DISCOUNT, LineKind.CUSTOM))):
        order_lines[(line.item_type, line.item_id)].append(line)
    custom = promoted = 0
    for service in Service.select().where(Service.billing_cycle != "free"):
        price = prices[(service.product_id, service.billing_cycle)]
        first = order_lines.get((ItemType.SERVICE, service.id), [])
        if first:  # fraud orders were never invoiced
            assert service.first_payment_amount == sum(line.amount for line in first)
            amounts = {line.kind: line.amount for line in first}
            assert amounts[LineKind.FIRST] >= price.price  # the price, plus any configurable options
            assert amounts.get(LineKind.SETUP, Decimal("0.00")) == price.setup_fee
            if LineKind.DISCOUNT in amounts:
                assert service.promotion_id is not None and amounts[LineKind.DISCOUNT] < 0
            promoted += LineKind.DISCOUNT in amounts
            if service.promotion_id is None and Cycle(service.billing_cycle).is_recurring:
                custom += service.recurring_amount != amounts[LineKind.FIRST]
        renewals = InvoiceLine.select(InvoiceLine.amount).where(
            InvoiceLine.item_type == "service", InvoiceLine.item_id == service.id,
            InvoiceLine.kind == LineKind.RENEWAL)
        assert {line.amount for line in renewals} <= {service.recurring_amount}
        if service.billing_cycle == "one_time":
            assert service.recurring_amount == 0
    assert custom >= 1 and promoted >= 1  # legacy prices and promotions both show
    for service in Service.select().where(Service.billing_cycle == "free"):
        assert service.recurring_amount == 0 and service.first_payment_amount == 0
    for domain in Domain.select():
        first = order_lines.get((ItemType.DOMAIN, domain.id), [])
        if first:
            assert domain.first_payment_amount == sum(line.amount for line in first)
        renewals = InvoiceLine.select(InvoiceLine.amount).where(
            InvoiceLine.item_type == "domain", InvoiceLine.item_id == domain.id,
            InvoiceLine.kind == LineKind.RENEWAL)
        assert {line.amount for line in renewals} <= {domain.recurring_amount}


def test_passwords_and_epp_codes_are_stored_encrypted(db):
    build()
    with_password = Service.select().where(Service.username != "")
    assert with_password.count() > 0
    for service in with_password:
        assert service.password.startswith(secrets.PREFIX)
        assert len(secrets.decrypt(service.password)) == 14
    transfers = Domain.select().where(Domain.kind == "transfer")
    assert all(secrets.decrypt(d.epp_code) for d in transfers)
    assert not Domain.select().where(Domain.kind == "register", Domain.epp_code != "").exists()


# --- dates -------------------------------------------------------------------------------


def _item_lines():
    """Each item's period lines (first-order and renewal lines), in period order."""
    lines = defaultdict(list)
    query = (InvoiceLine.select(InvoiceLine, Invoice)
             .join(Invoice).where(InvoiceLine.kind.in_((LineKind.FIRST, LineKind.RENEWAL)))
             .order_by(InvoiceLine.period_start))
    for line in query:
        lines[(line.item_type, line.item_id)].append(line)
    return lines


def _check_history(item_type, item, cycle, months, lines, *, ordered):
    """Periods run from the registration in whole cycles and all but the last are paid.

    The NDD is what paying leaves (models/invoicing.py): the start of an unpaid renewal
    period, the end of the last paid one. An ordered item's first period is its order's
    first-payment line, and the order already set the NDD to that period's end."""
    where = f"{item_type} {item.id}"
    assert item.anchor_day == item.registration_date.day, where
    if cycle == "free":
        assert item.next_due_date is None and not lines, where
        return
    first_end = add_months_anchored(item.registration_date, months, item.anchor_day) if months else None
    if not lines:  # ordered but never invoiced (fraud): as the order left it
        assert ordered and item.next_due_date == first_end, where
        return
    assert lines[0].period_start == item.registration_date, where
    expected_kinds = [LineKind.FIRST if ordered else LineKind.RENEWAL] + [LineKind.RENEWAL] * (len(lines) - 1)
    assert [line.kind for line in lines] == expected_kinds, where
    if cycle == "one_time":
        assert len(lines) == 1 and lines[0].period_end is None, where
        expected = None if lines[0].invoice.status == "paid" else item.registration_date
        assert item.next_due_date == expected, where
        return
    for index, line in enumerate(lines):
        if index:
            assert line.period_start == lines[index - 1].period_end, where
        assert line.period_end == add_months_anchored(line.period_start, months, item.anchor_day), where
        assert line.period_end == add_months_anchored(item.registration_date, months * (index + 1),
                                                      item.anchor_day), where
        if index < len(lines) - 1:
            assert line.invoice.status == "paid", where
    last = lines[-1]
    assert last.invoice.due_date == last.period_start, where
    if last.invoice.status == "paid" or last.kind == LineKind.FIRST:
        assert item.next_due_date == last.period_end, where
    else:
        assert item.next_due_date == last.period_start, where


def test_next_due_dates_follow_anchor_day_cycle_and_billing_history(db):
    build()
    lines = _item_lines()
    checked = defaultdict(int)
    for service in Service.select():
        _check_history("service", service, service.billing_cycle, Cycle(service.billing_cycle).months,
                       lines.get((ItemType.SERVICE, service.id), []), ordered=True)
        checked["service"] += 1
    for addon in ServiceAddon.select():
        _check_history("addon", addon, addon.billing_cycle, Cycle(addon.billing_cycle).months,
                       lines.get((ItemType.ADDON, addon.id), []), ordered=False)
        checked["addon"] += 1
    for domain in Domain.select():
        _check_history("domain", domain, "annually", 12 * domain.years,
                       lines.get((ItemType.DOMAIN, domain.id), []), ordered=True)
        checked["domain"] += 1
    assert min(checked.values()) > 0 and len(checked) == 3
    # Anchors on the 29th-31st exist and still land on their day when the month has it.
    late = Service.select().where(Service.anchor_day >= 29, Service.next_due_date.is_null(False))
    assert late.count() >= 1
    for service in late:
        ndd = service.next_due_date
        assert ndd.day == min(service.anchor_day, ndd.days_in_month)
    # Domains renew for as many years as they were registered for.
    assert Domain.select().where(Domain.years > 1).exists()


def test_overdue_lines_match_the_services_suspended_for_non_payment(db):
    build()
    threshold = TODAY.subtract(days=RULES.suspend_days)
    overdue_services = set()
    query = (InvoiceLine.select(InvoiceLine.item_type, InvoiceLine.item_id)
             .join(Invoice).where(Invoice.status == "unpaid", Invoice.due_date <= threshold,
                                  InvoiceLine.item_type.is_null(False)).tuples())
    for item_type, item_id in query:
        if item_type == ItemType.ADDON:
            item_id = ServiceAddon.get_by_id(item_id).service_id
        elif item_type == ItemType.DOMAIN:
            assert Domain.get_by_id(item_id).status == "pending"  # a new order awaiting payment
            continue
        overdue_services.add(item_id)
    assert overdue_services
    for service in Service.select().where(Service.id.in_(list(overdue_services))):
        non_payment = service.status == "suspended" and service.suspension_reason in ("", OVERDUE_REASON)
        exempt = service.status == "active" and service.override_suspend
        assert non_payment or exempt or service.status == "pending", service.id
    for service in Service.select().where(Service.status == "suspended",
                                          Service.suspension_reason.in_(("", OVERDUE_REASON))):
        assert service.id in overdue_services
        assert TODAY.subtract(days=RULES.terminate_days) < service.next_due_date <= threshold


# --- constraints -------------------------------------------------------------------------


def test_constraints_hold_and_the_database_keeps_working_after_the_build(db):
    build()
    if is_sqlite(db):
        assert db.execute_sql("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    # One live renewal line per item and period.
    duplicates = (InvoiceLine.select(InvoiceLine.item_type, InvoiceLine.item_id, InvoiceLine.period_start)
                  .where(InvoiceLine.kind == LineKind.RENEWAL, InvoiceLine.cancelled == False)  # noqa: E712
                  .group_by(InvoiceLine.item_type, InvoiceLine.item_id, InvoiceLine.period_start)
                  .having(fn.COUNT(InvoiceLine.id) > 1))
    assert duplicates.count() == 0
    numbers = [o.number for o in Order.select(Order.number)]
    assert len(numbers) == len(set(numbers)) and all(len(n) == 10 and n.isdigit() for n in numbers)
    # Open cancellation requests: active, non-free services with nothing left unpaid.
    for request in CancellationRequest.select().where(CancellationRequest.status == "open"):
        service = request.service
        assert service.status == "active" and service.billing_cycle != "free"
        unpaid = (InvoiceLine.select().join(Invoice)
                  .where(Invoice.status == "unpaid", InvoiceLine.item_type == "service",
                         InvoiceLine.item_id == service.id))
        assert not unpaid.exists()
    # New rows after the build get fresh ids (PostgreSQL sequences were moved on).
    client = Client.create(first_name="New", last_name="Client", email="new@example.com")
    assert client.id == CLIENTS + 1
    invoice = Invoice.create(client=client, date=TODAY, due_date=TODAY, payment_method="card")
    assert invoice.id == Invoice.select(fn.MAX(Invoice.id)).scalar()


def test_a_database_with_data_is_refused_and_left_alone(db):
    build()
    before = digest()
    with pytest.raises(ValidationError) as refused:
        build(seed=9)
    assert refused.value.field == "database"
    assert digest() == before
    with pytest.raises(ValidationError) as bad_count:
        build_demo(seed=1, clients=0, today=TODAY, owner_login="ops")
    assert bad_count.value.field == "clients"
    wipe()
    secrets.configure("")  # no key: passwords could not be stored encrypted, so nothing is built
    with pytest.raises(secrets.MissingSecretKey):
        build()
    assert Client.select().count() == 0


def test_an_existing_admin_is_kept_and_the_staff_added(db):
    Admin.create(login="ops", name="Ops", role="support")
    build()
    assert Admin.select().where(Admin.login == "ops").count() == 1
    assert Admin.get(Admin.login == "ops").role == "support"
    assert {a.login: a.role for a in Admin.select()} == {"ops": "support", "sales": "sales",
                                                         "support": "support"}


def test_the_daily_run_on_the_demo_day_finds_no_billing_left_undone(db):
    """Invoices, suspensions and terminations are already where the daily run would put them."""
    from hostdesk.automation.cron import run_daily
    from hostdesk.models.clock import Clock

    build()
    report = run_daily(RULES, Clock().on(TODAY), dry_run=True, send_emails=False)
    for task in ("invoices", "suspensions", "terminations", "fixed_term"):
        assert report.tasks[task]["done"] == 0, (task, report.tasks[task])
    # Immediate cancellation requests wait for the next run; end-of-period ones for their NDD.
    immediate = CancellationRequest.select().where(CancellationRequest.status == "open",
                                                   CancellationRequest.type == "immediate").count()
    assert report.tasks["cancellations"]["done"] == immediate > 0


# --- the catalog, built through the setup functions (issue 15) --------------------------------


def test_the_demo_catalog_was_made_by_the_setup_functions_and_round_trips_as_a_file(db):
    from hostdesk.models.catalog_file import apply_catalog, export_catalog
    from hostdesk.models.schema import ActivityLog
    from hostdesk.models.products import product_detail

    build()
    # Every product saves as it is: its welcome email is a built-in template (issue 15).
    vps = Product.get(Product.name == "VPS Small")
    assert vps.welcome_email == "welcome_vps" and product_detail(vps.id).options
    assert ActivityLog.select().where(ActivityLog.action == "product.add").count() == \
        Product.select().count()
    assert ActivityLog.select().where(ActivityLog.action == "client.add").count() == CLIENTS
    before = digest()
    report = apply_catalog(export_catalog(), path="catalog.toml", admin=SYSTEM_ADMIN,
                           modules=("none",))
    assert not report.changed and digest() == before
