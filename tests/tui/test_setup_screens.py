"""The setup screens of issue 15, driven by keys, the database checked after each: bad input
under its field with nothing written, a duplicate email asked about, a stale save refused,
closing a client with live services refused, escape asking before losing changes, the
support role refused with the permission named, options and upgrade paths of a product,
a server added, email templates previewed against a real record, saved and reset."""

from decimal import Decimal

from hostdesk.models import clients
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    Client,
    ConfigOption,
    ConfigOptionChoice,
    EmailTemplate,
    Invoice,
    PaymentMethod,
    Product,
    ProductUpgradePath,
    Promotion,
    Server,
    Tld,
    TldPrice,
)
from tests import factories as make
from tests.tui.conftest import CLOCK, run, screen_text, settle
from hostdesk.tui.screens.catalog_setup import (
    AddonListScreen,
    OptionDialog,
    PaymentMethodListScreen,
    ProductFormScreen,
    PromotionListScreen,
    TldListScreen,
    UpgradePathDialog,
)
from hostdesk.tui.screens.client_setup import ClientFormScreen, ClientGroupListScreen
from hostdesk.tui.screens.template_setup import TemplateFormScreen, TemplateListScreen
from hostdesk.tui.widgets.dialogs import ConfirmDialog, MessageDialog
from tests.factories import as_login

D = Decimal
SIZE = (120, 40)


async def tab_to(pilot, field_id: str, limit: int = 80) -> None:
    for _ in range(limit):
        focused = pilot.app.focused
        if focused is not None and focused.id == field_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached #{field_id}; focus is on {pilot.app.focused!r}")


async def type_in(pilot, field_id: str, text: str, *, clear: bool = False) -> None:
    await tab_to(pilot, field_id)
    if clear:
        await pilot.press("end", *["backspace"] * len(pilot.app.focused.value))
    await pilot.press(*text)


async def pick(pilot, field_id: str, text: str) -> None:
    await tab_to(pilot, field_id)
    await pilot.press("enter", *text)
    await pilot.pause(0.05)
    await pilot.press("enter")


def error_under(app, name: str) -> str:
    line = app.screen.query_one(f"#error-{name}")
    return str(line.render()) if line.has_class("-shown") else ""


def state(app) -> str:
    return str(app.screen.query_one("#settings-state").render())


async def save(pilot) -> None:
    await pilot.press("ctrl+s")
    await settle(pilot)


def test_client_form_new_bad_input_duplicate_email_then_edit_and_close(db, app_for):
    Admin.create(login="boss", role="full")
    other = make.client(first_name="Alan", last_name="Turing", email="same@example.com")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("g", "c")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, ClientFormScreen)
            await type_in(pilot, "field-first_name", "Ada")
            await type_in(pilot, "field-email", "not-an-email")
            await save(pilot)
            assert "required" in error_under(app, "last_name")
            assert error_under(app, "email")
            assert Client.select().count() == 1  # nothing written
            assert app.screen.query_one("#field-first_name").value == "Ada"  # nothing lost

            await type_in(pilot, "field-last_name", "Lovelace")
            await type_in(pilot, "field-email", "same@example.com", clear=True)
            await pick(pilot, "field-country", "united k")
            await save(pilot)
            assert isinstance(app.screen, ConfirmDialog)  # another client has this email
            assert "add anyway" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            await settle(pilot, until=lambda: Client.select().count() == 2)
            ada = Client.get(Client.first_name == "Ada")
            assert (ada.email, ada.country) == ("same@example.com", "GB")
            assert app.screen.record_id == ada.id  # the form now edits the client it added

            # Closing while a service is live: refused with the model's message.
            make.service(client_row=ada, status="active")
            await settle(pilot)
            await pick(pilot, "field-status", "closed")
            await save(pilot)
            assert "1 service still pending, active or suspended" in error_under(app, "status")
            assert Client.get_by_id(ada.id).status == "active"

            # A stale save: someone else saved since it was opened.
            clients.edit_client(ada.id, Client.get_by_id(ada.id).version, {"city": "London"},
                                admin=as_login("boss"))
            await pick(pilot, "field-status", "inactive")
            await save(pilot)
            # said once, in a dialog to read; the form keeps what was typed
            assert isinstance(app.screen, MessageDialog)
            assert "changed by someone else" in str(app.screen.query_one("#message-body").render())
            await pilot.press("enter")
            assert state(app) == ""
            assert Client.get_by_id(ada.id).status == "active"

    run(scenario())
    assert Client.get_by_id(other.id).first_name == "Alan"


def test_client_summary_e_edits_the_client(db, app_for):
    Admin.create(login="boss", role="full")
    client = make.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            app.open_record("clients", client.id)
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            assert isinstance(app.screen, ClientFormScreen)
            await type_in(pilot, "field-company", "Analytical Ltd")
            await save(pilot)
            await settle(pilot, until=lambda: Client.get_by_id(client.id).company != "")

    run(scenario())
    saved = Client.get_by_id(client.id)
    assert (saved.company, saved.version) == ("Analytical Ltd", client.version + 1)
    assert ActivityLog.get(ActivityLog.action == "client.edit").admin_login == "boss"


def test_escape_on_a_changed_form_asks_first(db, app_for):
    Admin.create(login="boss", role="full")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(PaymentMethodListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            form = app.screen
            await pilot.press("escape")  # nothing typed: leaves at once
            await settle(pilot)
            assert isinstance(app.screen, PaymentMethodListScreen)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-name", "cheque")
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("n")  # keep editing: the typed value is still there
            await settle(pilot)
            assert app.screen.query_one("#field-name").value == "cheque"
            await pilot.press("escape", "y")
            await settle(pilot)
            assert isinstance(app.screen, PaymentMethodListScreen)
            assert form is not app.screen

    run(scenario())
    assert not PaymentMethod.select().where(PaymentMethod.name == "cheque").exists()


def test_support_is_refused_with_the_permission_named(db, app_for):
    Admin.create(login="helpdesk", role="support")
    product = make.product(name="Hosting")

    async def scenario():
        app = app_for("helpdesk", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(TldListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert isinstance(app.screen, TldListScreen)  # no form opened
            notes = [n.message for n in app._notifications]
            assert any("manage catalog" in n for n in notes)

            await app.push_screen(ProductFormScreen(product.id))
            await settle(pilot)
            await type_in(pilot, "field-name", " Plus")
            await pilot.press("ctrl+s")
            await settle(pilot)
            notes = [n.message for n in app._notifications]
            assert any("manage catalog" in n for n in notes)
            await pilot.press("escape", "y")  # leave the product without saving
            await settle(pilot)

            await pilot.press("g", "c")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            assert not isinstance(app.screen, ClientFormScreen)
            assert any("manage clients" in n.message for n in app._notifications), (
                app.screen, [n.message for n in app._notifications])

    run(scenario())
    assert Product.get_by_id(product.id).name == "Hosting"


def test_product_option_and_upgrade_path_by_keys(db, app_for):
    Admin.create(login="boss", role="full")
    product = make.product(name="Cloud S", prices={"monthly": ("10.00", "5.00")})
    make.product(name="Cloud M", prices={"monthly": "20.00", "annually": "200.00"})

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(ProductFormScreen(product.id))
            await settle(pilot)
            assert app.screen.query_one("#prices-price-monthly").value == "10.00"
            # A bad price: under the pricing table, nothing written.
            await type_in(pilot, "prices-price-annually", "ten")
            await save(pilot)
            assert "annually" in error_under(app, "prices")
            await type_in(pilot, "prices-price-annually", "", clear=True)
            await save(pilot)

            await tab_to(pilot, "product-options")
            await pilot.press("o")
            await settle(pilot)
            assert isinstance(app.screen, OptionDialog)
            await type_in(pilot, "field-name", "Disk")
            await type_in(pilot, "choice1-name", "50 GB")
            await type_in(pilot, "choice1-price-monthly", "0")
            await type_in(pilot, "choice2-name", "100 GB")
            await type_in(pilot, "choice2-price-monthly", "4.00")
            await pilot.press("ctrl+s")
            await settle(pilot)
            await settle(pilot, until=lambda: ConfigOption.select().exists())
            assert sorted(c.name for c in ConfigOptionChoice.select()) == ["100 GB", "50 GB"]

            await tab_to(pilot, "product-options")
            await pilot.press("u")
            await settle(pilot)
            assert isinstance(app.screen, UpgradePathDialog)
            await pick(pilot, "field-target", "Cloud M")
            await type_in(pilot, "field-cycles", "annually")
            await pick(pilot, "field-client_may_upgrade", "yes")
            await pilot.press("ctrl+s")
            await settle(pilot)
            await settle(pilot, until=lambda: ProductUpgradePath.select().exists())
            await settle(pilot, until=lambda: app.screen.query_one("#product-paths").row_count == 1)
            paths = app.screen.query_one("#product-paths")
            assert str(paths.get_row_at(0)[0]) == "Cloud M"

            await tab_to(pilot, "product-options")
            await pilot.press("d", "y")
            await settle(pilot)
            await settle(pilot, until=lambda: not ConfigOption.select().exists())

    run(scenario())
    path = ProductUpgradePath.get()
    assert (path.cycles, path.client_may_upgrade) == ("annually", True)
    assert Product.get_by_id(product.id).version > product.version


def test_promotion_and_tld_bad_input_then_saved(db, app_for):
    Admin.create(login="boss", role="full")
    make.product(name="Hosting")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(PromotionListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-code", "SPRING")
            await type_in(pilot, "field-value", "150")
            await save(pilot)
            assert "at most 100" in error_under(app, "value")
            await type_in(pilot, "field-value", "15", clear=True)
            await type_in(pilot, "field-start_date", "2026-12-01")
            await type_in(pilot, "field-expiry_date", "2026-11-01")
            await save(pilot)
            assert "before the start date" in error_under(app, "expiry_date")
            assert not Promotion.select().exists()
            await type_in(pilot, "field-expiry_date", "2027-01-01", clear=True)
            await save(pilot)
            await settle(pilot, until=lambda: Promotion.select().exists())
            await pilot.press("escape")
            await settle(pilot)
            assert "SPRING" in screen_text(app)

            await app.push_screen(TldListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-name", "com")
            await type_in(pilot, "field-register_price", "10.00")
            await type_in(pilot, "field-transfer_price", "9.00")
            await type_in(pilot, "field-renew_price", "-1")
            await save(pilot)
            assert "leading dot" in error_under(app, "name")
            assert error_under(app, "renew_price")
            await type_in(pilot, "field-name", ".", clear=True)
            await pilot.press(*"com")
            await type_in(pilot, "field-renew_price", "11.00", clear=True)
            await type_in(pilot, "years-2-register", "18.00")
            await save(pilot)
            await settle(pilot, until=lambda: Tld.select().exists())

    run(scenario())
    promotion = Promotion.get()
    assert (promotion.code, promotion.value) == ("SPRING", D("15.00"))
    tld = Tld.get()
    assert (tld.name, tld.renew_price) == ("com", D("11.00"))
    assert TldPrice.get().register_price == D("18.00")


def test_addon_and_client_group_lists_add_and_edit(db, app_for):
    Admin.create(login="boss", role="full")
    make.product(name="Hosting")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(AddonListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-name", "Backups")
            await save(pilot)
            assert "at least one cycle" in error_under(app, "prices")
            await type_in(pilot, "prices-price-monthly", "2.00")
            await save(pilot)
            await pilot.press("escape")
            await settle(pilot)
            assert "Backups" in screen_text(app)

            await app.push_screen(ClientGroupListScreen())
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-name", "Resellers")
            await save(pilot)
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("enter")  # edit the group
            await settle(pilot)
            await pick(pilot, "field-separate_invoices", "yes")
            await save(pilot)

    run(scenario())
    from hostdesk.models.schema import CatalogAddonPrice, ClientGroup

    assert CatalogAddonPrice.get().price == D("2.00")
    group = ClientGroup.get()
    assert (group.name, group.separate_invoices, group.version) == ("Resellers", True, 2)


def test_new_server_is_added_and_opens_in_its_settings(db, app_for):
    Admin.create(login="boss", role="full")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("g", "v")
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            await type_in(pilot, "field-name", "web1")
            await type_in(pilot, "field-hostname", "web1.example.net")
            await type_in(pilot, "field-ip_address", "999.1.1.1")
            await save(pilot)
            assert error_under(app, "ip_address")
            await type_in(pilot, "field-ip_address", "192.0.2.10", clear=True)
            await save(pilot)
            await settle(pilot, until=lambda: Server.select().exists())
            await settle(pilot)
            assert "Server #" in screen_text(app)

    run(scenario())
    assert Server.get().hostname == "web1.example.net"


def test_email_template_live_preview_against_a_record_save_and_reset(db, app_for):
    Admin.create(login="boss", role="full")
    client = make.client(first_name="Ada", last_name="Lovelace", email="ada@example.com")
    invoice = Invoice.create(client=client, date=CLOCK.today(), due_date=CLOCK.today(),
                             payment_method="banktransfer", total=D("12.00"))

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(TemplateListScreen())
            await settle(pilot)
            assert "invoice_created" in screen_text(app)
            await app.push_screen(TemplateFormScreen("invoice_created"))
            await settle(pilot)
            await tab_to(pilot, "field-subject")
            await pilot.press("end", *" {{ nosuchthing }}")
            await pilot.pause(0.5)
            await settle(pilot)
            assert "nosuchthing" in error_under(app, "subject")
            await pilot.press(*["backspace"] * len(" {{ nosuchthing }}"))
            await pilot.press(*" for {{ client.first_name }}")
            await type_in(pilot, "preview-record", str(invoice.id))
            await pilot.pause(0.5)
            await settle(pilot)
            preview = str(app.screen.query_one("#template-preview").render())
            assert "for Ada" in preview
            await save(pilot)
            await settle(pilot, until=lambda: EmailTemplate.select().exists())
            await pilot.press("ctrl+d", "y")
            await settle(pilot)
            await settle(pilot, until=lambda: not EmailTemplate.select().exists())

    run(scenario())
    actions = [a.action for a in ActivityLog.select().order_by(ActivityLog.id)]
    assert actions[-2:] == ["email_template.save", "email_template.reset"]


def test_server_retired_with_R_after_a_question(db, app_for):
    from hostdesk.tui.screens.catalog import ServerSettingsScreen

    Admin.create(login="boss", role="full")
    server = make.server(name="web9")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(ServerSettingsScreen(server.id))
            await settle(pilot)
            await tab_to(pilot, "field-active")
            await pilot.press("R")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await settle(pilot)
            await settle(pilot, until=lambda: not Server.get_by_id(server.id).active)

    run(scenario())
    assert ActivityLog.get(ActivityLog.action == "server.retire").admin_login == "boss"


def test_each_setup_list_is_reached_by_its_g_letter_and_from_the_palette(db, app_for):
    from hostdesk.tui.screens.areas import SETUP_AREAS
    from hostdesk.tui.screens.routes import AREA_SCREENS, screen_class

    Admin.create(login="boss", role="full")

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            for area in SETUP_AREAS:
                await pilot.press("g", area.letter)
                await settle(pilot)
                assert type(app.screen) is screen_class(AREA_SCREENS[area.key])
                assert f"hostdesk · {area.title}" in screen_text(app)
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press(*"Go to Payment methods")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, PaymentMethodListScreen)
            assert "banktransfer" in screen_text(app)  # the methods shipped by the schema

    run(scenario())
