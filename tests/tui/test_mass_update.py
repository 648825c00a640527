"""The mass-update screen (issue 6), driven by keys through `tui.app.make_app`, checked against
the database: prorata NDD change from a client's services, "all matching" over 3,000 services,
a bulk module command where one webhook fails, bad input, permissions, all-or-nothing."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.models import invoicing
from hostdesk.models.clock import Clock
from hostdesk.models.cycles import DayBasis
from hostdesk.models.schema import ActivityLog, Admin, Invoice, InvoiceLine, ModuleJob, Service
from hostdesk.models.selection import FilteredServiceSource, Selection, ServiceFilter
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.test_bulk_commands import broken_endpoint  # noqa: F401 - a fixture
from tests.test_lifecycle import secret_key  # noqa: F401 - autouse: passwords are encrypted
from tests.test_selection import clone_services
from tests.test_webhook import endpoint, webhook_service  # noqa: F401 - a fixture
from tests.tui.conftest import run, screen_text
from tests.tui.conftest import settle as wait_until
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.invoices import ConfirmDialog
from hostdesk.tui.screens.mass_update import MassUpdateScreen, Phase
from hostdesk.tui.widgets.mass_checklist import MassChecklist
from tests.factories import as_login

D = Decimal
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


def app_for(db_url, login="boss", settings=Settings(), today=pendulum.date(2026, 11, 1)):
    config = Config(settings=settings, database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", today))


async def settle(pilot, phase_not: tuple = (Phase.PREVIEWING, Phase.APPLYING, Phase.RUNNING)):
    """Wait for the workers and for the screen to leave its working phases."""
    app = pilot.app
    for _ in range(200):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        busy = isinstance(screen, MassUpdateScreen) and screen.phase in phase_not
        if not busy and not any(w.is_running for w in app.workers):
            return
        await pilot.pause(0.05)
    raise AssertionError("the screen stayed busy")


async def open_mass_update(pilot, screen: MassUpdateScreen) -> MassUpdateScreen:
    await pilot.pause()
    pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


async def type_into(pilot, selector: str, text: str) -> None:
    pilot.app.screen.query_one(selector).focus()
    await pilot.pause()
    await pilot.press(*text)


def log_of(service_id: int) -> list[ActivityLog]:
    return list(ActivityLog.select().where(ActivityLog.action == "service.mass_update",
                                           ActivityLog.object_id == service_id))


@pytest.fixture
def boss(db):
    make.ensure_template("invoice_created")
    return Admin.create(login="boss", role="full")


# --- from the client summary: NDD change with a prorata invoice (rules §3) ---------------


@pytest.mark.parametrize("basis,a,b,total", [
    (DayBasis.CALENDAR, "8.71", "9.68", "18.39"),
    (DayBasis.THIRTY_DAY, "9.00", "10.00", "19.00"),
])
def test_client_services_ndd_change_with_prorata_moves_only_when_paid(db_url, boss, basis, a, b,
                                                                    total):
    client = make.client(first_name="Ada", last_name="Lovelace")
    product = make.product(name="Shared")
    service_a = make.service(client, product, next_due_date=pendulum.date(2012, 1, 1),
                             recurring_amount=D("30.00"), domain="a.example")
    service_b = make.service(client, product, next_due_date=pendulum.date(2012, 1, 5),
                             recurring_amount=D("60.00"), domain="b.example")
    untouched = make.service(client, product, next_due_date=pendulum.date(2012, 1, 3),
                             recurring_amount=D("15.00"), domain="c.example")
    settings = replace(Settings(), prorata_day_basis=basis.value)
    app = app_for(db_url, settings=settings, today=pendulum.date(2012, 1, 1))
    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            app.push_screen(ClientSummaryScreen(client.id))
            await settle(pilot)
            await pilot.press("M")  # mass update from the client summary
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, MassUpdateScreen)
            assert "Ada Lovelace" in screen_text(app)
            checklist = screen.query_one(MassChecklist)
            assert checklist.has_focus
            assert [r["id"] for r in checklist.visible_rows()] == [untouched.id, service_b.id,
                                                                   service_a.id]
            await pilot.press("j", "space", "space")  # skip c, tick b and a
            await pilot.pause()
            assert checklist.ticks.marked == {service_a.id, service_b.id}
            assert "2 ticked" in screen_text(app)
            await type_into(pilot, "#value-next_due_date", "2012-01-10")
            await pilot.press("tab", "space")  # tab reaches "create prorata invoice"
            await pilot.pause()
            assert screen.query_one("#prorata").value is True
            assert screen.query_one("#tick-next_due_date").value is True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.PREVIEW
            text = screen_text(app)
            app.save_screenshot(str(SCREENSHOTS / f"mass_prorata_{basis.value}.svg"))
            assert "Change 2 service(s) of 2 ticked" in text
            assert f"total ${total}" in text
            assert f"${a}" in text and f"${b}" in text
            assert "next due 2012-01-01 → 2012-01-10 when paid" in text
            assert "Shared - a.example (2012-01-01 – 2012-01-09)" in text
            assert Invoice.select().count() == 0  # the preview writes nothing

            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.CHOOSE
            [invoice] = Invoice.select()
            assert screen.note == f"applied: 2 changed, invoice(s) #{invoice.id}"
            assert screen.note in screen_text(app)

    run(scenario())
    invoice = Invoice.get()
    assert invoice.client_id == client.id and invoice.total == D(total)
    lines = {line.item_id: line.amount for line in InvoiceLine.select()}
    assert lines == {service_a.id: D(a), service_b.id: D(b)}
    # The NDDs move only when the invoice is paid.
    assert Service.get_by_id(service_a.id).next_due_date == pendulum.date(2012, 1, 1)
    assert Service.get_by_id(service_b.id).next_due_date == pendulum.date(2012, 1, 5)
    assert [len(log_of(s.id)) for s in (service_a, service_b, untouched)] == [1, 1, 0]
    assert log_of(service_a.id)[0].admin_login == "boss"
    invoicing.record_payment(invoice.id, total, date=pendulum.date(2012, 1, 2), method="card",
                             admin=as_login("boss"))
    assert [Service.get_by_id(s.id).next_due_date for s in (service_a, service_b, untouched)] == [
        pendulum.date(2012, 1, 10), pendulum.date(2012, 1, 10), pendulum.date(2012, 1, 3)]


# --- from the services list: every service of a product, "all matching" ------------------


def test_all_matching_3000_services_of_a_product_change_amount_with_one_log_row_each(db_url,
                                                                                    boss):
    product, other = make.product(name="Bulk"), make.product(name="Other")
    owner = make.client()
    ids = clone_services(make.service(owner, product, recurring_amount=D("10.00")), 3_000)
    others = [make.service(owner, other, recurring_amount=D("10.00")).id for _ in range(5)]
    selection = Selection(FilteredServiceSource(), ServiceFilter(product_id=product.id))
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen(selection,
                                                                    label="product Bulk"))
            checklist = screen.query_one(MassChecklist)
            assert checklist.total == 3_000 and "1–" in screen_text(app)
            await pilot.press("A")
            await pilot.pause()
            assert "3,000 ticked (all matching)" in screen_text(app)
            await pilot.press("space")  # untick the first row by hand
            await pilot.pause()
            assert "2,999 ticked" in screen_text(app)
            await pilot.press("i")  # invert: only that row
            await pilot.pause()
            assert "1 ticked" in screen_text(app) and checklist.ticks.marked == {ids[-1]}
            await pilot.press("N", "a")  # none, then the rows on screen
            await pilot.pause()
            assert checklist.ticked_count == len(checklist.visible_rows()) < 3_000
            await pilot.press("A")
            await pilot.pause()
            assert checklist.ticked_count == 3_000
            assert checklist.cached_rows < 200  # the ticks did not load the rows
            app.save_screenshot(str(SCREENSHOTS / "mass_all_matching_80x24.svg"))

            await type_into(pilot, "#value-recurring_amount", "42.50")
            await pilot.press("ctrl+s")
            await settle(pilot)
            text = screen_text(app)
            assert "Change 3,000 service(s) of 3,000 ticked" in text
            assert "(the first 100)" in text and "amount 10.00 → $42.50" in text
            assert screen.plan.accepted == 3_000 and len(screen.plan.shown) == 100
            assert Service.select().where(Service.recurring_amount == D("42.50")).count() == 0
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.note == "applied: 3,000 changed"
            assert screen.note in screen_text(app)
            assert checklist.ticked_count == 0  # a fresh start after applying

    run(scenario())
    changed = list(Service.select(Service.id, Service.recurring_amount, Service.version)
                   .where(Service.product == product.id).tuples())
    assert len(changed) == 3_000
    assert {(amount, version) for _, amount, version in changed} == {(D("42.50"), 2)}
    assert {s.recurring_amount for s in Service.select().where(Service.id.in_(others))} == {
        D("10.00")}
    logs = list(ActivityLog.select().where(ActivityLog.action == "service.mass_update"))
    assert sorted(log.object_id for log in logs) == ids
    assert all(log.admin_login == "boss" for log in logs)
    assert {(json.loads(log.before)["recurring_amount"], json.loads(log.after)["recurring_amount"])
            for log in logs} == {("10.00", "42.50")}


def test_opened_from_the_services_list_it_shows_the_lists_rows_at_once_then_rereads(db_url,
                                                                                    boss):
    """`M` on the services list: the checklist is drawn with the rows the list holds, no read
    first (issue 17), and reads them again once the admin pauses: a service added since the
    list was read is counted once that read is in."""
    owner = make.client()
    clone_services(make.service(owner, domain="listed.example"), 59)
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("g", "s")
            await settle(pilot)
            listed = app.screen.biglist
            before = Service.select().count()
            assert listed.total == before > listed.rows_height  # more than a screenful
            make.service(owner, domain="added-later.example")  # the list does not know yet
            screen = MassUpdateScreen(Selection(listed.source, listed.filter),
                                      ticked=[listed.source.key_of(listed.cursor_row)],
                                      shown=listed)
            await app.push_screen(screen)  # mounted: no worker answer handled yet
            checklist = screen.checklist
            assert checklist.total == before
            assert [checklist.row_at(i) for i in range(5)] == [listed.row_at(i)
                                                               for i in range(5)]
            # read again once the admin pauses: the database's truth
            await wait_until(pilot, lambda: checklist.total == before + 1)
            await settle(pilot)
            assert "added-later.example" in screen_text(app)
            assert checklist.ticked_count == 1

    run(scenario())


# --- a module command on many services -------------------------------------------------


async def choose_command(pilot, downs: int) -> None:
    """Open the command list with enter and walk down to the command (none, Create, …)."""
    pilot.app.screen.query_one("#command").focus()
    await pilot.pause()
    await pilot.press("enter", *["down"] * downs, "enter")
    await pilot.pause()


def test_bulk_suspend_where_one_webhook_fails_shows_and_queues_it(db_url, boss, endpoint,
                                                                   broken_endpoint):
    good = [webhook_service(endpoint.url, status="active", server_name=f"ok{i}")
            for i in range(4)]
    bad = webhook_service(broken_endpoint.url, status="active", server_name="broken")
    pending = webhook_service(endpoint.url, status="pending", server_name="new")
    ids = [s.id for s in good[:2]] + [bad.id] + [s.id for s in good[2:]] + [pending.id]
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen(ids))
            await pilot.press("A")
            await choose_command(pilot, downs=2)
            assert screen.query_one("#command").value == "suspend"
            await type_into(pilot, "#command-reason", "abuse report")
            await pilot.press("ctrl+s")
            await settle(pilot)
            text = screen_text(app)
            assert "Run Suspend on 5 service(s) of 6 ticked · 1 refused · reason: abuse report" in text
            assert "Suspend needs an active service" in text or "pending" in text
            await pilot.press("ctrl+s")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, ConfirmDialog)
            assert "Suspend 5 service(s)?" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            assert screen.phase == Phase.DONE
            text = screen_text(app)
            app.save_screenshot(str(SCREENSHOTS / "mass_bulk_suspend.svg"))
            assert "Suspend: 4 succeeded, 1 failed" in text
            assert "queued for retry in the module queue" in text
            lines = text.splitlines()
            failure = next(n for n, line in enumerate(lines) if "✗" in line)
            assert f"#{bad.id} example.com" in lines[failure]
            assert "HTTP 500" in lines[failure + 1]  # the module's message, in full
            assert sum("✓" in line for line in text.splitlines()) == 4
            await pilot.press("escape")
            await settle(pilot)
            assert screen.phase == Phase.CHOOSE and screen.query_one(MassChecklist).ticked_count == 0
            await pilot.press("escape")  # what was applied is done: leaving does not ask
            await pilot.pause()
            assert screen not in app.screen_stack and not isinstance(app.screen, ConfirmDialog)

    run(scenario())
    statuses = {s.id: Service.get_by_id(s.id) for s in (*good, bad, pending)}
    assert [statuses[s.id].status for s in good] == ["suspended"] * 4
    assert {statuses[s.id].suspension_reason for s in good} == {"abuse report"}
    assert (statuses[bad.id].status, statuses[pending.id].status) == ("active", "pending")
    job = ModuleJob.get()
    assert (job.service_id, job.command, job.status) == (bad.id, "suspend", "failed")
    assert len(endpoint.requests) == 4 and len(broken_endpoint.requests) == 1


def test_a_bulk_command_stops_after_the_current_item_when_x_is_pressed(db_url, boss, endpoint):
    endpoint.reply(delay=0.3)
    services = [webhook_service(endpoint.url, status="active", server_name=f"s{i}")
                for i in range(5)]
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen([s.id for s in services]))
            await pilot.press("A")
            await choose_command(pilot, downs=2)
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("ctrl+s", "y")
            for _ in range(100):  # until the first item is done
                await pilot.pause(0.05)
                if screen.query_one("#mass-progress-bar").progress >= 1:
                    break
            assert screen.phase == Phase.RUNNING
            assert "1 of 5" in screen_text(app)
            await pilot.press("x")
            await settle(pilot)
            assert "stopped after" in screen_text(app)

    run(scenario())
    suspended = [s.id for s in services if Service.get_by_id(s.id).status == "suspended"]
    assert 1 <= len(suspended) < 5
    assert suspended == [s.id for s in services][:len(suspended)]  # in order, none skipped
    assert len(endpoint.requests) == len(suspended)


# --- bad input, refusals, permissions, all or nothing ------------------------------------


def test_bad_input_is_shown_under_its_field_and_nothing_is_previewed(db_url, boss):
    service = make.service()
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen([service.id]))
            await pilot.press("space")
            await type_into(pilot, "#value-recurring_amount", "-1")
            await type_into(pilot, "#value-next_due_date", "2026-02-30")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.CHOOSE
            text = screen_text(app)
            assert "must not be negative" in text and "2026-02-30 is not a date" in text
            assert screen.query_one("#value-recurring_amount").has_focus  # the first bad field
            await choose_command(pilot, downs=2)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert "choose field changes or a module command, not both" in screen_text(app)
            assert screen.plan is None
            await pilot.press("escape")  # leaving with a choice made asks first
            await pilot.pause()
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("n")
            await pilot.pause()
            assert app.screen is screen
            assert screen.query_one("#value-recurring_amount").value == "-1"  # nothing lost
            await pilot.press("escape", "y")
            await pilot.pause()
            assert screen not in app.screen_stack

    run(scenario())
    assert Service.get_by_id(service.id).recurring_amount == D("10.00")
    assert ActivityLog.select().count() == 0


def test_escape_stops_a_preview_being_built_and_nothing_is_written(db_url, boss, monkeypatch):
    import time

    from hostdesk.models import massupdate
    from hostdesk.tui.screens import mass_update

    real_preview = massupdate.preview

    def slow_preview(ids, change, settings):
        time.sleep(0.2)
        return real_preview(ids, change, settings)

    monkeypatch.setattr(mass_update, "CHUNK", 1)  # one service per step
    monkeypatch.setattr(massupdate, "preview", slow_preview)
    ids = [make.service().id for _ in range(6)]
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen(ids))
            await pilot.press("A")
            screen.query_one("#value-payment_method").focus()
            await pilot.press("enter", *"paypal", "enter")  # the picker: open, find, take
            await pilot.press("ctrl+s")
            for _ in range(100):
                await pilot.pause(0.05)
                if screen.query_one("#mass-progress-bar").progress >= 1:
                    break
            await pilot.pause()
            assert screen.phase == Phase.PREVIEWING
            assert re.search(r"previewing [1-5] of 6", screen_text(app))
            await pilot.press("escape")
            await pilot.pause()
            assert screen.phase == Phase.CHOOSE
            await settle(pilot)
            assert screen.phase == Phase.CHOOSE and screen.plan is None  # the late answer is dropped
            assert screen.query_one("#value-payment_method").value == "paypal"

    run(scenario())
    assert {s.payment_method for s in Service.select()} == {"banktransfer"}


def test_refused_items_are_listed_and_the_rest_applied_after_going_back(db_url, boss):
    monthly_only = make.product(name="Monthly only", prices={"monthly": "5.00"})
    both = make.product(name="Both", prices={"monthly": "5.00", "annually": "50.00"})
    refused = make.service(product_row=monthly_only, domain="refused.example")
    accepted = make.service(product_row=both, domain="accepted.example")
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(
                pilot, MassUpdateScreen([refused.id, accepted.id], ticked=[refused.id, accepted.id]))
            screen.query_one("#value-billing_cycle").focus()
            await pilot.press("enter", "down", "down", "down", "down", "down", "down", "enter")
            await pilot.pause()
            assert screen.query_one("#value-billing_cycle").value == "annually"
            assert screen.query_one("#tick-billing_cycle").value is True
            await pilot.press("ctrl+s")
            await settle(pilot)
            text = screen_text(app)
            assert "Change 1 service(s) of 2 ticked · 1 refused" in text
            assert "refused.example" in text and "its product has no price for annually" in text
            await pilot.press("escape")  # back to the choice: nothing lost
            await pilot.pause()
            assert screen.phase == Phase.CHOOSE
            assert screen.query_one("#value-billing_cycle").value == "annually"
            assert screen.query_one(MassChecklist).ticked_count == 2
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.note == "applied: 1 changed, 1 refused"
            assert screen.note in screen_text(app)

    run(scenario())
    assert Service.get_by_id(accepted.id).billing_cycle == "annually"
    assert Service.get_by_id(refused.id).billing_cycle == "monthly"
    assert [log.object_id for log in ActivityLog.select()] == [accepted.id]


def test_nothing_is_half_applied_when_the_database_refuses_midway(db_url, boss, monkeypatch):
    from hostdesk.models import audit

    ids = [make.service().id for _ in range(4)]

    def disk_full(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", disk_full)
    app = app_for(db_url)

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen(ids))
            await pilot.press("A")
            await type_into(pilot, "#value-recurring_amount", "1.00")
            await pilot.press("ctrl+s")
            await settle(pilot)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.PREVIEW  # the preview stays, to try again or go back
            assert "nothing was changed: disk full" in screen_text(app)

    run(scenario())
    assert {s.recurring_amount for s in Service.select()} == {D("10.00")}
    assert {s.version for s in Service.select()} == {1}


def test_without_the_mass_update_permission_the_preview_shows_but_nothing_applies(db_url, boss):
    Admin.create(login="sid", role="sales")
    service = make.service()
    app = app_for(db_url, login="sid")

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_mass_update(pilot, MassUpdateScreen([service.id]))
            assert "lacks the permission “mass update”" in screen_text(app)
            await pilot.press("space")
            await type_into(pilot, "#value-recurring_amount", "99.00")
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.PREVIEW
            assert screen.check_action("apply", ()) is None  # shown greyed
            assert "Your role (sales) lacks the permission “mass update”" in screen_text(app)
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert screen.phase == Phase.PREVIEW

    run(scenario())
    assert Service.get_by_id(service.id).recurring_amount == D("10.00")
    assert ActivityLog.select().count() == 0
