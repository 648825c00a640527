"""Every editing screen on one form base (issue 17, forms): a field or section reached by
name (`ctrl+f`) or by its section's key, ticks that show their state, escape that asks
before unsaved changes are lost, and wide enough product lists."""

from __future__ import annotations

from decimal import Decimal

import pendulum

from hostdesk.models.schema import Admin, Client, Service
from tests import factories as make
from tests.tui.conftest import CLOCK, run, screen_text, settle
from hostdesk.tui.screens.client_setup import ClientFormScreen
from hostdesk.tui.screens.order_form import OrderFormScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.widgets.dialogs import ConfirmDialog
from hostdesk.tui.widgets.field_finder import FieldFinder

D = Decimal


def priced_service() -> Service:
    """A service whose recurring amount (12.00) is not its product's price (30.00)."""
    Admin.create(login="tester", role="full")
    product = make.product(name="Business Hosting", group_name="Shared Hosting",
                           prices={"monthly": "30.00"})
    return make.service(product_row=product, recurring_amount=D("12.00"),
                        billing_cycle="monthly", next_due_date=pendulum.date(2026, 12, 1))


def finder_ready(app) -> bool:
    """The field finder is on top with its input focused (keys typed before would be lost)."""
    return isinstance(app.screen, FieldFinder) and getattr(app.focused, "id", "") == "finder-input"


async def go_to_field(app, pilot, name: str) -> None:
    """ctrl+f, type `name`, enter: the field finder's pick, back on the form."""
    form = app.screen
    await pilot.press("ctrl+f")
    await settle(pilot, until=lambda: finder_ready(app))
    await pilot.press(*name, "enter")
    await settle(pilot, until=lambda: app.screen is form)


async def open_service(app, pilot, service_id: int) -> ServiceScreen:
    await app.push_screen(ServiceScreen(service_id))
    await settle(pilot, until=lambda: app.screen.view is not None)
    return app.screen


def test_auto_recalculate_is_three_keys_from_opening_the_service_page(db, app_for):
    service = priced_service()

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_service(app, pilot, service.id)
            tick = screen.query_one("#auto-recalculate")
            assert app.focused is not tick
            await pilot.press("alt+o")  # the "On save" section's key: its first field
            assert app.focused is tick and not tick.value
            await pilot.press("space")
            assert tick.value
            await pilot.pause()
            assert "▐✓▌ Auto recalculate on save" in screen_text(app)  # seen, not only coloured
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: screen.query_one(
                "#field-recurring_amount").value == "30.00")

    run(scenario())
    assert Service.get_by_id(service.id).recurring_amount == D("30.00")


def test_the_field_finder_goes_to_the_tick_by_name(db, app_for):
    service = priced_service()

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_service(app, pilot, service.id)
            await go_to_field(app, pilot, "auto")
            assert app.focused is screen.query_one("#auto-recalculate")

    run(scenario())


def test_a_service_field_is_found_by_its_label_and_its_label_shows_the_focus(db, app_for):
    """The service page's labels are drawn by their rows: the finder still names each field
    by its label, and the focused field's label stands out (bold, in the accent colour)."""
    service = priced_service()

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_service(app, pilot, service.id)
            labels = {entry.target: entry.name for entry in screen.finder_entries()}
            assert labels["field-next_due_date"] == "Next due date"
            assert labels["field-auto_terminate_end_of_cycle"] == "Auto-terminate"
            row = screen.query_one("#field-next_due_date").parent
            assert not row.render().spans  # muted like every other label
            await go_to_field(app, pilot, "next due")
            assert app.focused is screen.query_one("#field-next_due_date")
            await pilot.pause()
            assert [str(span.style) for span in row.render().spans] == ["bold $accent"]

    run(scenario())


def test_the_product_list_shows_each_product_by_its_own_name_first(db, app_for):
    service = priced_service()
    make.product(name="Dedicated EPYC 7443P", group_name="Dedicated Servers")
    make.product(name="Dedicated E-2388G", group_name="Dedicated Servers")

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_service(app, pilot, service.id)
            await pilot.press("alt+s", "enter")  # the Service section: Product, opened
            await pilot.pause()
            text = screen_text(app)
            # The open list is as wide as its longest choice, though the field is narrower.
            assert "Dedicated EPYC 7443P · Dedicated Servers" in text
            assert "Dedicated E-2388G · Dedicated Servers" in text

    run(scenario())


def test_client_form_sections_finder_and_escape(db, app_for):
    Admin.create(login="tester", role="full")

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(ClientFormScreen(0))
            await settle(pilot)
            form = app.screen
            text = screen_text(app)
            assert "Name and contact · alt+n" in text and "Address · alt+a" in text
            await pilot.press("alt+b")
            assert app.focused.id == "field-group"  # the Billing section's first field
            await go_to_field(app, pilot, "post")
            assert app.focused.id == "field-postcode"
            await pilot.press(*"EC1")
            await pilot.press("escape")  # typed, not saved: asks
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("escape")  # stay
            await settle(pilot, until=lambda: app.screen is form)
            assert form.query_one("#field-postcode").value == "EC1"
            await pilot.press("escape")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await settle(pilot, until=lambda: app.screen is not form and not isinstance(
                app.screen, ConfirmDialog))

    run(scenario())
    assert Client.select().count() == 0


def test_order_form_sections_have_keys(db, app_for):
    Admin.create(login="tester", role="full")
    make.product(name="Starter", prices={"monthly": "5.00"})

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.push_screen(OrderFormScreen())
            await settle(pilot)
            await pilot.press("alt+d")
            assert app.focused.id == "domain-action"
            await pilot.press("alt+c")
            assert app.focused.id == "client-search"

    run(scenario())


def test_a_row_with_two_fields_names_and_lights_each_by_its_own_label(db, app_for):
    """The order form's "Payment method … Status" row draws both labels itself (no Label
    widgets, issue 17): the finder names each field by its own label, only the focused one's
    label is lit, and the mass update's fields are named by the tick that enables them."""
    from hostdesk.tui.screens.mass_update import MassUpdateScreen

    Admin.create(login="tester", role="full")
    make.product(name="Starter", prices={"monthly": "5.00"})
    service = make.service()

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.push_screen(OrderFormScreen())
            await settle(pilot)
            screen = app.screen
            labels = {entry.target: entry.name for entry in screen.finder_entries()}
            assert (labels["payment_method"], labels["status"]) == ("Payment method", "Status")
            line = next(text for text in screen_text(app).splitlines() if "Status" in text)
            assert line.index("Payment method") < line.index("client's default") \
                < line.index("Status") < line.index("pending")
            row = screen.query_one("#payment-row")
            assert not row.render().spans
            await go_to_field(app, pilot, "status")
            assert app.focused is screen.query_one("#status")
            await pilot.pause()
            lit = [(span.start, span.end) for span in row.render().spans]
            plain = row.render().plain
            assert [plain[start:end] for start, end in lit] == ["Status"]

            app.pop_screen()
            await app.push_screen(MassUpdateScreen([service.id]))
            await settle(pilot)
            names = {entry.target: entry.name for entry in app.screen.finder_entries()}
            assert names["value-recurring_amount"] == "Recurring amount"
            assert names["prorata"] == "create prorata invoice"
            assert names["command"] == "Or module command"

    run(scenario())


def test_leaving_an_upgrade_with_a_change_chosen_asks_first(db, app_for):
    from hostdesk.tui.screens.upgrade import UpgradeScreen

    Admin.create(login="tester", role="full")
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=pendulum.date(2026, 12, 1))

    async def scenario():
        app = app_for("tester", CLOCK)
        async with app.run_test(size=(120, 36)) as pilot:
            await app.push_screen(UpgradeScreen(service.id))
            await settle(pilot, until=lambda: app.screen.start is not None)
            screen = app.screen
            await pilot.press("escape")  # nothing chosen: leaves at once
            await settle(pilot, until=lambda: app.screen is not screen)
            await app.push_screen(UpgradeScreen(service.id))
            await settle(pilot, until=lambda: app.screen.start is not None)
            screen = app.screen
            screen.query_one("#new-product").value = big.id
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("escape")  # stay: the choice is still there
            await settle(pilot, until=lambda: app.screen is screen)
            assert screen.query_one("#new-product").value == big.id

    run(scenario())
