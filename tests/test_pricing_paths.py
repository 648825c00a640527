"""One recurring price (issue 14, hostdesk.models.pricing): the service page's auto recalculate, the
order quote and the upgrade quote are given the same cases and must give the same amounts.

Before the fix the service page priced a quantity option set to 0 as one unit (12.00 where
the upgrade quote said 10.00) and kept a promotion's discount after its renewals were used
(5.00 where the upgrade quote said 10.00)."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import secrets, service_page, upgrades
from hostdesk.models.clock import Clock
from hostdesk.models.orders import LineRequest, OrderRequest, quote_order
from hostdesk.models.schema import (
    Admin,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    Promotion,
    Service,
    ServiceConfigOption,
)
from hostdesk.models.settings import Settings
from hostdesk.models.upgrades import OptionChoice
from tests import factories as make

D = Decimal
TODAY = pendulum.date(2026, 5, 10)
SETTINGS = Settings()

# (case, units of the quantity option, promotion, renewals it already discounted, expected)
CASES = [
    ("catalog price", 0, None, 0, "10.00"),
    ("quantity option set to 0", 0, None, 0, "10.00"),
    ("two units of the option", 2, None, 0, "14.00"),
    ("promotion with renewals left", 0, "HALF", 0, "5.00"),
    ("promotion and options", 2, "HALF", 0, "7.00"),
    ("promotion's renewals used up", 0, "HALF", 1, "10.00"),
    ("promotion for another cycle", 0, "YEARLY", 0, "10.00"),
    ("fixed amount off for ever", 2, "TWO_OFF", 5, "12.00"),
]


@pytest.fixture
def catalog(db):
    secrets.configure("test")
    make.ensure_template("invoice_created")
    admin = Admin.create(login="ada", role="full")
    starter = make.product(name="Starter", prices={"monthly": "4.00"})
    pro = make.product(name="Pro", prices={"monthly": "10.00"})
    ips = ConfigOption.create(product=pro, name="Extra IPs", option_type="quantity")
    unit = ConfigOptionChoice.create(option=ips, name="IP")
    ConfigOptionPrice.create(choice=unit, cycle="monthly", price=D("2.00"))
    Promotion.create(code="HALF", type="percentage", value=D("50"), recurring=True, recur_for=1)
    Promotion.create(code="YEARLY", type="percentage", value=D("50"), recurring=True,
                     cycles="annually")
    Promotion.create(code="TWO_OFF", type="fixed", value=D("2.00"), recurring=True)
    return admin, starter, pro, ips, unit


def _service(product, promotion, used):
    code = Promotion.get(Promotion.code == promotion) if promotion else None
    return make.service(product_row=product, next_due_date=pendulum.date(2026, 5, 25),
                        recurring_amount=D("99.00"), promotion=code, promotion_uses=used)


def page_recalculate(catalog, units, promotion, used) -> Decimal:
    admin, _, pro, ips, unit = catalog
    service = _service(pro, promotion, used)
    ServiceConfigOption.create(service=service, option=ips, choice=unit, quantity=units)
    saved = service_page.save_service_page(service.id, service.version, {}, admin,
                                           clock=Clock("UTC", TODAY), settings=SETTINGS,
                                           auto_recalculate=True)
    return Service.get_by_id(saved.service.id).recurring_amount


def upgrade_quote(catalog, units, promotion, used) -> Decimal:
    _, starter, pro, ips, unit = catalog
    service = _service(starter, promotion, used)
    quote = upgrades.quote_upgrade(service.id, pro.id, "monthly", TODAY, SETTINGS,
                                   {ips.id: OptionChoice(unit.id, units)})
    return quote.new_amount


def order_quote(catalog, promotion) -> Decimal:
    _, _, pro, _, _ = catalog
    client = make.client()
    quote = quote_order(OrderRequest(client_id=client.id, promo_code=promotion or "",
                                     lines=[LineRequest(product=pro.id, cycle="monthly")]), TODAY)
    assert not [e for e in quote.errors if e.field != "promo_code"]
    return quote.lines[0].recurring_amount


@pytest.mark.parametrize("case, units, promotion, used, expected", CASES,
                         ids=[case[0] for case in CASES])
def test_every_path_gives_the_same_recurring_price(catalog, case, units, promotion, used,
                                                   expected):
    amounts = {"service page": page_recalculate(catalog, units, promotion, used),
               "upgrade quote": upgrade_quote(catalog, units, promotion, used)}
    if units == 0 and used == 0 and promotion != "YEARLY":
        # what an order can express: no options chosen, no renewal used yet
        amounts["order quote"] = order_quote(catalog, promotion)
    assert amounts == {path: D(expected) for path in amounts}
