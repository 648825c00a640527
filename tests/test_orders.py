"""Admin orders (rules §9): prices, the first invoice, services, domains, promotions, accepting,
and every refused input leaving the database untouched."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import invoicing, order_numbers, orders, secrets
from hostdesk.models.errors import PermissionDenied, ValidationError, ValidationErrors
from hostdesk.models.orders import DomainRequest, LineRequest, OrderRequest, place_order, quote_order
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    Domain,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Order,
    Product,
    Promotion,
    PromotionProduct,
    Service,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 3, 15)
SETTINGS = Settings(company_name="Example Hosting")


@pytest.fixture(autouse=True)
def secret_key(db):
    secrets.configure("orders-test-key")
    yield
    secrets.configure("")


@pytest.fixture
def admin(db):
    return Admin.create(login="ann", role="sales")


@pytest.fixture
def client(db):
    return make.client(first_name="Ada", last_name="Lovelace", email="ada@example.com",
                       default_payment_method="banktransfer")


@pytest.fixture
def hosting(db):
    return make.product(name="Hosting", prices={"monthly": ("10.00", "5.00"), "annually": "100.00"})


@pytest.fixture
def com(db):
    return make.tld("com", register_price=D("12.00"), transfer_price=D("9.50"),
                    renew_price=D("14.00"), id_protection_price=D("2.25"))


def place(request, admin, today=TODAY):
    return place_order(request, admin, today, SETTINGS)


def counts() -> dict:
    return {model.__name__: model.select().count()
            for model in (Order, Service, Domain, Invoice, InvoiceLine, EmailOutbox, ModuleJob,
                          ActivityLog)} | {"promotion uses": sum(p.uses for p in Promotion.select())}


def lines_of(invoice_id):
    return [(line.kind, line.amount) for line in InvoiceLine.select()
            .where(InvoiceLine.invoice == invoice_id).order_by(InvoiceLine.sort_order)]


# --- the acceptance orders ------------------------------------------------------------------


def test_two_products_one_with_quantity_3_and_a_domain_transfer(db, admin, client, hosting, com):
    mailbox = make.product(name="Mailbox", prices={"monthly": "2.50"}, allows_quantity=True,
                           auto_setup="on_order")
    request = OrderRequest(
        client_id=client.id, payment_method="card",
        lines=[LineRequest(product=hosting.id), LineRequest(product=mailbox.id, quantity="3")],
        domain=DomainRequest(action="transfer", name="Example.com", years="1",
                             id_protection=True, epp_code="EPP-123"))

    quote = quote_order(request, TODAY)
    assert quote.ok and quote.services == 4
    assert quote.first_payment == D("34.25")  # 10 + 5 setup + 3 × 2.50 + 9.50 + 2.25
    assert quote.recurring == {"monthly": D("17.50"), "1 year": D("16.25")}

    result = place(request, admin)
    order = Order.get()
    assert (order.id, order.status, order.payment_method, order.amount) == (
        result.order.id, "pending", "card", D("34.25"))
    assert len(order.number) == 10 and order.number.isdigit() and result.number == order.number

    services = list(Service.select().order_by(Service.id))
    assert [s.id for s in services] == result.service_ids
    assert [(s.product_id, s.status, s.billing_cycle, s.first_payment_amount, s.recurring_amount,
             s.domain, s.order_id, s.payment_method) for s in services] == (
        [(hosting.id, "pending", "monthly", D("15.00"), D("10.00"), "example.com", order.id, "card")]
        + [(mailbox.id, "pending", "monthly", D("2.50"), D("2.50"), "example.com", order.id, "card")] * 3)
    assert {(s.registration_date, s.next_due_date, s.anchor_day, s.quantity) for s in services} == {
        (TODAY, pendulum.date(2026, 4, 15), 15, 1)}

    domain = Domain.get()
    assert (domain.id, domain.name, domain.kind, domain.status, domain.years) == (
        result.domain_id, "example.com", "transfer", "pending_transfer", 1)
    assert secrets.decrypt(domain.epp_code) == "EPP-123" and "EPP-123" not in domain.epp_code
    assert (domain.first_payment_amount, domain.recurring_amount, domain.next_due_date) == (
        D("11.75"), D("16.25"), pendulum.date(2027, 3, 15))
    assert (domain.id_protection, domain.dns_management) == (True, False)

    invoice = Invoice.get()
    assert (invoice.id, invoice.order_id, invoice.client_id, invoice.total, invoice.status) == (
        result.invoice.id, order.id, client.id, D("34.25"), "unpaid")
    assert (invoice.date, invoice.due_date, invoice.payment_method) == (TODAY, TODAY, "card")
    rows = list(InvoiceLine.select().order_by(InvoiceLine.sort_order))
    assert [(r.kind, r.item_type, r.item_id, r.amount) for r in rows] == [
        ("first", "service", services[0].id, D("10.00")),
        ("setup", "service", services[0].id, D("5.00")),
        ("first", "service", services[1].id, D("2.50")),
        ("first", "service", services[2].id, D("2.50")),
        ("first", "service", services[3].id, D("2.50")),
        ("first", "domain", domain.id, D("9.50")),
        ("custom", "domain", domain.id, D("2.25")),
    ]
    assert rows[0].description == "Hosting - example.com (2026-03-15 - 2026-04-14)"
    assert (rows[0].period_start, rows[0].period_end) == (TODAY, pendulum.date(2026, 4, 15))
    assert rows[5].description == "Domain Transfer - example.com - 1 year (2026-03-15 - 2027-03-14)"
    assert rows[6].description == "ID Protection - example.com - 1 year"

    outbox = {(e.template, e.to_address, e.related_type, e.related_id)
              for e in EmailOutbox.select()}
    assert outbox == {("invoice_created", "ada@example.com", "invoice", invoice.id),
                      ("order_confirmation", "ada@example.com", "order", order.id)}
    confirmation = EmailOutbox.get(EmailOutbox.template == "order_confirmation")
    assert order.number in confirmation.subject and "34.25" in confirmation.body
    assert "EPP-123" not in confirmation.body

    # Mailbox sets up on order; Hosting waits for the first payment.
    assert [(j.service_id, j.command, j.source) for j in ModuleJob.select().order_by(ModuleJob.id)] == [
        (s.id, "create", "order") for s in services[1:]]
    assert (result.module_jobs, result.emails) == (3, 2)
    actions = sorted(a.action for a in ActivityLog.select())
    assert actions == sorted(["order.create", "invoice.create", "domain.create"]
                             + ["service.create"] * 4)


def test_paying_the_first_invoice_provisions_without_moving_the_due_date(db, admin, client, hosting):
    result = place(OrderRequest(client_id=client.id, lines=[LineRequest(product=hosting.id)]), admin)
    invoicing.record_payment(result.invoice.id, "15.00", date=TODAY, method="banktransfer",
                             admin=as_login("ann"))
    service = Service.get_by_id(result.service_ids[0])
    assert service.next_due_date == pendulum.date(2026, 4, 15)  # the first period is paid
    assert [(j.service_id, j.command, j.source) for j in ModuleJob.select()] == [
        (service.id, "create", "payment")]


def test_domain_only_order(db, admin, client):
    make.tld("de", register_price=D("8.00"), renew_price=D("9.00"), dns_management_price=D("1.00"))
    request = OrderRequest(client_id=client.id, domain=DomainRequest(
        action="register", name="Bücher.de", years="2", dns_management=True))
    result = place(request, admin)
    assert result.service_ids == [] and Service.select().count() == 0
    domain = Domain.get()
    assert (domain.name, domain.kind, domain.status, domain.years, domain.epp_code) == (
        "xn--bcher-kva.de", "register", "pending", 2, "")
    assert (domain.first_payment_amount, domain.recurring_amount, domain.next_due_date) == (
        D("18.00"), D("20.00"), pendulum.date(2028, 3, 15))
    assert lines_of(result.invoice.id) == [("first", D("16.00")), ("custom", D("2.00"))]
    assert Invoice.get().total == D("18.00") == result.first_payment
    assert InvoiceLine.get(InvoiceLine.kind == "first").description.startswith(
        "Domain Registration - bücher.de (xn--bcher-kva.de) - 2 years")
    assert sorted(e.template for e in EmailOutbox.select()) == ["invoice_created", "order_confirmation"]


# --- prices ---------------------------------------------------------------------------------


def test_shortest_priced_cycle_is_used_without_cycle_or_override(db, admin, client):
    product = make.product(name="Biz", prices={"annually": "100.00", "semiannually": "55.00",
                                               "quarterly": "30.00"})
    assert orders.shortest_priced_cycle(product) == "quarterly"
    result = place(OrderRequest(client_id=client.id, lines=[LineRequest(product=product.id)]), admin)
    service = Service.get()
    assert (service.billing_cycle, service.recurring_amount, service.next_due_date) == (
        "quarterly", D("30.00"), pendulum.date(2026, 6, 15))
    line = InvoiceLine.get()
    assert (line.amount, line.description) == (D("30.00"), "Biz (2026-03-15 - 2026-06-14)")
    assert result.invoice.total == D("30.00")


def test_shortest_cycle_order_puts_recurring_before_one_time_and_free(db):
    assert orders.shortest_priced_cycle(make.product(prices={"one_time": "50.00",
                                                             "triennially": "300.00"})) == "triennially"
    assert orders.shortest_priced_cycle(make.product(prices={"one_time": "50.00"})) == "one_time"
    unpriced = Product.create(name="Unpriced")
    assert orders.shortest_priced_cycle(unpriced) is None


def test_product_without_any_price_is_refused(db, admin, client):
    unpriced = Product.create(name="Unpriced")
    error = refused_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=unpriced.id)]),
                          admin)
    assert (error.field, error.message) == ("line1.product", "Unpriced has no price for any billing cycle")


def test_chosen_cycle_may_be_typed_as_its_label(db, admin, client, hosting):
    place(OrderRequest(client_id=client.id,
                       lines=[LineRequest(product=hosting.id, cycle="Annually")]), admin)
    service = Service.get()
    assert (service.billing_cycle, service.first_payment_amount, service.next_due_date) == (
        "annually", D("100.00"), pendulum.date(2027, 3, 15))


def test_price_override_is_the_price_and_replaces_the_setup_fee(db, admin, client, hosting):
    result = place(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=hosting.id, price_override="7.25"),
        LineRequest(product=hosting.id, cycle="annually", price_override="80.00")]), admin)
    first, second = Service.select().order_by(Service.id)
    assert (first.billing_cycle, first.first_payment_amount, first.recurring_amount) == (
        "monthly", D("7.25"), D("7.25"))
    assert (second.billing_cycle, second.first_payment_amount, second.recurring_amount) == (
        "annually", D("80.00"), D("80.00"))
    assert lines_of(result.invoice.id) == [("first", D("7.25")), ("first", D("80.00"))]
    assert result.invoice.total == D("87.25")


def test_due_date_of_an_order_on_the_31st_keeps_its_anchor(db, admin, client, hosting):
    jan31 = pendulum.date(2026, 1, 31)
    place(OrderRequest(client_id=client.id, lines=[LineRequest(product=hosting.id)]), admin, jan31)
    service = Service.get()
    assert (service.next_due_date, service.anchor_day) == (pendulum.date(2026, 2, 28), 31)
    assert InvoiceLine.get(InvoiceLine.kind == "first").description.endswith(
        "(2026-01-31 - 2026-02-27)")


def test_one_time_service_is_due_today_and_loses_its_due_date_when_paid(db, admin, client):
    product = make.product(name="Setup", prices={"one_time": "50.00"})
    result = place(OrderRequest(client_id=client.id, lines=[LineRequest(product=product.id)]), admin)
    service = Service.get()
    assert (service.billing_cycle, service.next_due_date, service.first_payment_amount) == (
        "one_time", TODAY, D("50.00"))
    assert quote_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=product.id)]),
                       TODAY).recurring == {}
    invoicing.record_payment(result.invoice.id, "50.00", date=TODAY, method="banktransfer",
                             admin=as_login("ann"))
    assert Service.get().next_due_date is None


def test_free_service_has_no_due_date_no_invoice_and_sets_up_at_once(db, admin, client):
    product = make.product(name="Free DNS", prices={"free": "0.00"}, auto_setup="on_payment")
    result = place(OrderRequest(client_id=client.id, lines=[LineRequest(product=product.id)]), admin)
    service = Service.get()
    assert (service.billing_cycle, service.next_due_date, service.recurring_amount) == (
        "free", None, D("0.00"))
    assert result.invoice is None and Invoice.select().count() == 0
    assert [(j.service_id, j.command) for j in ModuleJob.select()] == [(service.id, "create")]
    assert [e.template for e in EmailOutbox.select()] == ["order_confirmation"]


def test_blank_lines_are_ignored(db, admin, client, hosting):
    result = place(OrderRequest(client_id=client.id, lines=[
        LineRequest(), LineRequest(product=hosting.id), LineRequest(quantity="")]), admin)
    assert len(result.service_ids) == 1


# --- promotions -----------------------------------------------------------------------------


@pytest.mark.parametrize("type, value, recurring, first, recurring_amount, discount", [
    ("percentage", "15.00", True, D("30.20"), D("10.20"), D("1.80")),
    ("fixed", "5.00", False, D("27.00"), D("12.00"), D("5.00")),
    ("price_override", "9.99", True, D("29.99"), D("9.99"), D("2.01")),
    ("free_setup", "0", False, D("12.00"), D("12.00"), D("20.00")),
])
def test_each_promotion_type_on_the_first_invoice_and_the_renewals(
        db, admin, client, type, value, recurring, first, recurring_amount, discount):
    product = make.product(name="Pro", prices={"monthly": ("12.00", "20.00")})
    promo = Promotion.create(code="DEAL", type=type, value=D(value), recurring=recurring)
    result = place(OrderRequest(client_id=client.id, promo_code="deal",
                                lines=[LineRequest(product=product.id)]), admin)
    service = Service.get()
    assert (service.first_payment_amount, service.recurring_amount, service.promotion_id) == (
        first, recurring_amount, promo.id)
    assert lines_of(result.invoice.id) == [("first", D("12.00")), ("setup", D("20.00")),
                                          ("discount", -discount)]
    assert result.invoice.total == first == result.first_payment
    order = Order.get()
    assert (order.promotion_id, order.promo_code, Promotion.get_by_id(promo.id).uses) == (
        promo.id, "DEAL", 1)


def test_promotion_discounts_only_the_lines_it_applies_to(db, admin, client, hosting):
    other = make.product(name="Other", prices={"monthly": "20.00"})
    promo = Promotion.create(code="HOST10", type="percentage", value=D("10.00"),
                             cycles="monthly")
    PromotionProduct.create(promotion=promo, product=hosting)
    request = OrderRequest(client_id=client.id, promo_code="HOST10", lines=[
        LineRequest(product=hosting.id), LineRequest(product=other.id),
        LineRequest(product=hosting.id, cycle="annually")])
    result = place(request, admin)
    assert lines_of(result.invoice.id) == [
        ("first", D("10.00")), ("setup", D("5.00")), ("discount", D("-1.00")),
        ("first", D("20.00")), ("first", D("100.00"))]
    assert [s.promotion_id for s in Service.select().order_by(Service.id)] == [promo.id, None, None]
    assert quote_order(request, TODAY).discount == D("1.00")


def test_promotion_applies_to_a_price_override(db, admin, client, hosting):
    Promotion.create(code="HALF", type="percentage", value=D("50.00"), recurring=True)
    place(OrderRequest(client_id=client.id, promo_code="HALF",
                       lines=[LineRequest(product=hosting.id, price_override="8.00")]), admin)
    assert (Service.get().first_payment_amount, Service.get().recurring_amount) == (D("4.00"), D("4.00"))


# --- order status, emails, accepting --------------------------------------------------------


def test_active_order_imports_services_without_provisioning_or_invoice(db, admin, client, com):
    product = make.product(name="Old", prices={"monthly": "10.00"}, auto_setup="on_order")
    result = place(OrderRequest(
        client_id=client.id, status="active", generate_invoice=False, send_confirmation=False,
        lines=[LineRequest(product=product.id, domain="old.example.com")],
        domain=DomainRequest(action="register", name="old.com")), admin)
    assert Service.get().status == "active" and Domain.get().status == "active"
    assert Order.get().status == "active"
    assert result.invoice is None and Invoice.select().count() == 0
    assert ModuleJob.select().count() == 0 and EmailOutbox.select().count() == 0
    assert Service.get().domain == "old.example.com"


def test_unticked_invoice_email_queues_only_the_confirmation(db, admin, client, hosting):
    place(OrderRequest(client_id=client.id, send_invoice_email=False,
                       lines=[LineRequest(product=hosting.id)]), admin)
    assert Invoice.select().count() == 1
    assert [e.template for e in EmailOutbox.select()] == ["order_confirmation"]


def test_accepting_provisions_per_auto_setup(db, admin, client):
    on_accept = make.product(name="A", auto_setup="on_accept")
    on_order = make.product(name="B", auto_setup="on_order")
    on_payment = make.product(name="C", auto_setup="on_payment")
    never = make.product(name="D", auto_setup="never")
    result = place(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=p.id) for p in (on_accept, on_order, on_payment, never)]), admin)
    a, b, c, d = result.service_ids
    assert [j.service_id for j in ModuleJob.select()] == [b]

    accepted = orders.accept_order(result.order.id, admin, today=TODAY)
    assert (accepted.queued, accepted.waiting_for_payment, accepted.manual) == ([a], [c], [d])
    assert Order.get().status == "active"
    assert [(j.service_id, j.source) for j in ModuleJob.select().order_by(ModuleJob.id)] == [
        (b, "order"), (a, "accept")]
    assert ActivityLog.select().where(ActivityLog.action == "order.accept").count() == 1

    with pytest.raises(ValidationError) as info:
        orders.accept_order(result.order.id, admin, today=TODAY)
    assert info.value.message == (f"order {result.number} is active; only a pending order can "
                                  "be accepted")
    assert ModuleJob.select().count() == 2


def test_accepting_sets_up_on_payment_services_that_have_nothing_to_pay(db, admin, client):
    on_payment = make.product(name="C", auto_setup="on_payment")
    result = place(OrderRequest(client_id=client.id, generate_invoice=False,
                                lines=[LineRequest(product=on_payment.id)]), admin)
    accepted = orders.accept_order(result.order.id, admin, today=TODAY)
    assert (accepted.queued, accepted.waiting_for_payment) == (result.service_ids, [])
    assert [(j.service_id, j.source) for j in ModuleJob.select()] == [(result.service_ids[0], "accept")]


def test_accepting_an_unknown_order_is_refused(db, admin):
    with pytest.raises(ValidationError, match="there is no order #404"):
        orders.accept_order(404, admin)


def test_order_numbers_are_random_ten_digits_and_redrawn_on_collision(db, admin, client, hosting,
                                                                     monkeypatch):
    draws = iter([0, 0, 123456789])
    monkeypatch.setattr(order_numbers, "randbelow", lambda n: next(draws))
    request = OrderRequest(client_id=client.id, lines=[LineRequest(product=hosting.id)])
    assert place(request, admin).number == "1000000000"
    assert place(request, admin).number == "1123456789"


# --- refused: nothing written ---------------------------------------------------------------


def refused_order(request, admin, today=TODAY) -> ValidationError:
    before = counts()
    with pytest.raises(ValidationError) as info:
        place(request, admin, today)
    assert counts() == before
    return info.value


def test_permission_is_required(db, client, hosting):
    support = Admin.create(login="sam", role="support")
    before = counts()
    with pytest.raises(PermissionDenied, match="add new order"):
        place(OrderRequest(client_id=client.id, lines=[LineRequest(product=hosting.id)]), support)
    assert counts() == before


def test_closed_client_is_refused(db, admin, hosting):
    closed = make.client(first_name="Old", last_name="Timer", status="closed")
    error = refused_order(OrderRequest(client_id=closed.id, lines=[LineRequest(product=hosting.id)]),
                          admin)
    assert (error.field, error.message) == (
        "client", f"Old Timer (#{closed.id}) is closed; orders cannot be added for a closed client")


def test_missing_or_unknown_client_is_refused(db, admin, hosting):
    line = [LineRequest(product=hosting.id)]
    assert refused_order(OrderRequest(client_id=None, lines=line), admin).message == "choose a client"
    assert refused_order(OrderRequest(client_id=99999, lines=line), admin).message == (
        "there is no client #99999")


def test_an_order_without_lines_is_refused(db, admin, client):
    error = refused_order(OrderRequest(client_id=client.id, lines=[LineRequest()]), admin)
    assert (error.field, error.message) == ("lines", "the order has no lines: add a product or a domain")


def test_unknown_product_is_refused(db, admin, client):
    error = refused_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=999999)]), admin)
    assert (error.field, error.message) == ("line1.product", "there is no product #999999")


def test_retired_product_is_refused(db, admin, client):
    old = make.product(name="Legacy", retired=True)
    error = refused_order(OrderRequest(client_id=client.id, lines=[LineRequest(product=old.id)]), admin)
    assert (error.field, error.message) == ("line1.product", "Legacy is retired and cannot be ordered")


def test_cycle_without_a_price_is_refused(db, admin, client, hosting):
    error = refused_order(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=hosting.id, cycle="triennially")]), admin)
    assert (error.field, error.message) == (
        "line1.cycle", "Hosting has no price for triennially (it is sold monthly, annually)")
    error = refused_order(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=hosting.id, cycle="weekly")]), admin)
    assert error.field == "line1.cycle" and "'weekly' is not a billing cycle" in error.message


BAD_QUANTITIES = [
    ("0", "must be at least 1"),
    ("-2", "'-2' is not a whole number"),
    ("three", "'three' is not a whole number"),
    ("1.5", "'1.5' is not a whole number"),
    ("", "enter a quantity"),
]


def test_bad_quantity_is_refused(db, admin, client):
    product = make.product(name="Seats", allows_quantity=True)
    for quantity, message in BAD_QUANTITIES:
        error = refused_order(OrderRequest(client_id=client.id, lines=[
            LineRequest(product=product.id, quantity=quantity)]), admin)
        assert (error.field, error.message) == ("line1.quantity", message), quantity


def test_quantity_is_refused_for_a_product_that_does_not_allow_it(db, admin, client, hosting):
    error = refused_order(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=hosting.id), LineRequest(product=hosting.id, quantity="3")]), admin)
    assert (error.field, error.message) == (
        "line2.quantity", "Hosting does not allow quantities; order it on separate lines")


BAD_PRICES = [
    ("0", "must be more than zero"),
    ("0.00", "must be more than zero"),
    ("-5.00", "must not be negative"),
    ("ten", "'ten' is not an amount (write it like 1234.50)"),
    ("9.999", "'9.999' has 3 decimal places; the currency has 2 decimal places"),
]


def test_bad_price_override_is_refused(db, admin, client, hosting):
    for price, message in BAD_PRICES:
        error = refused_order(OrderRequest(client_id=client.id, lines=[
            LineRequest(product=hosting.id, price_override=price)]), admin)
        assert (error.field, error.message) == ("line1.price_override", message), price


BAD_DOMAINS = [
    ("example", "'example' has no TLD; write it like example.com"),
    ("exa mple.com", "must not contain spaces"),
    ("-bad.com", "the label '-bad' must not start or end with a hyphen"),
    ("bad_name.com", "the label 'bad_name' contains '_': only letters, digits and hyphens are allowed"),
    ("www.example.com", "'www.example.com' has a subdomain; enter the name to register, like example.com"),
    ("example.xyz", "the TLD .xyz is not in the catalog (no domain pricing for it)"),
    ("", "enter a domain name, like example.com"),
]


def test_malformed_or_unsupported_domain_is_refused(db, admin, client, com):
    for name, message in BAD_DOMAINS:
        error = refused_order(OrderRequest(client_id=client.id, domain=DomainRequest(
            action="register", name=name)), admin)
        assert (error.field, error.message) == ("domain.name", message), name


def test_domain_years_outside_the_tld_range_are_refused(db, admin, client, com):
    error = refused_order(OrderRequest(client_id=client.id, domain=DomainRequest(
        action="register", name="example.com", years="11")), admin)
    assert (error.field, error.message) == ("domain.years", ".com can be registered for 1 to 10 years, not 11")


def test_bad_domain_price_override_is_refused(db, admin, client, com):
    error = refused_order(OrderRequest(client_id=client.id, domain=DomainRequest(
        action="register", name="example.com", price_override="-1")), admin)
    assert (error.field, error.message) == ("domain.price_override", "must not be negative")


def test_transfer_without_epp_code_is_refused(db, admin, client, com):
    error = refused_order(OrderRequest(client_id=client.id, domain=DomainRequest(
        action="transfer", name="example.com", epp_code="  ")), admin)
    assert (error.field, error.message) == ("domain.epp_code", "a transfer needs the EPP (authorisation) code")


def test_transfer_of_a_tld_without_epp_codes_needs_none(db, admin, client):
    make.tld("uk", epp_required=False)
    place(OrderRequest(client_id=client.id, domain=DomainRequest(action="transfer", name="shop.uk")),
          admin)
    assert Domain.get().kind == "transfer"


def test_unknown_promotion_is_refused(db, admin, client, hosting):
    error = refused_order(OrderRequest(client_id=client.id, promo_code="NOPE",
                                       lines=[LineRequest(product=hosting.id)]), admin)
    assert (error.field, error.message) == ("promo_code", "there is no promotion with the code 'NOPE'")


def test_expired_promotion_is_refused(db, admin, client, hosting):
    Promotion.create(code="OLD", type="fixed", value=D("1.00"), expiry_date=TODAY.subtract(days=1))
    error = refused_order(OrderRequest(client_id=client.id, promo_code="OLD",
                                       lines=[LineRequest(product=hosting.id)]), admin)
    assert (error.field, error.message) == ("promo_code", "'OLD' expired on 2026-03-14")


def test_promotion_that_applies_to_nothing_in_the_order_is_refused(db, admin, client, hosting, com):
    vps = make.product(name="VPS")
    promo = Promotion.create(code="VPSONLY", type="fixed", value=D("1.00"))
    PromotionProduct.create(promotion=promo, product=vps)
    error = refused_order(OrderRequest(client_id=client.id, promo_code="VPSONLY",
                                       lines=[LineRequest(product=hosting.id)]), admin)
    assert (error.field, error.message) == (
        "promo_code", "'VPSONLY' does not apply to any product or cycle of this order (applies to VPS)")
    domain_only = OrderRequest(client_id=client.id, promo_code="VPSONLY",
                               domain=DomainRequest(action="register", name="example.com"))
    assert refused_order(domain_only, admin).field == "promo_code"


def test_promotion_whose_last_use_went_to_another_order_meanwhile(db, admin, client, hosting,
                                                                  monkeypatch):
    promo = Promotion.create(code="LAST", type="fixed", value=D("1.00"), max_uses=1)
    prepare = orders.prepare_order

    def another_order_wins(request, today):
        quote = prepare(request, today)  # the code still had a use when it was checked
        Promotion.update(uses=1).where(Promotion.id == promo.id).execute()
        return quote

    monkeypatch.setattr(orders, "prepare_order", another_order_wins)
    before = counts()
    with pytest.raises(ValidationError) as info:
        place(OrderRequest(client_id=client.id, promo_code="LAST",
                           lines=[LineRequest(product=hosting.id)]), admin)
    assert (info.value.field, info.value.message) == (
        "promo_code", "'LAST' has been used its maximum of 1 times")
    assert counts() == before | {"promotion uses": 1}


def test_every_problem_is_reported_at_once(db, admin, client, hosting, com):
    before = counts()
    with pytest.raises(ValidationErrors) as info:
        place(OrderRequest(client_id=client.id, status="fraud", lines=[
            LineRequest(product=hosting.id, quantity="0", price_override="abc")],
            domain=DomainRequest(action="transfer", name="example.com")), admin)
    assert [e.field for e in info.value.errors] == [
        "status", "domain.epp_code", "line1.quantity", "line1.price_override"]
    assert counts() == before


def test_quote_reports_errors_and_prices_the_valid_lines(db, client, hosting):
    quote = quote_order(OrderRequest(client_id=client.id, lines=[
        LineRequest(product=hosting.id), LineRequest(product=hosting.id, quantity="x")]), TODAY)
    assert quote.first_payment == D("15.00")
    assert quote.errors_by_field() == {"line2.quantity": "'x' is not a whole number"}


def test_field_labels_for_messages():
    assert orders.field_label("line2.price_override") == "Line 2 price override"
    assert orders.field_label("domain.epp_code") == "Domain EPP code"
    assert orders.field_label("promo_code") == "Promotion code"
    assert orders.field_label("client") == "Client"

