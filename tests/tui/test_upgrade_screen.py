"""The upgrade/downgrade screen, driven by keys through `tui.app.make_app` (rules §7)."""

import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.models import upgrades
from hostdesk.models.clock import Clock
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import (
    Admin,
    Client,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionPrice,
    Invoice,
    ModuleJob,
    Order,
    Promotion,
    Service,
    Upgrade,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import run
from hostdesk.tui.screens import upgrade as upgrade_screen
from hostdesk.tui.screens.invoices import InvoiceScreen, PaymentDialog
from hostdesk.tui.screens.upgrade import UpgradeScreen
from hostdesk.tui.widgets.dialogs import ConfirmDialog

D = Decimal
TODAY = pendulum.date(2026, 4, 19)  # 12 days before the NDD, in April (30 days)
NDD = pendulum.date(2026, 5, 1)
CLOCK = Clock("UTC", TODAY)
SIZE = (120, 40)
# Pictures of the screens to look at (tools/svg2png); kept out of the source tree.
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


class RecordingModule(NoneModule):
    calls: list = []

    def change_package(self, params):
        RecordingModule.calls.append((params.service_id, params.product.name))
        return super().change_package(params)


@pytest.fixture(autouse=True)
def setup(db, monkeypatch):
    monkeypatch.setattr(upgrade_screen, "QUOTE_DELAY", 0.01)  # no need to wait for typing
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")
    RecordingModule.calls = []
    monkeypatch.setattr(registry, "get_module", lambda name: RecordingModule())


@pytest.fixture
def plans(db):
    small = make.product(name="Small", prices={"monthly": "10.00", "annually": "100.00"})
    big = make.product(name="Big", prices={"monthly": "25.00", "annually": "150.00"})
    return small, big


async def settle(app, pilot):
    """Until the quote timer, the workers and the answers they posted are all done."""
    for _ in range(8):
        await pilot.pause(0.02)
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                break
        await app.workers.wait_for_complete()


def quote_panel(app) -> str:
    return str(app.screen.query_one("#upgrade-quote").render())


async def open_upgrade(app, pilot, service_id):
    await app.push_screen(UpgradeScreen(service_id))
    await settle(app, pilot)
    return app.screen


async def choose(pilot, screen, widget_id, value):
    screen.query_one(f"#{widget_id}").value = value
    await settle(pilot.app, pilot)


def test_quote_on_screen_matches_the_rules_then_confirm_and_pay(db, app_for, plans):
    small, big = plans
    service = make.service(product_row=small, next_due_date=NDD)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            assert "Now: Small (Monthly) $10.00" in str(screen.query_one("#upgrade-current").render())
            assert "Choose another product" in quote_panel(app)
            assert screen.check_action("confirm", ()) is None  # nothing to confirm yet
            await choose(pilot, screen, "new-product", big.id)
            panel = quote_panel(app)
            assert "Small (Monthly) → Big (Monthly)" in panel
            assert "Days remaining                 12  of 30\n" in panel
            assert "Credit                     -$4.00  10.00 × 12/30" in panel
            assert "Charge                     $10.00  25.00 × 12/30" in panel
            assert "Payable                     $6.00" in panel
            assert "New recurring              $25.00  Monthly" in panel
            assert "Next due date          2026-05-01  stays" in panel
            app.save_screenshot("upgrade_quote.svg", str(SCREENSHOTS))
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert isinstance(app.screen, InvoiceScreen)
            invoice = Invoice.get()
            assert app.screen.invoice_id == invoice.id
            assert invoice.total == D("6.00")
            assert Service.get_by_id(service.id).product_id == small.id  # nothing until paid
            await pilot.press("p")
            await settle(app, pilot)
            assert isinstance(app.screen, PaymentDialog)
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert "  PAID" in str(app.screen.query_one("#invoice-summary").render())

    run(scenario())
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.billing_cycle, fresh.recurring_amount, fresh.next_due_date) == (
        big.id, "monthly", D("25.00"), NDD)
    assert RecordingModule.calls == [(service.id, "Big")]
    assert (Upgrade.get().status, Order.get().status, ModuleJob.get().status) == (
        "applied", "active", "done")


def test_cycle_change_and_a_promotion_code_requote(db, app_for, plans):
    small, big = plans
    service = make.service(product_row=small, next_due_date=NDD)
    Promotion.create(code="HALF", type="percentage", value=D("50.00"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            await choose(pilot, screen, "new-product", big.id)
            await choose(pilot, screen, "new-cycle", "annually")
            panel = quote_panel(app)
            assert "Small (Monthly) → Big (Annually)" in panel
            assert "Charge                      $4.93  150.00 × 12/365" in panel
            assert "Payable                     $0.93" in panel
            screen.query_one("#promo-code").focus()
            await pilot.press(*"half")
            await settle(app, pilot)
            panel = quote_panel(app)
            assert "Promotion                  -$0.47  HALF" in panel
            assert "Payable                     $0.46" in panel
            await pilot.press("ctrl+s")
            await settle(app, pilot)

    run(scenario())
    assert Invoice.get().total == D("0.46")
    assert Upgrade.get().new_cycle == "annually"


def test_a_bad_promotion_code_is_shown_under_its_field_and_nothing_can_be_confirmed(db, app_for, plans):
    small, big = plans
    service = make.service(product_row=small, next_due_date=NDD)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            await choose(pilot, screen, "new-product", big.id)
            await choose(pilot, screen, "promo-code", "NOPE")
            assert "no promotion with the code 'NOPE'" in str(screen.query_one("#error-promo_code").render())
            assert screen.check_action("confirm", ()) is None
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert app.screen is screen

    run(scenario())
    assert Order.select().count() == 0


def test_configurable_option_change_through_the_same_screen(db, app_for, plans):
    small, _ = plans
    disk = ConfigOption.create(product=small, name="Disk", option_type="dropdown")
    ten = ConfigOptionChoice.create(option=disk, name="10 GB", sort_order=1)
    fifty = ConfigOptionChoice.create(option=disk, name="50 GB", sort_order=2)
    ConfigOptionPrice.create(choice=fifty, cycle="monthly", price=D("5.00"))
    service = make.service(product_row=small, next_due_date=NDD)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            assert screen.query_one(f"#option-{disk.id}").value == ten.id
            await choose(pilot, screen, f"option-{disk.id}", fifty.id)
            panel = quote_panel(app)
            assert "Disk: 10 GB → 50 GB" in panel
            assert "Charge                      $2.00  5.00 × 12/30" in panel
            assert "New recurring              $15.00" in panel
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert isinstance(app.screen, InvoiceScreen)

    run(scenario())
    assert Invoice.get().total == D("2.00")
    assert upgrades.current_config_choices(service.id) == {}  # applies on payment only


def test_a_downgrade_is_applied_at_once_with_its_credit(db, app_for, plans):
    small, big = plans
    service = make.service(product_row=big, next_due_date=NDD, recurring_amount=D("25.00"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            await choose(pilot, screen, "new-product", small.id)
            panel = quote_panel(app)
            assert "Payable                     $0.00" in panel
            assert "Credit to client            $6.00" in panel
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert "  PAID" in str(app.screen.query_one("#invoice-summary").render())

    run(scenario())
    assert Service.get_by_id(service.id).product_id == small.id
    assert Client.get_by_id(service.client_id).credit == D("6.00")
    assert RecordingModule.calls == [(service.id, "Small")]


def test_refusals_are_said_in_the_quote_panel(db, app_for, plans):
    small, big = plans
    terminated = make.service(product_row=small, status="terminated", next_due_date=NDD)
    no_ndd = make.service(product_row=small, next_due_date=None)
    waiting = make.service(product_row=small, next_due_date=NDD)
    upgrades.create_upgrade(waiting.id, big.id, "annually", TODAY, Settings(), admin=find_admin("boss"))
    before = (Order.select().count(), Invoice.select().count())
    cases = [(terminated, "is terminated; only active or suspended services"),
             (no_ndd, "a recurring service needs a next due date"),
             (waiting, "already has an upgrade waiting for payment")]

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            for service, message in cases:
                screen = await open_upgrade(app, pilot, service.id)
                await choose(pilot, screen, "new-product", big.id)
                assert message in quote_panel(app)
                assert screen.check_action("confirm", ()) is None
                await pilot.press("ctrl+s")
                await settle(app, pilot)
                assert app.screen is screen
                await pilot.press("escape")  # the chosen change is not confirmed: asks
                await settle(app, pilot)
                assert isinstance(app.screen, ConfirmDialog)
                await pilot.press("y")
                await settle(app, pilot)
                assert screen not in app.screen_stack

    run(scenario())
    assert (Order.select().count(), Invoice.select().count()) == before


def test_without_the_permission_the_quote_shows_but_cannot_be_confirmed(db, app_for, plans):
    small, big = plans
    Admin.create(login="helper", role="support")
    service = make.service(product_row=small, next_due_date=NDD)

    async def scenario():
        app = app_for("helper", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            await choose(pilot, screen, "new-product", big.id)
            assert "Payable                     $6.00" in quote_panel(app)
            assert screen.check_action("confirm", ()) is None
            await pilot.press("ctrl+s")
            await settle(app, pilot)

    run(scenario())
    assert Order.select().count() == 0


def test_the_screen_opens_with_the_cycles_of_the_services_product(db, app_for):
    """Issue 14 bug 9: filling the product picker selected the first catalog product for a
    moment, and its cycles stayed on the screen."""
    from hostdesk.tui.screens.service import ServiceScreen

    make.product(name="Alpha", prices={"monthly": "5.00"})  # first in the catalog
    zeta = make.product(name="Zeta", prices={"annually": "100.00", "biennially": "180.00"})
    service = make.service(product_row=zeta, billing_cycle="biennially",
                           recurring_amount=D("180.00"), next_due_date=NDD)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(ServiceScreen(service.id))
            await settle(app, pilot)
            await pilot.press("U")  # the key a person presses on the service page
            await settle(app, pilot)
            screen = app.screen
            assert isinstance(screen, UpgradeScreen)
            cycles = screen.query_one("#new-cycle")
            assert screen.query_one("#new-product").value == zeta.id
            assert [value for _, value in cycles._options if value] == ["annually", "biennially"]
            assert cycles.value == "biennially"
            assert "Choose another product" in quote_panel(app)

    run(scenario())


@pytest.mark.parametrize("cycle", ["free", "one_time"])
def test_a_service_on_a_cycle_its_product_has_no_price_for_opens_unchanged(db, app_for, plans,
                                                                           cycle):
    """A free or one-time service opens the form on its own cycle: escape leaves at once, as
    nothing was chosen (it used to show the first priced cycle and ask to discard it)."""
    small, _ = plans
    service = make.service(product_row=small, billing_cycle=cycle, recurring_amount=D("0.00"),
                           next_due_date=NDD)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_upgrade(app, pilot, service.id)
            cycles = screen.query_one("#new-cycle")
            assert [value for _, value in cycles._options if value] == [
                cycle, "monthly", "annually"]
            assert cycles.value == cycle
            await pilot.press("escape")
            await settle(app, pilot)
            assert not isinstance(app.screen, (UpgradeScreen, ConfirmDialog))

    run(scenario())
    assert Order.select().count() == 0
