"""The order form, filled with the keyboard alone (rules §9), then the database checked."""

import asyncio
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.models import products, secrets
from hostdesk.models.catalog_addons import add_catalog_addon
from hostdesk.models.clock import Clock
from hostdesk.models.schema import (
    Admin,
    Domain,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    ModuleJob,
    Order,
    Promotion,
    Service,
    ServiceAddon,
    ServiceConfigOption,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import screen_text, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.invoices import ConfirmDialog
from hostdesk.tui.screens import order_form
from hostdesk.tui.screens.order_form import OrderFormScreen, OrderResultScreen
from hostdesk.tui.widgets import order_client_picker
from hostdesk.tui.widgets.line_extras import LineExtrasDialog
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 3, 15)
SIZE = (100, 34)
SCREENSHOTS = Path(__file__).with_name("screenshots")
QUOTE_DELAY = 0.15
# Rounds of 50 ms of the screen tests' wait (`settle`) that outlast the running total's pause
# after the last key, so that it has run and shows.
TYPING = 4


@pytest.fixture(autouse=True)
def setup(db, monkeypatch):
    # Short pauses before the search and the running total: the tests wait for them anyway.
    monkeypatch.setattr(order_form, "QUOTE_DELAY", QUOTE_DELAY)
    monkeypatch.setattr(order_client_picker, "SEARCH_DELAY", 0.05)
    secrets.configure("order-form-test-key")
    Admin.create(login="boss", role="full")
    Admin.create(login="seller", role="sales")  # may order, may not run module commands
    yield
    secrets.configure("")


@pytest.fixture
def catalog(db):
    client = make.client(first_name="Ada", last_name="Lovelace", company="Analytical Ltd",
                         email="ada@analytical.example", default_payment_method="banktransfer")
    make.client(first_name="Alan", last_name="Turing", email="alan@bletchley.example")
    hosting = make.product(name="Hosting", prices={"monthly": ("10.00", "5.00"),
                                                   "annually": "100.00"})
    mailbox = make.product(name="Mailbox", prices={"monthly": "2.50"}, allows_quantity=True,
                           auto_setup="on_order")
    make.tld("com", register_price=D("12.00"), transfer_price=D("9.50"), renew_price=D("14.00"),
             dns_management_price=D("1.00"), id_protection_price=D("2.25"))
    return {"client": client, "hosting": hosting, "mailbox": mailbox}


def app_for(db_url, login="seller"):
    config = Config(settings=Settings(), database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", TODAY))


def run(coro):
    asyncio.run(coro)


async def open_form(app, pilot):
    await app.push_screen(OrderFormScreen())
    await settle(pilot, rounds=TYPING)
    assert isinstance(app.screen, OrderFormScreen)


async def tab_to(pilot, matches, limit=40):
    """Press tab until the focused widget is the one wanted (as an admin would)."""
    for _ in range(limit):
        if matches(pilot.app.focused):
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached the field; focus is on {pilot.app.focused!r}")


def by_id(widget_id):
    return lambda widget: widget is not None and widget.id == widget_id


def line_field(number, name):
    def matches(widget):
        if widget is None or not widget.has_class(f"line-{name}"):
            return False
        rows = list(widget.screen.query("OrderLineRow"))
        return rows.index(widget.parent.parent) == number - 1
    return matches


async def pick(pilot, text):
    """Open the focused list, type to find the option, take it."""
    await pilot.press("enter", *text, "enter")


async def choose_client(app, pilot, text="Ada"):
    await pilot.press(*text)
    await settle(pilot, rounds=TYPING)
    await pilot.press("enter")
    await settle(pilot, rounds=TYPING)


def total_line(app) -> str:
    return str(app.screen.query_one("#order-total").render())


# --- the acceptance orders ------------------------------------------------------------------


def test_two_products_quantity_3_and_a_domain_transfer_by_keyboard(db, db_url, catalog):
    client = catalog["client"]

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            assert app.screen.query_one("#payment_method").value == "banktransfer"

            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Ho")
            await pilot.press("ctrl+n")
            await settle(pilot, rounds=TYPING)
            assert line_field(2, "product")(app.focused)
            await pick(pilot, "Ma")
            await tab_to(pilot, line_field(2, "quantity"))
            await pilot.press("3")

            await tab_to(pilot, by_id("domain-action"))
            await pick(pilot, "t")
            await pilot.press("tab", *"example.com")  # the domain name
            await tab_to(pilot, by_id("domain-epp_code"))
            await pilot.press(*"EPP-123")
            await tab_to(pilot, by_id("domain-id_protection"))
            await pilot.press("space")
            await settle(pilot, rounds=TYPING)
            assert "First payment $34.25" in total_line(app)
            assert "recurring $17.50 monthly, $16.25 every 1 year" in total_line(app)
            assert "4 services" in total_line(app)

            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderResultScreen)
            text = screen_text(app)
            order = Order.get()
            invoice = Invoice.get()
            assert f"Order {order.number} placed" in text
            assert "Services created: 4" in text
            assert f"Invoice #{invoice.id}: $34.25 (unpaid, due 2026-03-15)" in text
            assert "3 module command(s) queued for the daily run" in text
            SCREENSHOTS.mkdir(exist_ok=True)
            app.save_screenshot("order_placed.svg", str(SCREENSHOTS))
            await pilot.press("enter")
            await settle(pilot, rounds=TYPING)
            assert not isinstance(app.screen, (OrderFormScreen, OrderResultScreen))

    run(scenario())
    order = Order.get()
    assert (order.client_id, order.status, order.amount, order.admin_login) == (
        client.id, "pending", D("34.25"), "seller")
    assert len(order.number) == 10 and order.number.isdigit()
    services = list(Service.select().order_by(Service.id))
    assert [(s.product.name, s.billing_cycle, s.first_payment_amount, s.status, s.domain)
            for s in services] == [("Hosting", "monthly", D("15.00"), "pending", "example.com")] + [
        ("Mailbox", "monthly", D("2.50"), "pending", "example.com")] * 3
    assert {s.next_due_date for s in services} == {pendulum.date(2026, 4, 15)}
    domain = Domain.get()
    assert (domain.name, domain.kind, domain.status, domain.years, domain.id_protection) == (
        "example.com", "transfer", "pending_transfer", 1, True)
    assert secrets.decrypt(domain.epp_code) == "EPP-123"
    invoice = Invoice.get()
    assert (invoice.order_id, invoice.total, invoice.due_date) == (order.id, D("34.25"), TODAY)
    assert [(line.kind, line.amount) for line in
            InvoiceLine.select().order_by(InvoiceLine.sort_order)] == [
        ("first", D("10.00")), ("setup", D("5.00")), ("first", D("2.50")), ("first", D("2.50")),
        ("first", D("2.50")), ("first", D("9.50")), ("custom", D("2.25"))]
    assert sorted((e.template, e.to_address) for e in EmailOutbox.select()) == [
        ("invoice_created", "ada@analytical.example"),
        ("order_confirmation", "ada@analytical.example")]
    assert [(j.command, j.status) for j in ModuleJob.select()] == [("create", "queued")] * 3


def test_domain_only_order_by_keyboard(db, db_url, catalog):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot, "ada@")
            await tab_to(pilot, line_field(1, "product"))
            await pilot.press("ctrl+d")  # a domain-only order has no product lines
            await settle(pilot, rounds=TYPING)
            assert not app.screen.query("OrderLineRow")
            assert by_id("domain-action")(app.focused)
            await pick(pilot, "r")
            await pilot.press("tab", *"Example.com", "tab", "backspace", "2")
            await tab_to(pilot, by_id("domain-dns_management"))
            await pilot.press("space")
            await settle(pilot, rounds=TYPING)
            assert "First payment $26.00" in total_line(app)  # 2 × 12.00 + 2 × 1.00
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderResultScreen)
            assert "Services created: 0" in screen_text(app)

    run(scenario())
    assert Service.select().count() == 0
    domain = Domain.get()
    assert (domain.name, domain.kind, domain.years, domain.dns_management, domain.recurring_amount) == (
        "example.com", "register", 2, True, D("30.00"))
    assert [(line.kind, line.amount) for line in InvoiceLine.select().order_by(InvoiceLine.sort_order)] == [
        ("first", D("24.00")), ("custom", D("2.00"))]
    assert Invoice.get().total == D("26.00")
    assert EmailOutbox.select().count() == 2


def test_line_options_addons_and_payment_method_chosen_by_keys(db, db_url, catalog):
    products.add_config_option(catalog["hosting"].id, catalog["hosting"].version, {
        "name": "RAM", "option_type": "dropdown",
        "choices": [{"name": "1 GB", "prices": {"monthly": "0.00"}},
                    {"name": "4 GB", "prices": {"monthly": ("6.00", "2.00")}}]},
        admin=as_login("boss"))
    add_catalog_addon({"name": "Monitoring", "prices": {"monthly": ("1.50", "0.50")},
                       "products": ["Hosting"]}, admin=as_login("boss"), modules=("none",))
    add_catalog_addon({"name": "Mail relay", "prices": {"monthly": "9.00"},
                       "products": ["Mailbox"]}, admin=as_login("boss"), modules=("none",))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            assert app.screen.query_one("#payment_method").value == "banktransfer"
            await tab_to(pilot, by_id("payment_method"))
            await pick(pilot, "ca")
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Ho")
            await pilot.press("ctrl+o")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, LineExtrasDialog)
            text = screen_text(app)
            assert "Monitoring" in text and "Mail relay" not in text  # Mailbox's addon
            await pick(pilot, "4")  # the RAM choice
            await tab_to(pilot, lambda w: w is not None and w.id and w.id.startswith("addon-"))
            await pilot.press("space", "ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderFormScreen)
            assert "RAM: 4 GB · addon Monitoring" in screen_text(app)
            # 10.00 + 6.00 RAM, setup 5.00 + 2.00, Monitoring 1.50 + 0.50 setup
            assert "First payment $25.00" in total_line(app)
            assert "recurring $17.50 monthly" in total_line(app)
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderResultScreen)

    run(scenario())
    service = Service.get()
    assert (service.recurring_amount, service.first_payment_amount, service.payment_method) == (
        D("16.00"), D("23.00"), "card")
    assert [(r.option.name, r.choice.name) for r in ServiceConfigOption.select()] == [
        ("RAM", "4 GB")]
    addon = ServiceAddon.get()
    assert (addon.name, addon.recurring_amount, addon.setup_fee, addon.billing_cycle,
            addon.status) == ("Monitoring", D("1.50"), D("0.50"), "monthly", "pending")
    assert (Invoice.get().total, Invoice.get().payment_method) == (D("25.00"), "card")
    assert [(line.kind, line.item_type, line.amount) for line in
            InvoiceLine.select().order_by(InvoiceLine.sort_order)] == [
        ("first", "service", D("16.00")), ("setup", "service", D("7.00")),
        ("renewal", "addon", D("1.50")), ("setup", "addon", D("0.50"))]


def test_escape_leaves_a_lines_extras_as_they_were(db, db_url, catalog):
    products.add_config_option(catalog["hosting"].id, catalog["hosting"].version, {
        "name": "RAM", "option_type": "dropdown",
        "choices": [{"name": "1 GB", "prices": {"monthly": "0.00"}},
                    {"name": "4 GB", "prices": {"monthly": "6.00"}}]}, admin=as_login("boss"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            await pilot.press("ctrl+o")  # no product yet: nothing opens
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderFormScreen)
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Ho")
            await pilot.press("ctrl+o")
            await settle(pilot, rounds=TYPING)
            await pick(pilot, "4")
            await pilot.press("escape")
            await settle(pilot, rounds=TYPING)
            assert "First payment $15.00" in total_line(app)
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)

    run(scenario())
    assert ServiceConfigOption.get().choice.name == "1 GB"  # the option's default
    assert Service.get().recurring_amount == D("10.00")


# --- refusals, the running total, leaving ---------------------------------------------------


def test_refused_order_shows_each_message_under_its_field_keeps_the_values_and_writes_nothing(
        db, db_url, catalog):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Ho")
            await tab_to(pilot, line_field(1, "quantity"))
            await pilot.press("3")  # Hosting does not allow quantities
            await tab_to(pilot, by_id("domain-action"))
            await pick(pilot, "t")
            await pilot.press("tab", *"example.com")  # no EPP code
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            screen = app.screen
            assert isinstance(screen, OrderFormScreen)
            assert str(screen.query_one("#error-domain-epp").render()) == (
                "Domain EPP code: a transfer needs the EPP (authorisation) code")
            line = screen.query_one("OrderLineRow .line-message")
            assert str(line.render()) == ("Line 1 quantity: Hosting does not allow quantities; "
                                          "order it on separate lines")
            assert line_field(1, "quantity")(app.focused)  # the first problem has the cursor
            assert screen.query_one(".line-quantity").value == "3"
            assert screen.query_one("#domain-name").value == "example.com"
            assert Order.select().count() == Service.select().count() == Invoice.select().count() == 0
            assert EmailOutbox.select().count() == 0

            # Fixing both places the order; the messages go as the typing fixes them.
            await pilot.press("backspace", "1")
            await tab_to(pilot, by_id("domain-epp_code"))
            await pilot.press(*"AUTH")
            await settle(pilot, rounds=TYPING)
            assert not screen.query_one("#error-domain-epp").has_class("-shown")
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderResultScreen)

    run(scenario())
    assert Service.select().count() == 1 and Domain.get().kind == "transfer"


def test_no_client_and_no_lines_are_said_under_their_fields(db, db_url, catalog):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert str(app.screen.query_one("#error-client").render()) == "choose a client"
            assert str(app.screen.query_one("#error-lines").render()) == (
                "the order has no lines: add a product or a domain")
            assert by_id("client-search")(app.focused)

    run(scenario())
    assert Order.select().count() == 0


def test_promotion_code_is_checked_and_its_discount_shown_while_typing(db, db_url, catalog):
    Promotion.create(code="SAVE10", type="percentage", value=D("10.00"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Ho")
            await settle(pilot, rounds=TYPING)
            assert "First payment $15.00" in total_line(app)
            await tab_to(pilot, by_id("promo_code"))
            await pilot.press(*"SAVE1")
            await settle(pilot, rounds=TYPING)
            info = app.screen.query_one("#promo-info")
            assert str(info.render()) == "there is no promotion with the code 'SAVE1'"
            assert info.has_class("-error")
            await pilot.press("0")
            await settle(pilot, rounds=TYPING)
            assert str(info.render()) == ("SAVE10: 10.00% off, first invoice only; −$1.00 "
                                          "on this order")
            assert "First payment $14.00 (promotion −1.00)" in total_line(app)
            line = app.screen.query_one("OrderLineRow .line-message")
            assert str(line.render()) == "Monthly 10.00 + 5.00 setup − 1.00 SAVE10 = $14.00"

    run(scenario())


def test_escape_asks_before_losing_what_was_typed(db, db_url, catalog):
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await pilot.press("escape")  # nothing typed: leaves at once
            await settle(pilot, rounds=TYPING)
            assert not isinstance(app.screen, OrderFormScreen)
            await open_form(app, pilot)
            await pilot.press(*"Ad")
            await settle(pilot, rounds=TYPING)
            await pilot.press("escape")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("n")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderFormScreen)
            assert app.screen.query_one("#client-search").value == "Ad"
            await pilot.press("escape", "y")
            await settle(pilot, rounds=TYPING)
            assert not isinstance(app.screen, (OrderFormScreen, ConfirmDialog))

    run(scenario())
    assert Order.select().count() == 0


def test_accepting_from_the_result_provisions_with_the_none_module(db, db_url, catalog):
    make.product(name="Server", prices={"annually": "120.00"}, auto_setup="on_accept")

    async def scenario():
        app = app_for(db_url, login="boss")
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            await choose_client(app, pilot)
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Se")
            await tab_to(pilot, by_id("generate_invoice"))
            await pilot.press("space")  # no invoice
            await pilot.press("ctrl+s")
            await settle(pilot, rounds=TYPING)
            assert isinstance(app.screen, OrderResultScreen)
            assert "No invoice (first payment $120.00)" in screen_text(app)
            assert Service.get().status == "pending" and ModuleJob.select().count() == 0
            await pilot.press("a")
            await settle(pilot, rounds=TYPING)
            text = screen_text(app)
            assert "Accepted: module create queued for 1 service(s)" in text
            assert f"create of service #{Service.get().id} done" in text
            assert "a accept order" not in text

    run(scenario())
    assert Order.get().status == "active"
    assert Service.get().status == "active"
    assert [(j.command, j.source, j.status) for j in ModuleJob.select()] == [("create", "accept", "done")]
    assert Invoice.select().count() == 0


def test_a_second_new_order_opens_at_once_with_the_catalog_and_offers_a_product_added_since(
        db, db_url, catalog):
    """The first new order of a session reads the catalog before it is drawn; the next ones
    are drawn at once with the catalog read then (issue 17), and read it again once drawn:
    a product added meanwhile is offered a moment later, what was chosen stays chosen."""
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=SIZE) as pilot:
            app.action_new_order()
            await settle(pilot, rounds=TYPING)
            first = app.screen
            assert isinstance(first, OrderFormScreen) and not first.preloaded.kept
            await pilot.press("escape")
            await settle(pilot, rounds=TYPING)
            make.product(name="Backup", prices={"monthly": "3.00"})
            app.action_new_order()
            screen = app.screen  # pushed at once: no read first
            assert isinstance(screen, OrderFormScreen) and screen.preloaded.kept
            assert "Backup" not in [product.name for product in screen.preloaded.catalog]
            await settle(pilot, rounds=TYPING)
            product = screen.query_one(".line-product")
            assert "Backup" in [str(label) for label, _ in product._options]  # read again
            await tab_to(pilot, line_field(1, "product"))
            await pick(pilot, "Hos")
            await settle(pilot, rounds=TYPING)
            await tab_to(pilot, line_field(1, "cycle"))
            await pick(pilot, "Ann")
            await settle(pilot, rounds=TYPING)
            cycle = screen.query_one(".line-cycle")
            assert cycle.value == "annually"
            make.product(name="Domain Privacy", prices={"annually": "8.00"})
            screen._reread_start()
            await settle(pilot, rounds=TYPING)
            assert "Domain Privacy" in [str(label) for label, _ in product._options]
            assert product.value == catalog["hosting"].id  # what was chosen stays chosen
            assert cycle.value == "annually"  # and its cycle

    run(scenario())


def test_a_running_total_due_while_the_form_is_taken_down_does_nothing(db, db_url, catalog):
    """The total is recomputed a moment after the last key: the form may be on its way out
    by then, its fields gone. Nothing is quoted and nothing breaks."""
    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await open_form(app, pilot)
            form = app.screen
            await tab_to(pilot, by_id("promo_code"))
            await pilot.press("a")  # a key: the total is due in a moment
            await form.query_one("#payment_method").remove()
            await pilot.pause(order_form.QUOTE_DELAY * 3)
            await settle(pilot)
            assert app.screen is form and app.return_value is None

    run(scenario())
