"""The payment method is picked from the managed list (issue 15) on the service page, the mass
update screen and in the invoice's payment dialog: enabled methods only, in the admin's order; the record's own
method is shown even when since disabled, marked so; the keyboard finds a method by typing
part of its name (Textual's Select searches as you type). Checked against the database."""

from __future__ import annotations

from decimal import Decimal

import pendulum
import pytest
from textual.widgets import Select

from hostdesk.models import invoicing
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.payment_methods import (
    add_payment_method,
    edit_payment_method,
    list_payment_methods,
)
from hostdesk.models.schema import ActivityLog, Admin, Invoice, LineKind, Payment, Service
from hostdesk.tui.screens.invoices import InvoiceScreen, PaymentDialog
from hostdesk.tui.screens.mass_update import MassUpdateScreen, Phase
from hostdesk.tui.screens.service import ServiceScreen
from tests import factories as make
from tests.tui.conftest import TODAY, run, screen_text, settle
from tests.factories import as_login

D = Decimal
SIZE = (120, 40)


@pytest.fixture
def methods(db):
    """banktransfer, crypto, card offered in that order; paypal disabled."""
    Admin.create(login="boss", role="full")
    make.ensure_template("invoice_created")
    add_payment_method({"name": "crypto", "sort_order": "1"}, admin=as_login("boss"))
    by_name = {m.name: m for m in list_payment_methods()}
    edit_payment_method(by_name["card"].id, by_name["card"].version, {"sort_order": "5"},
                        admin=as_login("boss"))
    edit_payment_method(by_name["paypal"].id, by_name["paypal"].version, {"enabled": "no"},
                        admin=as_login("boss"))


def offered(select: Select) -> list[tuple[str, str]]:
    return [(str(prompt), value) for prompt, value in select._options
            if value is not Select.NULL]


async def pick(pilot, select: Select, typed: str) -> None:
    """As an admin would: focus the picker, open it, type part of a name, take it."""
    select.focus()
    await pilot.pause()
    await pilot.press("enter", *typed, "enter")
    await pilot.pause()


def test_mass_update_picks_an_enabled_method_by_typing(methods, app_for):
    ids = [make.service(domain=f"s{n}.example").id for n in range(3)]

    async def scenario():
        app = app_for("boss")
        async with app.run_test(size=SIZE) as pilot:
            screen = MassUpdateScreen(ids, ticked=ids)
            app.push_screen(screen)
            await settle(pilot)
            picker = screen.query_one("#value-payment_method", Select)
            await settle(pilot, until=lambda: offered(picker))
            assert offered(picker) == [("banktransfer", "banktransfer"), ("crypto", "crypto"),
                                       ("card", "card")]  # paypal is disabled: not offered
            await pick(pilot, picker, "cry")
            assert picker.value == "crypto"
            tick = screen.query_one("#tick-payment_method")
            assert tick.value  # picking ticks the field
            tick.focus()
            await pilot.press("space")  # unticked by hand; reading the list again keeps both
            await pilot.press("ctrl+r")
            await settle(pilot)
            assert (picker.value, tick.value) == ("crypto", False)
            await pilot.press("space")
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: screen.phase == Phase.PREVIEW)
            assert "crypto" in screen_text(app)
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: screen.note == "applied: 3 changed")

    run(scenario())
    assert [s.payment_method for s in Service.select().order_by(Service.id)] == ["crypto"] * 3


def _invoice(method: str) -> Invoice:
    service = make.service(next_due_date=TODAY)
    return invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=D("10.00"),
                  item_type="service", item_id=service.id, period_start=TODAY,
                  period_end=TODAY.add(months=1))],
        date=TODAY, due_date=TODAY, payment_method=method, admin=as_login("boss"))


async def _payment_dialog(app, pilot, invoice_id: int) -> PaymentDialog:
    app.push_screen(InvoiceScreen(invoice_id))
    await settle(pilot, until=lambda: getattr(app.screen, "view", None) is not None)
    await pilot.press("p")
    await settle(pilot, until=lambda: isinstance(app.screen, PaymentDialog))
    return app.screen


def test_payment_dialog_offers_the_list_and_keeps_the_invoice_method_marked_disabled(
        methods, app_for):
    invoice = _invoice("paypal")  # since disabled

    async def scenario():
        app = app_for("boss")
        async with app.run_test(size=SIZE) as pilot:
            dialog = await _payment_dialog(app, pilot, invoice.id)
            picker = dialog.query_one("#field-method", Select)
            assert offered(picker) == [("banktransfer", "banktransfer"), ("crypto", "crypto"),
                                       ("card", "card"), ("paypal (disabled)", "paypal")]
            assert picker.value == "paypal"
            assert "paypal (disabled)" in screen_text(app)
            dialog.query_one("#field-amount").value = "4.00"
            dialog.query_one("#field-transaction_ref").value = "TX-1"
            await pilot.press("ctrl+s")  # the invoice's own method, disabled since: accepted
            await settle(pilot, until=lambda: isinstance(app.screen, InvoiceScreen))
            await settle(pilot)
            dialog = await _payment_dialog(app, pilot, invoice.id)
            picker = dialog.query_one("#field-method", Select)
            dialog.query_one("#field-transaction_ref").value = "TX-2"
            await pick(pilot, picker, "car")
            assert picker.value == "card"
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: isinstance(app.screen, InvoiceScreen))
            await settle(pilot)

    run(scenario())
    assert [(p.method, p.amount, p.transaction_ref)
            for p in Payment.select().order_by(Payment.id)] == [
        ("paypal", D("4.00"), "TX-1"), ("card", D("6.00"), "TX-2")]
    assert Invoice.get_by_id(invoice.id).status == "paid"


def test_service_page_keeps_its_disabled_method_marked_and_picks_another_by_typing(
        methods, app_for):
    service = make.service(payment_method="paypal", admin_notes="")  # since disabled

    async def scenario():
        app = app_for("boss")
        async with app.run_test(size=SIZE) as pilot:
            app.push_screen(ServiceScreen(service.id))
            await settle(pilot, until=lambda: isinstance(app.screen, ServiceScreen)
                           and app.screen.view is not None)
            screen = app.screen
            picker = screen.query_one("#field-payment_method", Select)
            assert offered(picker) == [("banktransfer", "banktransfer"), ("crypto", "crypto"),
                                       ("card", "card"), ("paypal (disabled)", "paypal")]
            assert picker.value == "paypal"
            assert "paypal (disabled)" in screen_text(app)
            notes = screen.query_one("#field-admin_notes")
            notes.focus()
            await pilot.press(*"kept")
            await pilot.press("ctrl+s")  # another field saved: the disabled method stays
            await settle(pilot, until=lambda: Service.get_by_id(service.id).admin_notes == "kept")
            await settle(pilot)
            await pick(pilot, picker, "cry")
            assert picker.value == "crypto"
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: Service.get_by_id(service.id).payment_method
                           == "crypto")
            await settle(pilot)
            # Shown again from the database: paypal is no longer this service's, so not offered.
            await settle(pilot, until=lambda: ("paypal (disabled)", "paypal") not in offered(picker))
            assert offered(picker) == [("banktransfer", "banktransfer"), ("crypto", "crypto"),
                                       ("card", "card")]
            assert picker.value == "crypto"

    run(scenario())
    stored = Service.get_by_id(service.id)
    assert (stored.payment_method, stored.admin_notes) == ("crypto", "kept")
    assert ActivityLog.select().where(ActivityLog.action == "service.edit",
                                      ActivityLog.object_id == service.id).count() == 2
