"""Upgrades and downgrades through the database (rules §7), on both engines."""

import json
from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing, upgrades
from hostdesk.models.cycles import DayBasis
from hostdesk.models.errors import PermissionDenied, RuleViolation, ValidationError
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from hostdesk.models.renewals import generate_due_invoices
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    Client,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    CreditEntry,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Order,
    Promotion,
    PromotionProduct,
    Service,
    ServiceConfigOption,
    Upgrade,
)
from hostdesk.models.settings import Settings
from hostdesk.models.upgrades import OptionChoice
from tests import factories as make
from tests.factories import as_login

D = Decimal
d = pendulum.date
TODAY = d(2026, 4, 19)  # 12 days before the NDD, in April (30 days)
NDD = d(2026, 5, 1)
SETTINGS = Settings()
BOSS = "boss"


@pytest.fixture(autouse=True)
def setup(db):
    make.ensure_template("invoice_created")
    Admin.create(login=BOSS, role="full")


@pytest.fixture
def plans(db):
    small = make.product(name="Small", prices={"monthly": "10.00", "annually": "100.00"})
    big = make.product(name="Big", prices={"monthly": "25.00", "annually": "150.00"})
    return small, big


def on_small(plans, **kw):
    fields = dict(next_due_date=NDD, recurring_amount=D("10.00"), billing_cycle="monthly")
    fields.update(kw)
    return make.service(product_row=plans[0], **fields)


def pay(invoice, amount=None, ref="TX1", date=TODAY):
    invoice = Invoice.get_by_id(invoice.id)
    return invoicing.record_payment(invoice.id, amount or str(invoice.total), date=date,
                                    method="card", transaction_ref=ref, admin=as_login(BOSS))


def figures(quote):
    return str(quote.credit), str(quote.charge), str(quote.payable)


def counts():
    return (Order.select().count(), Upgrade.select().count(), Invoice.select().count(),
            InvoiceLine.select().count(), ActivityLog.select().count())


# --- the worked case of rules §7 --------------------------------------------------------------


def test_worked_case_quote_order_invoice_and_nothing_changes_before_payment(plans):
    small, big = plans
    service = on_small(plans)
    quote = upgrades.quote_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS)
    assert figures(quote) == ("4.00", "10.00", "6.00")
    assert (quote.days_remaining, quote.old_period_days, quote.new_period_days) == (12, 30, 30)
    assert quote.new_next_due_date == NDD
    assert quote.new_amount == D("25.00")

    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS,
                                   admin=find_admin(BOSS), expected_payable=D("6.00"))
    invoice = made.invoice
    assert (invoice.total, invoice.status, invoice.due_date, invoice.order_id) == (
        D("6.00"), "unpaid", TODAY, made.order.id)
    line = InvoiceLine.get(InvoiceLine.invoice == invoice.id)
    assert (line.kind, line.upgrade, line.item_id, line.period_start, line.period_end) == (
        "upgrade", made.upgrade.id, service.id, TODAY, NDD)
    assert "Small (Monthly) → Big (Monthly)" in line.description
    assert "(2026-04-19 – 2026-04-30)" in line.description
    upgrade = Upgrade.get_by_id(made.upgrade.id)
    assert (upgrade.status, upgrade.credit, upgrade.charge, upgrade.payable, upgrade.new_amount) == (
        "pending", D("4.00"), D("10.00"), D("6.00"), D("25.00"))
    assert len(made.order.number) == 10 and made.order.status == "pending"

    unchanged = Service.get_by_id(service.id)
    assert (unchanged.product_id, unchanged.billing_cycle, unchanged.recurring_amount) == (
        small.id, "monthly", D("10.00"))
    assert ModuleJob.select().count() == 0
    assert not EmailOutbox.select().where(EmailOutbox.template == "upgrade_confirmation").exists()


def test_paying_the_upgrade_invoice_applies_it_once(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    result = pay(made.invoice)
    assert result.invoice.status == "paid"
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.billing_cycle, fresh.recurring_amount, fresh.next_due_date) == (
        big.id, "monthly", D("25.00"), NDD)
    assert fresh.version == service.version + 1
    job = ModuleJob.get()
    assert (job.service_id, job.command, job.status, job.source) == (
        service.id, "change_package", "queued", "upgrade")
    email = EmailOutbox.get(EmailOutbox.template == "upgrade_confirmation")
    assert "from Small (Monthly) to Big (Monthly)" in email.body
    assert (Upgrade.get().status, Order.get().status) == ("applied", "active")
    log = ActivityLog.get(ActivityLog.action == "service.upgrade")
    assert json.loads(log.before)["recurring_amount"] == "10.00"
    assert json.loads(log.after)["recurring_amount"] == "25.00"

    again = pay(made.invoice)  # the same gateway transaction recorded again
    assert again.duplicate
    assert upgrades.apply_upgrade(made.upgrade.id, BOSS) is False  # a replayed application
    assert ModuleJob.select().count() == 1
    assert EmailOutbox.select().where(EmailOutbox.template == "upgrade_confirmation").count() == 1


def test_partial_payment_changes_nothing_until_the_balance_is_paid(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    pay(made.invoice, "2.00", ref="A")
    assert Service.get_by_id(service.id).product_id == small.id
    assert Upgrade.get().status == "pending"
    pay(made.invoice, "4.00", ref="B")
    assert Service.get_by_id(service.id).product_id == big.id


def test_upgrade_email_template_problems_never_undo_the_payment(plans):
    small, big = plans
    big.upgrade_email = "no_such_template"
    big.save()
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    pay(made.invoice)
    assert Service.get_by_id(service.id).product_id == big.id
    log = ActivityLog.get(ActivityLog.action == "email.not_queued")
    assert "no_such_template" in log.description


# --- a second upgrade ---------------------------------------------------------------------------


def test_second_upgrade_is_refused_while_the_first_is_unpaid_and_nothing_is_written(plans):
    small, big = plans
    service = on_small(plans)
    first = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    before = counts()
    with pytest.raises(RuleViolation, match=f"invoice #{first.invoice.id}"):
        upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    with pytest.raises(RuleViolation, match="waiting for payment"):  # the quote says it first
        upgrades.quote_upgrade(service.id, big.id, "annually", TODAY, SETTINGS)
    assert counts() == before


def test_the_unique_index_refuses_a_second_pending_upgrade_even_past_the_check(plans, monkeypatch):
    small, big = plans
    service = on_small(plans)
    upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    # a racing admin: both passed the checks before either wrote
    monkeypatch.setattr(upgrades, "_refuse_second_upgrade", lambda *a: None)
    monkeypatch.setattr(upgrades, "_check_no_upgrade_waiting", lambda *a: None)
    written = []
    real_write = upgrades._write_upgrade
    monkeypatch.setattr(upgrades, "_write_upgrade", lambda *a: written.append(1) or real_write(*a))
    before = counts()
    with pytest.raises(RuleViolation, match="already has an upgrade waiting"):
        upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    assert written == [1]  # it got as far as writing: the index refused it
    assert counts() == before


def test_second_upgrade_in_the_same_period_credits_the_amount_then_in_force(plans):
    small, big = plans
    huge = make.product(name="Huge", prices={"monthly": "40.00"})
    service = on_small(plans)
    first = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    pay(first.invoice)
    later = d(2026, 4, 25)  # 6 days left of April
    quote = upgrades.quote_upgrade(service.id, huge.id, "monthly", later, SETTINGS)
    # credit 25.00 × 6/30 (the amount in force), not the 6.00 the first upgrade charged
    assert figures(quote) == ("5.00", "8.00", "3.00")
    second = upgrades.create_upgrade(service.id, huge.id, "monthly", later, SETTINGS, admin=find_admin(BOSS))
    pay(second.invoice, ref="TX2", date=later)
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.recurring_amount, fresh.next_due_date) == (huge.id, D("40.00"), NDD)
    assert ModuleJob.select().count() == 2


def test_cancelling_the_upgrade_invoice_cancels_the_upgrade_and_frees_the_service(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    invoicing.cancel_invoice(made.invoice.id, as_login(BOSS))  # closes the upgrade it bills
    assert upgrades.cancel_upgrades_of_invoice(made.invoice.id, BOSS) == []
    assert (Upgrade.get().status, Order.get().status) == ("cancelled", "cancelled")
    assert Service.get_by_id(service.id).product_id == small.id
    upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    assert Upgrade.select().where(Upgrade.status == "pending").count() == 1


def test_an_upgrade_whose_lines_were_cancelled_elsewhere_does_not_block_a_new_one(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    # e.g. a cancellation request cancels the service's unpaid lines
    invoicing.cancel_lines(invoicing.unpaid_lines_of_service(service.id), as_login(BOSS), "cancel")
    second = upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    assert Upgrade.get_by_id(made.upgrade.id).status == "cancelled"
    assert second.upgrade.status == "pending"


def test_reopened_upgrade_invoice_waits_again_and_applies_on_payment(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    invoicing.cancel_invoice(made.invoice.id, as_login(BOSS))
    assert Upgrade.get().status == "cancelled"
    invoicing.reopen_invoice(made.invoice.id, as_login(BOSS))  # reinstates the upgrade it bills
    assert (Upgrade.get().status, Order.get().status) == ("pending", "pending")
    pay(made.invoice)
    assert Service.get_by_id(service.id).product_id == big.id


def test_reopening_an_old_upgrade_invoice_after_a_newer_upgrade_is_refused(plans):
    small, big = plans
    service = on_small(plans)
    old = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    invoicing.cancel_invoice(old.invoice.id, as_login(BOSS))
    upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    with pytest.raises(RuleViolation, match="later upgrade of service"):
        invoicing.reopen_invoice(old.invoice.id, as_login(BOSS))
    assert Invoice.get_by_id(old.invoice.id).status == "cancelled"  # nothing reopened
    assert Service.get_by_id(service.id).product_id == small.id


def test_cancel_upgrade_refuses_an_applied_one(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    pay(made.invoice)
    with pytest.raises(ValidationError, match="applied"):
        upgrades.cancel_upgrade(made.upgrade.id, BOSS)


# --- downgrades ----------------------------------------------------------------------------------


def test_downgrade_credit_with_credit_on_downgrade(plans):
    small, big = plans
    service = make.service(product_row=big, next_due_date=NDD, recurring_amount=D("25.00"))
    made = upgrades.create_upgrade(service.id, small.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    quote = made.quote
    assert figures(quote) == ("10.00", "4.00", "0.00")
    assert quote.credit_to_client == D("6.00")
    assert made.upgrade.payable == D("-6.00")
    # a zero invoice is paid at once, which applies the downgrade and gives the credit
    assert Invoice.get_by_id(made.invoice.id).status == "paid"
    assert "client credit 6.00 on payment" in InvoiceLine.get().description
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.recurring_amount) == (small.id, D("10.00"))
    assert Client.get_by_id(service.client_id).credit == D("6.00")
    entry = CreditEntry.get()
    assert (entry.amount, entry.invoice_id) == (D("6.00"), made.invoice.id)
    assert ModuleJob.get().command == "change_package"


def test_downgrade_without_credit_on_downgrade(plans):
    small, big = plans
    service = make.service(product_row=big, next_due_date=NDD, recurring_amount=D("25.00"))
    settings = replace(SETTINGS, credit_on_downgrade=False)
    quote = upgrades.quote_upgrade(service.id, small.id, "monthly", TODAY, settings)
    assert (quote.payable, quote.credit_to_client) == (D("0.00"), D("0.00"))
    assert any("credit_on_downgrade is off" in w for w in quote.warnings)
    made = upgrades.create_upgrade(service.id, small.id, "monthly", TODAY, settings, admin=find_admin(BOSS))
    assert made.upgrade.payable == D("0.00")
    assert Service.get_by_id(service.id).product_id == small.id
    assert Client.get_by_id(service.client_id).credit == D("0.00")
    assert CreditEntry.select().count() == 0


# --- calendar: month ends, leap years, cycle changes -----------------------------------------------


def test_month_end_anchor_on_the_31st_keeps_the_ndd(plans):
    small, big = plans
    service = on_small(plans, next_due_date=d(2026, 3, 31), anchor_day=31)
    today = d(2026, 3, 19)  # [2026-02-28, 2026-03-31) has 31 days, 12 left
    made = upgrades.create_upgrade(service.id, big.id, "monthly", today, SETTINGS, admin=find_admin(BOSS))
    assert figures(made.quote) == ("3.87", "9.68", "5.81")
    assert made.quote.old_period_days == 31
    pay(made.invoice, date=today)
    fresh = Service.get_by_id(service.id)
    assert (fresh.next_due_date, fresh.anchor_day) == (d(2026, 3, 31), 31)
    generate_due_invoices(today, SETTINGS, admin=SYSTEM_ADMIN)  # the next renewal bills the new price
    line = InvoiceLine.select().where(InvoiceLine.kind == "renewal").get()
    assert (line.amount, line.period_start, line.period_end) == (D("25.00"), d(2026, 3, 31), d(2026, 4, 30))


def test_leap_february_and_leap_year(plans):
    small, big = plans
    service = on_small(plans, next_due_date=d(2028, 3, 1))
    quote = upgrades.quote_upgrade(service.id, big.id, "monthly", d(2028, 2, 18), SETTINGS)
    assert figures(quote) == ("4.14", "10.34", "6.20")
    assert quote.old_period_days == 29
    yearly_a = make.product(name="Year A", prices={"annually": "183.00"})
    yearly_b = make.product(name="Year B", prices={"annually": "366.00"})
    annual = make.service(product_row=yearly_a, billing_cycle="annually", recurring_amount=D("183.00"),
                          next_due_date=d(2029, 1, 1))
    quote = upgrades.quote_upgrade(annual.id, yearly_b.id, "annually", d(2028, 12, 20), SETTINGS)
    assert figures(quote) == ("6.00", "12.00", "6.00")
    assert quote.old_period_days == 366
    thirty = replace(SETTINGS, prorata_day_basis=DayBasis.THIRTY_DAY)
    quote = upgrades.quote_upgrade(annual.id, yearly_b.id, "annually", d(2028, 12, 20), thirty)
    assert figures(quote) == ("6.10", "12.20", "6.10")


def test_monthly_to_annually_then_the_renewal_bills_a_year(plans):
    small, big = plans
    service = on_small(plans)
    made = upgrades.create_upgrade(service.id, big.id, "annually", TODAY, SETTINGS, admin=find_admin(BOSS))
    assert figures(made.quote) == ("4.00", "4.93", "0.93")
    assert (made.quote.old_period_days, made.quote.new_period_days) == (30, 365)
    pay(made.invoice)
    fresh = Service.get_by_id(service.id)
    assert (fresh.billing_cycle, fresh.recurring_amount, fresh.next_due_date) == (
        "annually", D("150.00"), NDD)
    generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    line = InvoiceLine.select().where(InvoiceLine.kind == "renewal").get()
    assert (line.amount, line.period_start, line.period_end) == (D("150.00"), NDD, d(2027, 5, 1))


def test_annually_to_monthly_near_the_ndd(plans):
    small, big = plans
    yearly = make.product(name="Yearly", prices={"annually": "120.00"})
    monthly = make.product(name="Monthly", prices={"monthly": "15.00"})
    service = make.service(product_row=yearly, billing_cycle="annually", recurring_amount=D("120.00"),
                           next_due_date=d(2027, 1, 1))
    made = upgrades.create_upgrade(service.id, monthly.id, "monthly", d(2026, 12, 20), SETTINGS,
                                   admin=find_admin(BOSS))
    assert figures(made.quote) == ("3.95", "5.81", "1.86")
    assert (made.quote.old_period_days, made.quote.new_period_days) == (365, 31)
    pay(made.invoice, date=d(2026, 12, 20))
    fresh = Service.get_by_id(service.id)
    assert (fresh.billing_cycle, fresh.recurring_amount, fresh.next_due_date) == (
        "monthly", D("15.00"), d(2027, 1, 1))


def test_from_free_starts_a_cycle_on_the_upgrade_day(plans):
    small, big = plans
    free = make.product(name="Free", prices={})
    service = make.service(product_row=free, billing_cycle="free", recurring_amount=D("0.00"),
                           next_due_date=None, anchor_day=1)
    today = d(2026, 1, 31)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", today, SETTINGS, admin=find_admin(BOSS))
    assert figures(made.quote) == ("0.00", "25.00", "25.00")
    assert Service.get_by_id(service.id).next_due_date is None  # nothing until paid
    pay(made.invoice, date=today)
    fresh = Service.get_by_id(service.id)
    assert (fresh.billing_cycle, fresh.next_due_date, fresh.anchor_day) == ("monthly", d(2026, 2, 28), 31)


# --- configurable options ------------------------------------------------------------------------


@pytest.fixture
def options(plans):
    small, _ = plans
    disk = ConfigOption.create(product=small, name="Disk", option_type="dropdown", sort_order=1)
    disk_10 = ConfigOptionChoice.create(option=disk, name="10 GB", sort_order=1)
    disk_50 = ConfigOptionChoice.create(option=disk, name="50 GB", sort_order=2)
    ConfigOptionPrice.create(choice=disk_10, cycle="monthly", price=D("0.00"))
    ConfigOptionPrice.create(choice=disk_50, cycle="monthly", price=D("5.00"))
    ips = ConfigOption.create(product=small, name="Extra IPs", option_type="quantity", sort_order=2)
    ip = ConfigOptionChoice.create(option=ips, name="IP")
    ConfigOptionPrice.create(choice=ip, cycle="monthly", price=D("2.00"))
    return {"disk": disk, "10": disk_10, "50": disk_50, "ips": ips, "ip": ip}


def test_option_change_prorates_only_the_changed_options_and_keeps_a_custom_price(plans, options):
    small, _ = plans
    service = on_small(plans, recurring_amount=D("8.00"))  # a custom price below the catalog's
    ServiceConfigOption.create(service=service, option=options["disk"], choice=options["10"])
    changes = {options["disk"].id: OptionChoice(options["50"].id),
               options["ips"].id: OptionChoice(None, 2)}
    quote = upgrades.quote_upgrade(service.id, small.id, "monthly", TODAY, SETTINGS, changes)
    # nothing of the old choices is charged (0.00); 5.00 + 2 × 2.00 = 9.00 × 12/30 = 3.60
    assert figures(quote) == ("0.00", "3.60", "3.60")
    assert quote.new_amount == D("17.00")  # 8.00 kept + 9.00
    assert quote.option_changes == (("Disk", "10 GB", "50 GB"), ("Extra IPs", "0", "2"))
    made = upgrades.create_upgrade(service.id, small.id, "monthly", TODAY, SETTINGS,
                                   admin=find_admin(BOSS), config_changes=changes)
    assert "Disk: 10 GB → 50 GB" in InvoiceLine.get().description
    assert upgrades.current_config_choices(service.id) == {options["disk"].id: OptionChoice(options["10"].id)}
    pay(made.invoice)
    assert upgrades.current_config_choices(service.id) == {
        options["disk"].id: OptionChoice(options["50"].id), options["ips"].id: OptionChoice(options["ip"].id, 2)}
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.recurring_amount) == (small.id, D("17.00"))
    assert ModuleJob.get().command == "change_package"


def test_option_downgrade_gives_credit(plans, options):
    small, _ = plans
    service = on_small(plans, recurring_amount=D("15.00"))
    ServiceConfigOption.create(service=service, option=options["disk"], choice=options["50"])
    made = upgrades.create_upgrade(service.id, small.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS),
                                   config_changes={options["disk"].id: OptionChoice(options["10"].id)})
    assert figures(made.quote) == ("2.00", "0.00", "0.00")
    assert Client.get_by_id(service.client_id).credit == D("2.00")
    assert Service.get_by_id(service.id).recurring_amount == D("10.00")


def test_product_change_drops_the_old_products_options(plans, options):
    small, big = plans
    service = on_small(plans)
    ServiceConfigOption.create(service=service, option=options["disk"], choice=options["50"])
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS))
    pay(made.invoice)
    assert upgrades.current_config_choices(service.id) == {}


@pytest.mark.parametrize("changes, field, message", [
    (lambda o: {o["ips"].id: OptionChoice(None, -1)}, "option:{ips}", "quantity"),
    (lambda o: {o["disk"].id: OptionChoice(o["ip"].id)}, "option:{disk}", "is not a choice"),
    (lambda o: {999999: OptionChoice(None)}, "config_options", "not an option"),
])
def test_bad_option_changes_are_refused(plans, options, changes, field, message):
    small, _ = plans
    service = on_small(plans)
    with pytest.raises(ValidationError, match=message) as error:
        upgrades.quote_upgrade(service.id, small.id, "monthly", TODAY, SETTINGS, changes(options))
    assert error.value.field == field.format(ips=options["ips"].id, disk=options["disk"].id)


# --- auto recalculate (the manual upgrade path) ------------------------------------------------------


def test_recalculated_recurring_amount(plans, options):
    small, big = plans
    service = on_small(plans)
    ServiceConfigOption.create(service=service, option=options["disk"], choice=options["50"])
    ServiceConfigOption.create(service=service, option=options["ips"], choice=options["ip"], quantity=3)
    assert upgrades.recalculated_recurring_amount(service, small, "monthly") == D("21.00")
    lifetime = Promotion.create(code="LIFE10", type="percentage", value=D("10.00"), recurring=True)
    once = Promotion.create(code="ONCE", type="fixed", value=D("5.00"), recurring=False)
    override = Promotion.create(code="FLAT", type="price_override", value=D("7.00"), recurring=True)
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, lifetime) == D("18.90")
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, once) == D("21.00")
    # hostdesk.models.promotions: the price per cycle (product + options) becomes the override
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, override) == D("7.00")
    limited = Promotion.create(code="TWICE", type="fixed", value=D("1.00"), recurring=True, recur_for=2)
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, limited) == D("20.00")
    service.promotion_uses = 2  # both discounted renewals used: back to the full price
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, limited) == D("21.00")
    other = Promotion.create(code="BIGONLY", type="fixed", value=D("5.00"), recurring=True)
    PromotionProduct.create(promotion=other, product=big)
    assert upgrades.recalculated_recurring_amount(service, small, "monthly", None, other) == D("21.00")
    # the manual upgrade: another product, its own options (none) and price
    assert upgrades.recalculated_recurring_amount(service, big, "annually", None, lifetime) == D("135.00")
    assert upgrades.recalculated_recurring_amount(service, big, "free") == D("0.00")
    with pytest.raises(ValidationError) as error:
        upgrades.recalculated_recurring_amount(service, big, "quarterly")
    assert error.value.field == "new_cycle"


# --- promotions on the upgrade -------------------------------------------------------------------


def test_promotion_code_discounts_the_upgrade_invoice(plans):
    small, big = plans
    service = on_small(plans)
    Promotion.create(code="HALF", type="percentage", value=D("50.00"), max_uses=1)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS),
                                   promo_code="half")
    assert (made.quote.discount, made.quote.payable) == (D("3.00"), D("3.00"))
    lines = [(line.kind, line.amount) for line in invoicing.live_lines(made.invoice.id)]
    assert lines == [("upgrade", D("6.00")), ("discount", D("-3.00"))]
    assert made.invoice.total == D("3.00")
    assert (made.order.promo_code, Promotion.get().uses) == ("HALF", 1)
    pay(made.invoice)
    assert Service.get_by_id(service.id).recurring_amount == D("25.00")  # the promo was one-off
    other = on_small(plans)
    with pytest.raises(ValidationError, match="maximum of 1 times") as error:
        upgrades.quote_upgrade(other.id, big.id, "monthly", TODAY, SETTINGS, promo_code="HALF")
    assert error.value.field == "promo_code"


@pytest.mark.parametrize("promo, message", [
    (dict(code="OLD", type="fixed", value=D("1.00"), expiry_date=d(2026, 4, 18)), "expired"),
    (dict(code="SOON", type="fixed", value=D("1.00"), start_date=d(2026, 4, 20)), "not valid before"),
    (dict(code="YEAR", type="fixed", value=D("1.00"), cycles="annually"), "does not apply"),
])
def test_unusable_promotions_are_refused(plans, promo, message):
    small, big = plans
    Promotion.create(**promo)
    service = on_small(plans)
    with pytest.raises(ValidationError, match=message) as error:
        upgrades.quote_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, promo_code=promo["code"])
    assert error.value.field == "promo_code"
    with pytest.raises(ValidationError, match="no promotion with the code"):
        upgrades.quote_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, promo_code="NOPE")


# --- bad input: clear message, nothing written -------------------------------------------------------


@pytest.mark.parametrize("case, field, message", [
    ("same", "new_product", "already on Small, Monthly"),
    ("terminated", "service", "is terminated"),
    ("no_ndd", "next_due_date", "needs a next due date"),
    ("ndd_today", "next_due_date", "must be after today"),
    ("no_price", "new_cycle", "has no Quarterly price"),
    ("one_time", "new_cycle", "one-time"),
    ("bad_cycle", "new_cycle", "is not a billing cycle"),
    ("no_product", "new_product", "choose a product"),
    ("no_service", "service", "there is no service"),
])
def test_refusals(plans, case, field, message):
    small, big = plans
    service = on_small(plans, status="terminated" if case == "terminated" else "active",
                       next_due_date=None if case == "no_ndd" else (TODAY if case == "ndd_today" else NDD))
    service_id = 999999 if case == "no_service" else service.id
    product = {"same": small.id, "no_product": None}.get(case, big.id)
    cycle = {"no_price": "quarterly", "one_time": "one_time", "bad_cycle": "weekly"}.get(case, "monthly")
    before = counts()
    for call in (upgrades.quote_upgrade, lambda *a: upgrades.create_upgrade(*a, admin=find_admin(BOSS))):
        with pytest.raises(ValidationError, match=message) as error:
            call(service_id, product, cycle, TODAY, SETTINGS)
        assert error.value.field == field
    assert counts() == before


def test_permission_and_a_changed_quote_are_refused(plans):
    small, big = plans
    Admin.create(login="helpdesk", role="support")
    service = on_small(plans)
    before = counts()
    with pytest.raises(PermissionDenied, match="create upgrade/downgrade orders"):
        upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin("helpdesk"))
    with pytest.raises(RuleViolation, match="quote changed"):
        upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS, admin=find_admin(BOSS),
                                expected_payable=D("5.00"))
    assert counts() == before


def test_quote_warns_about_an_unpaid_renewal(plans):
    small, big = plans
    service = on_small(plans)
    generate_due_invoices(TODAY, SETTINGS, admin=SYSTEM_ADMIN)
    renewal = Invoice.get()
    quote = upgrades.quote_upgrade(service.id, big.id, "monthly", TODAY, SETTINGS)
    assert quote.warnings and f"#{renewal.id}" in quote.warnings[0]
