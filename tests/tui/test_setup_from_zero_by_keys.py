"""Issue 15's acceptance, on screen: from `hostdesk init` on an empty database, with keys
alone, the setup screens make a client group and a client, a payment method, a product with
three cycles, setup fees and a configurable option, a catalog addon, a promotion and a TLD;
the order form orders with them; the daily run reaches the first renewal; every amount is
checked to the cent.

The order line picks the configurable option and the catalog addon itself (ctrl+o on the
line); the first invoice is paid, so the first renewal bills the service and its addon.
"""

import os
from decimal import Decimal

import pendulum

from hostdesk.automation.config import load_config
from hostdesk.automation.cron import run_daily
from hostdesk.automation.identity import OsAccount
from hostdesk.models.clock import Clock
from hostdesk.models.invoicing import record_payment
from hostdesk.models.db import bind
from hostdesk.models.schema import (
    CatalogAddon,
    Client,
    ClientGroup,
    ConfigOption,
    ConfigOptionChoice,
    Invoice,
    InvoiceLine,
    LineKind,
    Order,
    PaymentMethod,
    Product,
    ProductPrice,
    Promotion,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    Tld,
)
from hostdesk.models.settings import Settings
from tests.tui.conftest import run, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.cli import main
from hostdesk.tui.screens.order_form import OrderFormScreen, OrderResultScreen
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 1, 10)
SIZE = (120, 40)


def init_from_zero(db_url: str) -> None:
    """`hostdesk init` as the OS account `owner` (its first full admin)."""
    assert main(["--db", db_url, "init"],
                os_account=OsAccount(uid=os.getuid(), login="owner")) == 0
    bind(db_url).connect(reuse_if_open=True)


async def tab_to(pilot, field_id: str, limit: int = 80) -> None:
    """Tab until the widget with this id has focus, as an admin would."""
    for _ in range(limit):
        focused = pilot.app.focused
        if focused is not None and focused.id == field_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{field_id}; focus is on {pilot.app.focused!r}")


async def tab_to_class(pilot, css_class: str, limit: int = 80) -> None:
    for _ in range(limit):
        focused = pilot.app.focused
        if focused is not None and focused.has_class(css_class):
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached .{css_class}; focus is on {pilot.app.focused!r}")


async def type_in(pilot, field_id: str, text: str) -> None:
    await tab_to(pilot, field_id)
    await pilot.press(*text)


async def pick(pilot, field_id: str, text: str) -> None:
    """Open the Select, type to find the choice, take it."""
    await tab_to(pilot, field_id)
    await pilot.press("enter", *text)
    await pilot.pause(0.05)
    await pilot.press("enter")


async def go(pilot, letter: str) -> None:
    await pilot.press("g", letter)
    await settle(pilot)


async def new_record(pilot) -> None:
    await pilot.press("n")
    await settle(pilot)


async def save_and_leave(pilot, check) -> None:
    """ctrl+s, wait until the database has it, then escape leaves without a question."""
    await pilot.press("ctrl+s")
    await settle(pilot)
    await settle(pilot, until=check)
    await settle(pilot)
    await pilot.press("escape")
    await settle(pilot)


def test_a_host_starts_from_zero_with_keys_alone(db_url, tmp_path):
    init_from_zero(db_url)
    config = load_config(database_url=db_url)

    async def scenario():
        app = make_app(config, "owner", Clock("UTC", TODAY))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)

            # A payment method.
            await go(pilot, "y")
            await new_record(pilot)
            await type_in(pilot, "field-name", "wire")
            await save_and_leave(pilot, lambda: PaymentMethod.select().where(
                PaymentMethod.name == "wire").exists())

            # A client group.
            await go(pilot, "u")
            await new_record(pilot)
            await type_in(pilot, "field-name", "Agencies")
            await save_and_leave(pilot, lambda: ClientGroup.select().exists())

            # A client in that group, paying by wire.
            await go(pilot, "c")
            await new_record(pilot)
            await type_in(pilot, "field-first_name", "Ada")
            await type_in(pilot, "field-last_name", "Lovelace")
            await type_in(pilot, "field-email", "ada@example.com")
            await pick(pilot, "field-country", "united k")
            await pick(pilot, "field-group", "Agen")
            await pick(pilot, "field-default_payment_method", "wire")
            await save_and_leave(pilot, lambda: Client.select().exists())

            # A product: three cycles with setup fees, then a configurable option.
            await go(pilot, "p")
            await new_record(pilot)
            await type_in(pilot, "field-name", "Cloud S")
            await pick(pilot, "field-type", "vps")
            await pick(pilot, "field-auto_setup", "never")
            await pick(pilot, "field-welcome_email", "welcome_vps")
            for cycle, price, setup in (("monthly", "10.00", "5.00"),
                                        ("quarterly", "27.00", "2.50"),
                                        ("annually", "100.00", "")):
                await type_in(pilot, f"prices-price-{cycle}", price)
                if setup:
                    await type_in(pilot, f"prices-setup-{cycle}", setup)
            await pilot.press("ctrl+s")
            await settle(pilot)
            await settle(pilot, until=lambda: Product.select().exists())
            await settle(pilot)
            await tab_to(pilot, "product-options")
            await pilot.press("o")  # add a configurable option (a dialog)
            await settle(pilot)
            await type_in(pilot, "field-name", "Backups")
            await pick(pilot, "field-option_type", "yes")
            await type_in(pilot, "choice1-name", "Daily")
            await type_in(pilot, "choice1-price-monthly", "3.00")
            await pilot.press("ctrl+s")
            await settle(pilot)
            await settle(pilot, until=lambda: ConfigOption.select().exists())
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)

            # A catalog addon for that product.
            await go(pilot, "n")
            await new_record(pilot)
            await type_in(pilot, "field-name", "Monitoring")
            await type_in(pilot, "field-products", "Cloud S")
            await type_in(pilot, "prices-price-monthly", "1.50")
            await save_and_leave(pilot, lambda: CatalogAddon.select().exists())

            # A promotion: 20% off, the first invoice and one renewal, monthly Cloud S only.
            await go(pilot, "r")
            await new_record(pilot)
            await type_in(pilot, "field-code", "HELLO")
            await type_in(pilot, "field-value", "20")
            await tab_to(pilot, "field-recurring")
            await pilot.press("end", *["backspace"] * len("first"), "1")
            await type_in(pilot, "field-products", "Cloud S")
            await type_in(pilot, "field-cycles", "monthly")
            await save_and_leave(pilot, lambda: Promotion.select().exists())

            # A TLD.
            await go(pilot, "t")
            await new_record(pilot)
            await type_in(pilot, "field-name", ".dev")
            await type_in(pilot, "field-register_price", "15.00")
            await type_in(pilot, "field-transfer_price", "15.00")
            await type_in(pilot, "field-renew_price", "16.00")
            await save_and_leave(pilot, lambda: Tld.select().exists())

            # The order: Ada, Cloud S monthly with HELLO, ada.dev registered for a year.
            await go(pilot, "o")
            await pilot.press("n")  # the new record of the orders list: an order
            await settle(pilot)
            assert isinstance(app.screen, OrderFormScreen)
            await pilot.press(*"Ada")
            # the search runs after a typing pause, off the UI thread: wait for its match
            # (the list of matches is made with the first answer)
            await settle(pilot, until=lambda: any(
                matches.option_count for matches in app.screen.query("#client-matches")),
                seconds=15)
            await pilot.press("enter")
            await settle(pilot, until=lambda: app.screen.query_one("#payment_method").value == "wire",
                           seconds=15)
            await pick(pilot, "status", "active")
            await type_in(pilot, "promo_code", "hello")
            await tab_to_class(pilot, "line-product")
            await pilot.press("enter", *"Cl", "enter")
            await tab_to_class(pilot, "line-cycle")
            await pilot.press("enter", *"month", "enter")
            await pilot.press("ctrl+o")  # the line's configurable option and catalog addon
            await settle(pilot)
            await pilot.press("enter", *"Da", "enter")  # Backups: Daily
            await pilot.press("tab", "space", "ctrl+s")  # tick Monitoring, keep
            await settle(pilot)
            assert isinstance(app.screen, OrderFormScreen)
            await pick(pilot, "domain-action", "reg")
            await type_in(pilot, "domain-name", "ada.dev")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            await settle(pilot, until=lambda: isinstance(app.screen, OrderResultScreen))
            await pilot.press("enter")
            await settle(pilot)

        return app

    run(scenario())

    client = Client.get()
    assert (client.first_name, client.country, client.group.name,
            client.default_payment_method) == ("Ada", "GB", "Agencies", "wire")
    product = Product.get()
    assert (product.name, product.type, product.auto_setup, product.welcome_email) == (
        "Cloud S", "vps", "never", "welcome_vps")
    assert sorted((p.cycle, p.price, p.setup_fee) for p in ProductPrice.select()) == [
        ("annually", D("100.00"), D("0.00")), ("monthly", D("10.00"), D("5.00")),
        ("quarterly", D("27.00"), D("2.50"))]
    option = ConfigOption.get()
    assert (option.name, option.option_type, option.product_id) == ("Backups", "yesno", product.id)
    assert ConfigOptionChoice.get().name == "Daily"
    promotion = Promotion.get()
    assert (promotion.code, promotion.type, promotion.value, promotion.recurring,
            promotion.recur_for, promotion.cycles) == ("HELLO", "percentage", D("20.00"), True, 1,
                                                       "monthly")
    tld = Tld.get()
    assert (tld.name, tld.register_price, tld.renew_price) == ("dev", D("15.00"), D("16.00"))

    # The first invoice: 10.00 + 3.00 daily backups + 5.00 setup - 20% of 13.00, Monitoring
    # 1.50, 15.00 for ada.dev.
    order = Order.get()
    service = Service.get()
    assert (order.client_id, order.payment_method, service.billing_cycle,
            service.promotion_id, service.recurring_amount) == (
        client.id, "wire", "monthly", promotion.id, D("10.40"))
    assert ServiceConfigOption.get().choice.name == "Daily"
    first = Invoice.get(Invoice.order == order.id)
    assert first.total == D("31.90")
    assert sorted((line.item_type, line.kind, line.amount) for line in first.lines) == sorted([
        ("service", LineKind.FIRST, D("13.00")), ("service", LineKind.SETUP, D("5.00")),
        ("service", LineKind.DISCOUNT, D("-2.60")), ("addon", LineKind.RENEWAL, D("1.50")),
        ("domain", LineKind.FIRST, D("15.00"))])
    addon = ServiceAddon.get()
    assert (addon.name, addon.recurring_amount, addon.billing_cycle, addon.status,
            addon.service_id) == ("Monitoring", D("1.50"), "monthly", "active", service.id)
    record_payment(first.id, "31.90", date=TODAY, method="wire", admin=as_login("owner"))

    # The daily run, 14 days before the first renewal of 2026-02-10.
    renewal_day = pendulum.date(2026, 2, 10)
    run_daily(Settings(smtp_port=1), Clock("UTC", renewal_day.subtract(days=14)),
              send_emails=False)
    renewal = (InvoiceLine.select().where(InvoiceLine.kind == LineKind.RENEWAL,
                                          InvoiceLine.item_type == "service",
                                          InvoiceLine.item_id == service.id).get())
    assert renewal.period_start == renewal_day
    assert renewal.amount == D("10.40")  # the one discounted renewal: 20% off 13.00
    assert [(line.item_type, line.amount) for line in renewal.invoice.lines
            .order_by(InvoiceLine.sort_order)] == [("service", D("10.40")), ("addon", D("1.50"))]
    assert renewal.invoice.total == D("11.90")
    assert renewal.invoice.payment_method == "wire"
    assert renewal.invoice.due_date == renewal_day
    assert Service.get_by_id(service.id).promotion_uses == 1
