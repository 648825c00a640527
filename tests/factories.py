"""Small builders for test data. Each returns the saved row; keyword arguments override."""

from decimal import Decimal
from itertools import count

import pendulum

from hostdesk.models.permissions import SYSTEM_ADMIN, SYSTEM_LOGIN
from hostdesk.models.schema import (
    Admin,
    CatalogAddon,
    Client,
    ClientGroup,
    Domain,
    EmailTemplate,
    Product,
    ProductPrice,
    Server,
    Service,
    ServiceAddon,
    Tld,
)

_seq = count(1)


def admin(login: str, role: str = "full", **kw) -> Admin:
    """The admin a test acts as (the rules check the login's role, rules §12); an existing
    login is returned as it is."""
    existing = Admin.get_or_none(Admin.login == login)
    if existing is not None:
        return existing
    return Admin.create(login=login, role=role, **kw)


def as_login(login: str) -> Admin:
    """The acting admin of `login`, as a command run by that account gets it
    (`admins.acting_admin`); the daily run's login gives its actor, `SYSTEM_ADMIN`."""
    from hostdesk.models.admins import Identity, acting_admin

    return SYSTEM_ADMIN if login == SYSTEM_LOGIN else acting_admin(Identity(login, login))


def client(**kw) -> Client:
    n = next(_seq)
    fields = dict(first_name="Client", last_name=f"No{n}", email=f"client{n}@example.com",
                  default_payment_method="banktransfer")
    fields.update(kw)
    return Client.create(**fields)


def group(**kw) -> ClientGroup:
    fields = dict(name=f"Group {next(_seq)}")
    fields.update(kw)
    return ClientGroup.create(**fields)


def server(**kw) -> Server:
    fields = dict(name=f"server{next(_seq)}", hostname="srv.example.net", module="none")
    fields.update(kw)
    return Server.create(**fields)


def product(prices=None, **kw) -> Product:
    """A product with prices per cycle, e.g. prices={"monthly": "10.00", "annually": "100.00"}."""
    fields = dict(name=f"Plan {next(_seq)}", type="shared", module="none")
    fields.update(kw)
    prod = Product.create(**fields)
    for cycle, price in (prices or {"monthly": "10.00"}).items():
        setup = Decimal("0.00")
        if isinstance(price, tuple):
            price, setup = price
        ProductPrice.create(product=prod, cycle=cycle, price=Decimal(price), setup_fee=Decimal(setup))
    return prod


def service(client_row=None, product_row=None, **kw) -> Service:
    client_row = client_row or client()
    product_row = product_row or product()
    ndd = kw.get("next_due_date", pendulum.date(2026, 1, 1))
    fields = dict(client=client_row, product=product_row, status="active",
                  registration_date=pendulum.date(2025, 1, ndd.day if ndd else 1),
                  billing_cycle="monthly", recurring_amount=Decimal("10.00"),
                  next_due_date=ndd, anchor_day=ndd.day if ndd else 1,
                  payment_method=client_row.default_payment_method,
                  domain=f"site{next(_seq)}.example.com")
    fields.update(kw)
    return Service.create(**fields)


def addon(service_row, **kw) -> ServiceAddon:
    ndd = kw.get("next_due_date", service_row.next_due_date)
    fields = dict(service=service_row, name="Backups", recurring_amount=Decimal("2.00"),
                  billing_cycle="monthly", status="active",
                  registration_date=service_row.registration_date, next_due_date=ndd,
                  anchor_day=ndd.day if ndd else 1)
    fields.update(kw)
    return ServiceAddon.create(**fields)


def catalog_addon(**kw) -> CatalogAddon:
    fields = dict(name=f"Addon {next(_seq)}")
    fields.update(kw)
    return CatalogAddon.create(**fields)


def domain(client_row, **kw) -> Domain:
    ndd = kw.get("next_due_date", pendulum.date(2026, 1, 1))
    fields = dict(client=client_row, name=f"domain{next(_seq)}.com", status="active",
                  registration_date=ndd.subtract(years=1), years=1,
                  recurring_amount=Decimal("12.00"), next_due_date=ndd, anchor_day=ndd.day,
                  payment_method=client_row.default_payment_method)
    fields.update(kw)
    return Domain.create(**fields)


def tld(name="com", **kw) -> Tld:
    fields = dict(name=name, register_price=Decimal("12.00"), transfer_price=Decimal("10.00"),
                  renew_price=Decimal("14.00"), min_years=1, max_years=10,
                  dns_management_price=Decimal("1.00"), email_forwarding_price=Decimal("1.50"),
                  id_protection_price=Decimal("2.00"))
    fields.update(kw)
    return Tld.create(**fields)


def ensure_template(name: str, subject: str = "Test email", body: str = "body") -> None:
    """Make an email template exist (for code paths whose default may not be written yet)."""
    from hostdesk.models.emails import DEFAULT_TEMPLATES

    if name not in DEFAULT_TEMPLATES and not EmailTemplate.select().where(
            EmailTemplate.name == name).exists():
        EmailTemplate.create(name=name, subject=subject, body=body)
