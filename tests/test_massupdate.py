"""Mass update rules (rules §3, §6, §12): preview, all-or-nothing apply, prorata, audit."""

from dataclasses import replace
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing, massupdate
from hostdesk.models.cycles import DayBasis
from hostdesk.models.errors import PermissionDenied, ValidationErrors
from hostdesk.models.schema import ActivityLog, Admin, Invoice, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
SETTINGS = Settings()


@pytest.fixture
def admin(db):
    make.ensure_template("invoice_created")
    return Admin.create(login="ada", role="full")


def test_fields_apply_in_one_go_with_one_log_row_each(admin):
    product = make.product(prices={"monthly": "5.00", "annually": "50.00"})
    ids = [make.service(product_row=product).id for _ in range(30)]
    change = massupdate.parse_mass_change({"recurring_amount": "7.77", "status": "suspended",
                                           "payment_method": "paypal",
                                           "override_suspend_until": "never"})
    result = massupdate.apply(ids, change, admin, SETTINGS, pendulum.date(2026, 1, 1))
    assert (result.updated, result.refused) == (30, 0)
    rows = list(Service.select().where(Service.id.in_(ids)))
    assert {(s.recurring_amount, s.status, s.payment_method, s.override_suspend,
             s.override_suspend_until, s.version) for s in rows} == {
        (D("7.77"), "suspended", "paypal", True, None, 2)}
    logs = list(ActivityLog.select().where(ActivityLog.action == "service.mass_update"))
    assert sorted(l.object_id for l in logs) == sorted(ids)
    assert '"recurring_amount": "10.00"' in logs[0].before and '"7.77"' in logs[0].after


def test_preview_refuses_cycles_without_price_and_apply_skips_them(admin):
    priced = make.product(prices={"monthly": "5.00", "annually": "50.00"})
    unpriced = make.product(prices={"monthly": "5.00"})
    a, b = make.service(product_row=priced), make.service(product_row=unpriced)
    change = massupdate.parse_mass_change({"billing_cycle": "annually"})
    plan = massupdate.preview([a.id, b.id], change, SETTINGS)
    assert [(i.service_id, i.refused) for i in plan.items] == [
        (a.id, ""), (b.id, "its product has no price for annually")]
    assert plan.items[0].before == {"billing_cycle": "monthly"}
    assert plan.items[0].after == {"billing_cycle": "annually"}
    massupdate.apply([a.id, b.id], change, admin, SETTINGS, pendulum.date(2026, 1, 1))
    assert Service.get_by_id(a.id).billing_cycle == "annually"
    assert Service.get_by_id(b.id).billing_cycle == "monthly"


def test_bad_values_are_all_named_and_nothing_written(admin):
    with pytest.raises(ValidationErrors) as error:
        massupdate.parse_mass_change({"recurring_amount": "-1", "next_due_date": "2026-02-30",
                                      "status": "asleep", "colour": "red"})
    assert sorted(e.field for e in error.value.errors) == [
        "colour", "next_due_date", "recurring_amount", "status"]
    with pytest.raises(ValidationErrors, match="tick at least one"):
        massupdate.parse_mass_change({})


@pytest.mark.parametrize("basis,total", [(DayBasis.CALENDAR, "18.39"), (DayBasis.THIRTY_DAY, "19.00")])
def test_ndd_with_prorata_invoice_moves_only_when_paid(admin, basis, total):
    client = make.client()
    a = make.service(client, next_due_date=pendulum.date(2012, 1, 1), recurring_amount=D("30.00"))
    b = make.service(client, next_due_date=pendulum.date(2012, 1, 5), recurring_amount=D("60.00"))
    settings = replace(SETTINGS, prorata_day_basis=basis)
    change = massupdate.parse_mass_change({"next_due_date": "2012-01-10"}, create_prorata_invoice=True)
    plan = massupdate.preview([a.id, b.id], change, settings)
    assert plan.prorata_total == D(total)
    result = massupdate.apply([a.id, b.id], change, admin, settings, pendulum.date(2012, 1, 1))
    [invoice_id] = result.invoice_ids
    assert Invoice.get_by_id(invoice_id).total == D(total)
    assert Service.get_by_id(a.id).next_due_date == pendulum.date(2012, 1, 1)
    invoicing.record_payment(invoice_id, total, date=pendulum.date(2012, 1, 2), method="card",
                             admin=as_login("ada"))
    assert {Service.get_by_id(s.id).next_due_date for s in (a, b)} == {pendulum.date(2012, 1, 10)}


def test_ndd_without_prorata_sets_it_directly(admin):
    service = make.service(next_due_date=pendulum.date(2026, 1, 1))
    change = massupdate.parse_mass_change({"next_due_date": "2026-03-31"})
    massupdate.apply([service.id], change, admin, SETTINGS, pendulum.date(2026, 1, 1))
    fresh = Service.get_by_id(service.id)
    assert (fresh.next_due_date, fresh.anchor_day) == (pendulum.date(2026, 3, 31), 31)


def test_permission_mass_update(admin):
    sales = Admin.create(login="sid", role="sales")
    service = make.service()
    with pytest.raises(PermissionDenied, match="mass update"):
        massupdate.apply([service.id], massupdate.parse_mass_change({"status": "active"}), sales,
                         SETTINGS, pendulum.date(2026, 1, 1))


def test_all_or_nothing_when_the_database_refuses_midway(admin, monkeypatch):
    ids = [make.service().id for _ in range(5)]
    from hostdesk.models import audit

    def explode(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", explode)
    with pytest.raises(RuntimeError):
        massupdate.apply(ids, massupdate.parse_mass_change({"recurring_amount": "1.00"}), admin,
                         SETTINGS, pendulum.date(2026, 1, 1))
    assert {s.recurring_amount for s in Service.select()} == {D("10.00")}
