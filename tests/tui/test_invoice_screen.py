"""The invoice screens, driven by keys through `tui.app.make_app` (rules §4, §5, §7)."""

import os
import tempfile
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.models import invoicing, upgrades
from hostdesk.models.clock import Clock
from hostdesk.models.invoicing import LineSpec
from hostdesk.models.permissions import MANAGE_INVOICES, find_admin
from hostdesk.models.schema import (
    Admin,
    Client,
    EmailOutbox,
    Invoice,
    InvoiceLine,
    LineKind,
    ModuleJob,
    Payment,
    Service,
    Upgrade,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import run, settle
from hostdesk.tui.screens.invoices import (
    ConfirmDialog,
    CreditDialog,
    InvoiceListScreen,
    InvoiceScreen,
    PaymentDialog,
)
from tests.factories import as_login

D = Decimal
TODAY = pendulum.date(2026, 4, 19)
NDD = pendulum.date(2026, 5, 1)
CLOCK = Clock("UTC", TODAY)
SIZE = (120, 40)
# Pictures of the screens to look at (tools/svg2png); kept out of the source tree.
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture(autouse=True)
def setup(db):
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")
    Admin.create(login="seller", role="sales")



async def type_into(pilot, field_id, text):
    field = pilot.app.screen.query_one(f"#{field_id}")
    field.focus()
    field.value = text
    await pilot.pause()


def renewal_invoice(service, amount="10.00"):
    return invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.RENEWAL, description="Hosting", amount=D(amount),
                  item_type="service", item_id=service.id, period_start=NDD,
                  period_end=pendulum.date(2026, 6, 1))],
        date=TODAY, due_date=NDD, payment_method="banktransfer", admin=as_login("boss"))


def test_partial_then_over_payment_keeps_a_balance_then_credits(db, app_for):
    service = make.service(next_due_date=NDD)
    invoice = renewal_invoice(service)

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(invoice.id))
            await settle(pilot)
            summary = str(app.screen.query_one("#invoice-summary").render())
            assert "UNPAID" in summary and "Balance $10.00" in summary
            await pilot.press("p")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, PaymentDialog)
            assert dialog.query_one("#field-amount").value == "10.00"
            assert dialog.query_one("#field-date").value == "2026-04-19"
            await type_into(pilot, "field-amount", "4.00")
            await type_into(pilot, "field-transaction_ref", "TX-1")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, InvoiceScreen)
            assert "Balance $6.00" in str(app.screen.query_one("#invoice-summary").render())
            await pilot.press("p")
            await settle(pilot)
            await type_into(pilot, "field-amount", "7.50")
            await type_into(pilot, "field-transaction_ref", "TX-2")
            await pilot.press("ctrl+s")
            await settle(pilot)
            summary = str(app.screen.query_one("#invoice-summary").render())
            assert "  PAID" in summary and "Balance $0.00" in summary
            assert "$1.50 overpaid, added to client credit" in summary
            assert app.screen.query_one("#invoice-payments").row_count == 2

    run(scenario())
    assert Invoice.get_by_id(invoice.id).status == "paid"
    assert Client.get_by_id(service.client_id).credit == D("1.50")
    assert Service.get_by_id(service.id).next_due_date == pendulum.date(2026, 6, 1)
    assert [p.transaction_ref for p in Payment.select().order_by(Payment.id)] == ["TX-1", "TX-2"]


def test_bad_payments_are_shown_under_the_field_and_nothing_is_written(db, app_for):
    invoice = renewal_invoice(make.service(next_due_date=NDD))
    cases = [("amount", "0", "must be more than zero"), ("amount", "-5.00", "must not be negative"),
             ("amount", "1.234", "has 3 decimal places"), ("date", "2026-02-30", "is not a date")]

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(invoice.id))
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            dialog = app.screen
            for field, typed, message in cases:
                await type_into(pilot, "field-amount", "10.00")
                await type_into(pilot, "field-date", "2026-04-19")
                await type_into(pilot, f"field-{field}", typed)
                await pilot.press("ctrl+s")
                await settle(pilot)
                assert app.screen is dialog  # still open, the value kept
                assert dialog.query_one(f"#field-{field}").value == typed
                assert message in str(dialog.query_one(f"#error-{field}").render())

    run(scenario())
    assert Payment.select().count() == 0


def test_cancel_refuses_payment_and_reopen_makes_it_payable(db, app_for):
    invoice = renewal_invoice(make.service(next_due_date=NDD))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(invoice.id))
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await settle(pilot)
            screen = app.screen
            assert "CANCELLED" in str(screen.query_one("#invoice-summary").render())
            # a cancelled invoice takes no payment: the key is greyed, does nothing, says why
            assert screen.check_action("add_payment", ()) is None
            await pilot.press("p")
            await settle(pilot)
            assert app.screen is screen
            assert str(screen.query_one("#invoice-state").render()) == (
                "Payment: the invoice is cancelled")
            await pilot.press("u")
            await settle(pilot)
            assert "UNPAID" in str(screen.query_one("#invoice-summary").render())

    run(scenario())
    assert Invoice.get_by_id(invoice.id).status == "unpaid"
    assert InvoiceLine.get().cancelled is False


def test_remove_a_line_and_apply_client_credit(db, app_for):
    service = make.service(next_due_date=NDD)
    Client.update(credit=D("20.00")).where(Client.id == service.client_id).execute()
    invoice = invoicing.create_invoice(
        service.client_id,
        [LineSpec(kind=LineKind.CUSTOM, description="Setup work", amount=D("30.00")),
         LineSpec(kind=LineKind.CUSTOM, description="Backup", amount=D("5.00"))],
        date=TODAY, due_date=TODAY, payment_method="card", admin=as_login("boss"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(invoice.id))
            await settle(pilot)
            await pilot.press("d")  # the first line is highlighted
            await settle(pilot)
            assert "Setup work" in str(app.screen.query_one(".dialog--body").render())
            await pilot.press("enter")
            await settle(pilot)
            await settle(pilot, until=lambda: "Total $5.00" in str(
                app.screen.query_one("#invoice-summary").render()))
            await pilot.press("c")
            await settle(pilot)
            assert isinstance(app.screen, CreditDialog)
            assert app.screen.query_one("#field-amount").value == "5.00"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "  PAID" in str(app.screen.query_one("#invoice-summary").render())

    run(scenario())
    lines = {line.description: line.cancelled for line in InvoiceLine.select()}
    assert lines == {"Setup work": True, "Backup": False}
    assert Invoice.get_by_id(invoice.id).status == "paid"
    assert Client.get_by_id(service.client_id).credit == D("15.00")


def test_an_admin_without_manage_invoices_sees_the_actions_greyed(db, app_for):
    Admin.create(login="helper", role="support")
    invoice = renewal_invoice(make.service(next_due_date=NDD))

    async def scenario():
        app = app_for("helper", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(invoice.id))
            await settle(pilot)
            screen = app.screen
            for action in ("add_payment", "cancel_invoice", "remove_line"):
                assert screen.check_action(action, ()) is None
            await pilot.press("x")
            await settle(pilot)
            assert app.screen is screen
            assert str(screen.query_one("#invoice-state").render()) == (
                f"Cancel: needs the permission “{MANAGE_INVOICES}”")

    run(scenario())
    assert Invoice.get_by_id(invoice.id).status == "unpaid"


class RecordingModule(NoneModule):
    calls: list = []

    def change_package(self, params):
        RecordingModule.calls.append(("change_package", params.service_id, params.product.name))
        return super().change_package(params)


def test_paying_the_upgrade_invoice_changes_the_service_and_calls_the_module(db, app_for, monkeypatch):
    RecordingModule.calls = []
    monkeypatch.setattr(registry, "get_module", lambda name: RecordingModule())
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(), admin=find_admin("boss"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(made.invoice.id))
            await settle(pilot)
            assert f"upgrade #{made.upgrade.id} pending" in str(app.screen.query_one("#invoice-summary").render())
            await pilot.press("p")
            await settle(pilot)
            assert app.screen.query_one("#field-amount").value == "6.00"
            await type_into(pilot, "field-transaction_ref", "UP-1")
            await pilot.press("ctrl+s")
            await settle(pilot)
            app.save_screenshot("invoice_paid.svg", str(SCREENSHOTS))

    run(scenario())
    fresh = Service.get_by_id(service.id)
    assert (fresh.product_id, fresh.recurring_amount) == (big.id, D("25.00"))
    assert RecordingModule.calls == [("change_package", service.id, "Big")]
    assert ModuleJob.get().status == "done"
    assert Upgrade.get().status == "applied"


def test_a_sales_admin_pays_but_the_module_command_waits_for_the_daily_run(db, app_for, monkeypatch):
    RecordingModule.calls = []
    monkeypatch.setattr(registry, "get_module", lambda name: RecordingModule())
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(), admin=find_admin("boss"))

    async def scenario():
        app = app_for("seller", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(made.invoice.id))
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)

    run(scenario())
    assert Service.get_by_id(service.id).product_id == big.id
    assert RecordingModule.calls == []
    assert ModuleJob.get().status == "queued"


# --- the list ---------------------------------------------------------------------------------


def test_list_filters_by_status_client_and_due_date_and_opens_an_invoice(db, app_for):
    ada = make.client(first_name="Ada", last_name="Lovelace")
    bob = make.client(first_name="Bob", last_name="Builder")
    made = {}
    for client, due, paid in ((ada, "2026-05-01", False), (ada, "2026-06-01", True),
                              (bob, "2026-05-01", False)):
        invoice = invoicing.create_invoice(
            client.id, [LineSpec(kind=LineKind.CUSTOM, description="x", amount=D("1.00"))],
            date=TODAY, due_date=pendulum.parse(due).date(), payment_method="card",
            admin=as_login("boss"))
        if paid:
            invoicing.record_payment(invoice.id, "1.00", date=TODAY, method="card", admin=as_login("boss"))
        made[(client.id, due)] = invoice.id

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = InvoiceListScreen()
            await app.push_screen(screen)
            await settle(pilot)
            assert screen.biglist.total == 3
            await pilot.press("f")
            await pilot.press("tab")
            await pilot.press(*str(ada.id))
            await pilot.press("enter")
            await settle(pilot)
            assert screen.biglist.total == 2
            assert f"client #{ada.id}" in str(screen.query_one("#list-status").render())
            due_to = screen.query_one("#filter-due-to")
            due_to.focus()
            await pilot.press(*"2026-05-15", "enter")
            await settle(pilot)
            assert screen.biglist.total == 1
            assert screen.biglist.cursor_row["id"] == made[(ada.id, "2026-05-01")]
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, InvoiceScreen)
            assert app.screen.invoice_id == made[(ada.id, "2026-05-01")]
            await pilot.press("escape")
            await settle(pilot)
            screen.query_one("#filter-due-to").value = "2026-13-01"
            screen.apply_filters()
            assert "is not a date" in str(screen.query_one("#filter-error").render())

    run(scenario())


def test_list_opened_for_a_client_with_a_status(db, app_for):
    ada = make.client()
    for _ in range(2):
        invoicing.create_invoice(ada.id, [LineSpec(kind=LineKind.CUSTOM, description="x", amount=D("1.00"))],
                                 date=TODAY, due_date=TODAY, payment_method="card", admin=as_login("boss"))
    other = invoicing.create_invoice(make.client().id, [LineSpec(kind=LineKind.CUSTOM, description="x",
                                                                 amount=D("1.00"))],
                                     date=TODAY, due_date=TODAY, payment_method="card", admin=as_login("boss"))
    invoicing.cancel_invoice(other.id, as_login("boss"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = InvoiceListScreen(client_id=ada.id, status="unpaid")
            await app.push_screen(screen)
            await settle(pilot)
            assert screen.biglist.total == 2
            screen.query_one("#filter-client").value = ""
            screen.apply_filters()
            await settle(pilot)
            assert screen.biglist.total == 2  # still unpaid only: the cancelled one is hidden

    run(scenario())


def test_generate_due_invoices_for_the_filtered_client(db, app_for):
    due_soon = make.service(next_due_date=NDD)  # NDD − 14 days ≤ today
    make.service(next_due_date=NDD)  # another client's: not billed by this key

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = InvoiceListScreen()
            await app.push_screen(screen)
            await settle(pilot)
            await pilot.press("G")  # no client filter yet: refused, nothing billed
            await settle(pilot)
            assert Invoice.select().count() == 0
            screen.query_one("#filter-client").value = str(due_soon.client_id)
            screen.apply_filters()
            await settle(pilot)
            await pilot.press("G")
            await settle(pilot)
            assert screen.biglist.total == 1
            await pilot.press("G")  # the same day again: nothing new
            await settle(pilot)
            assert screen.biglist.total == 1

    run(scenario())
    invoice = Invoice.get()
    assert invoice.client_id == due_soon.client_id
    assert InvoiceLine.get().period_start == NDD


def test_generate_needs_the_permission(db, app_for):
    Admin.create(login="helper", role="support")
    service = make.service(next_due_date=NDD)

    async def scenario():
        app = app_for("helper", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = InvoiceListScreen(client_id=service.client_id)
            await app.push_screen(screen)
            await settle(pilot)
            assert screen.check_action("generate_due", ()) is None
            await pilot.press("G")
            await settle(pilot)

    run(scenario())
    assert Invoice.select().count() == 0


# --- issue 14: the upgrade paths of the invoice screen ------------------------------------------


def notices(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def test_upgrade_email_sent_on_payment_from_the_screen_names_the_company(db, app_for, monkeypatch):
    monkeypatch.setattr(registry, "get_module", lambda name: RecordingModule())
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(),
                                   admin=find_admin("boss"))

    async def scenario():
        app = app_for("boss", CLOCK)
        app.settings = Settings(company_name="Hostmaster Ltd")
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(made.invoice.id))
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "change package of service" in notices(app)

    run(scenario())
    email = EmailOutbox.get(EmailOutbox.template == "upgrade_confirmation")
    assert email.body.rstrip().endswith("Hostmaster Ltd")


def test_cancelling_an_upgrade_invoice_says_the_upgrade_was_cancelled(db, app_for):
    small = make.product(name="Small", prices={"monthly": "10.00"})
    big = make.product(name="Big", prices={"monthly": "25.00"})
    service = make.service(product_row=small, next_due_date=NDD)
    made = upgrades.create_upgrade(service.id, big.id, "monthly", TODAY, Settings(),
                                   admin=find_admin("boss"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(made.invoice.id))
            await settle(pilot)
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await settle(pilot)
            assert f"Invoice #{made.invoice.id} cancelled; upgrade #{made.upgrade.id} " \
                   "cancelled" in notices(app)

    run(scenario())
    assert Upgrade.get_by_id(made.upgrade.id).status == "cancelled"
    assert Service.get_by_id(service.id).product_id == small.id


def test_an_invoice_is_shown_in_its_own_currency_after_the_setting_changes(db, app_for):
    from hostdesk.models import money
    from tests.tui.conftest import screen_text

    service = make.service(next_due_date=NDD)
    try:
        money.configure("en_US", "EUR")  # the installation billed in euros then
        euro = renewal_invoice(service, "3.99")
    finally:
        money.configure()  # now dollars
    dollar = renewal_invoice(make.service(next_due_date=NDD), "5.00")
    assert (Invoice.get_by_id(euro.id).currency, dollar.currency) == ("EUR", "USD")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(InvoiceScreen(euro.id))
            await settle(pilot)
            summary = str(app.screen.query_one("#invoice-summary").render())
            assert "Total €3.99" in summary and "Balance €3.99" in summary
            app.pop_screen()
            screen = InvoiceListScreen()
            await app.push_screen(screen)
            await settle(pilot)
            text = screen_text(app)
            assert "€3.99" in text and "$5.00" in text and "$3.99" not in text

    run(scenario())
