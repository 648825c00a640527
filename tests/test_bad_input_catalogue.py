"""Every input field, fed with the classic bad values: each gets a clear message naming the
field, and nothing is written (issue 9's catalogue; the screens call these same entry points).
"""

import subprocess
import sys
from pathlib import Path

import pendulum
import pytest

from hostdesk.models import invoicing, massupdate, services
from hostdesk.models.cancellations import request_cancellation
from hostdesk.models.clock import Clock
from hostdesk.models.errors import HostdeskError, ValidationError, ValidationErrors
from hostdesk.models.orders import DomainRequest, LineRequest, OrderRequest, place_order
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CancellationRequest,
    EmailOutbox,
    Invoice,
    Order,
    Payment,
    Service,
)
from tests import factories as make
from tests.factories import as_login

HOSTDESK = str(Path(sys.executable).with_name("hostdesk"))
TODAY = pendulum.date(2026, 5, 1)

TOO_LONG = "x" * 100_001
CONTROL = "abc\x00def"
SQL = "'; DROP TABLE service; --"
TEMPLATE = "{{ ''.__class__.__mro__ }}"

AMOUNTS = ["", "abc", "-1", "NaN", "inf", "-inf", "1e9", "1.234", "99999999999", CONTROL, SQL,
           TEMPLATE, TOO_LONG]
DATES = ["", "2026-02-30", "2026-13-01", "30/02/2026", "tomorrow", "0000-00-00", "2026-1-1",
         CONTROL, SQL, TOO_LONG]
QUANTITIES = ["", "0", "-3", "1.5", "abc", "1000000", "NaN", CONTROL, SQL]
TEXTS = [CONTROL, TOO_LONG, "\u202eevil"]
IDS = ["", "0", "-1", "abc", "999999999", "1.5", SQL, "9" * 30]

COUNTED = []


def snapshot():
    return tuple(m.select().count() for m in (Service, Invoice, Payment, Order, ActivityLog,
                                              EmailOutbox, CancellationRequest))


def refused(call, field_hint):
    """`call` must raise a validation error mentioning `field_hint` and write nothing."""
    before = snapshot()
    with pytest.raises((ValidationError, ValidationErrors, HostdeskError)) as error:
        call()
    assert field_hint in str(error.value), f"{error.value!r} does not name {field_hint}"
    assert snapshot() == before
    COUNTED.append(field_hint)


@pytest.fixture
def world(db):
    make.ensure_template("invoice_created")
    admin = Admin.create(login="ada", role="full")
    client = make.client()
    product = make.product(prices={"monthly": "10.00"}, allows_quantity=True)
    service = make.service(client, product, next_due_date=TODAY)
    invoice = invoicing.create_invoice(
        client.id, [invoicing.renewal_line_spec("service", service, TODAY, "Hosting")],
        date=TODAY, due_date=TODAY, payment_method="card", admin=as_login("ada"))
    return admin, client, product, service, invoice


@pytest.mark.parametrize("value", AMOUNTS)
def test_payment_amounts(world, value):
    _, _, _, _, invoice = world
    refused(lambda: invoicing.record_payment(invoice.id, value, date=TODAY, method="card",
                                             admin=as_login("ada")), "amount")


@pytest.mark.parametrize("field,values", [
    ("recurring_amount", AMOUNTS), ("first_payment_amount", AMOUNTS),
    ("next_due_date", DATES[1:]), ("registration_date", DATES), ("quantity", QUANTITIES),
    ("domain", TEXTS), ("username", TEXTS), ("admin_notes", [CONTROL, "x" * 20_001]),
    ("status", ["", "gone", SQL]), ("billing_cycle", ["", "weekly", SQL]),
    ("product", IDS), ("server", IDS[1:]), ("promotion", ["NOPE", SQL]),
    ("override_suspend_until", DATES[1:]),
])
def test_service_page_fields(world, field, values):
    admin, _, _, service, _ = world
    for value in values:
        refused(lambda: services.save_service(
            service.id, service.version, services.parse_service_form({field: value}), admin,
            clock=Clock()), field)


@pytest.mark.parametrize("field,values", [
    ("recurring_amount", AMOUNTS), ("next_due_date", DATES), ("status", ["", "zzz", SQL]),
    ("billing_cycle", ["", "weekly"]), ("payment_method", ["", CONTROL, TOO_LONG]),
    ("override_suspend_until", DATES[1:]), ("unknown_field", ["1"]),
])
def test_mass_update_fields(world, field, values):
    admin, _, _, service, _ = world
    for value in values:
        refused(lambda: massupdate.apply([service.id], massupdate.parse_mass_change({field: value}),
                                         admin, make_settings(), TODAY), field)


def make_settings():
    from hostdesk.models.settings import Settings

    return Settings()


@pytest.mark.parametrize("field,request_", [
    ("client", OrderRequest(client_id="abc", lines=[LineRequest(product=1)])),
    ("client", OrderRequest(client_id=SQL, lines=[LineRequest(product=1)])),
    ("client", OrderRequest(client_id="999999", lines=[LineRequest(product=1)])),
    ("lines", None),
    ("quantity", "0"), ("quantity", "-1"), ("quantity", "abc"), ("quantity", "100000"),
    ("price", "-5"), ("price", "NaN"), ("price", "1.001"),
    ("product", "999999"), ("product", SQL),
    ("cycle", "weekly"),
    ("domain", "not a domain"), ("domain", "example.invalidtld"), ("domain", TEMPLATE),
    ("epp", "transfer-without-epp"),
    ("promo", "NOSUCHCODE"),
])
def test_order_form_inputs(world, field, request_):
    admin, client, product, _, _ = world
    line = dict(product=product.id)
    if field == "lines":
        request_ = OrderRequest(client_id=client.id, lines=[])
    elif field in ("quantity", "price", "product", "cycle"):
        key = {"quantity": "quantity", "price": "price_override", "product": "product",
               "cycle": "cycle"}[field]
        request_ = OrderRequest(client_id=client.id, lines=[LineRequest(**{**line, key: request_})])
    elif field == "domain":
        make.tld("com")
        request_ = OrderRequest(client_id=client.id,
                                domain=DomainRequest(action="register", name=request_))
    elif field == "epp":
        make.tld("com")
        request_ = OrderRequest(client_id=client.id,
                                domain=DomainRequest(action="transfer", name="example.com"))
    elif field == "promo":
        request_ = OrderRequest(client_id=client.id, promo_code=request_,
                                lines=[LineRequest(**line)])
    before = snapshot()
    with pytest.raises((ValidationError, ValidationErrors)) as error:
        place_order(request_, admin, TODAY)
    assert str(error.value).strip()
    assert snapshot() == before
    COUNTED.append(field)


@pytest.mark.parametrize("kind,reason", [("sometime", "x"), ("immediate", CONTROL),
                                          ("immediate", "x" * 2001), (SQL, "x")])
def test_cancellation_request_inputs(world, kind, reason):
    _, _, _, service, _ = world
    refused(lambda: request_cancellation(service.id, kind, reason, admin=find_admin("ada")),
            "type" if kind != "immediate" else "reason")


@pytest.mark.parametrize("args,message", [
    (["cron", "--date", "2026-02-30"], "--date"),
    (["cron", "--date", SQL], "--date"),
    (["cron", "--date", ""], "--date"),
    (["cancel-request", "abc", "--client", "1", "--type", "immediate", "--reason", "x"],
     "service:"),
    (["cancel-request", "-5", "--client", "1", "--type", "immediate", "--reason", "x"],
     "service:"),
    (["cancel-request", "1", "--client", "1", "--type", "later", "--reason", "x"], "--type"),
    (["cancel-request", "1", "--type", "immediate", "--reason", "x"], "--client"),
    (["payment-received", "1", "--client", "1", "--amount", "NaN", "--method", "card",
      "--ref", "r"], "amount:"),
    (["upgrade-request", "1", "--client", "x", "--product", "2", "--cycle", "monthly"],
     "client:"),
    (["--db", "mysql://x/y", "cron"], "database URL"),
])
def test_cli_options(sqlite_template, tmp_path, args, message):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "cli.db")
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    full = args if args[0] == "--db" else ["--db", db_url, *args]
    result = subprocess.run([HOSTDESK, *full], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
