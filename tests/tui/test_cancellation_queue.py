"""Cancellation requests from the service page to the queue and the daily run (rules §10),
driven from the keyboard; the module's Terminate goes to a real webhook endpoint on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.automation.cron import run_daily
from hostdesk.models import cancellations, secrets
from hostdesk.models.clock import Clock
from hostdesk.models.permissions import find_admin
from hostdesk.models.renewals import invoice_selected_items
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CancellationRequest,
    Domain,
    Invoice,
    InvoiceLine,
    Service,
    ServiceAddon,
)
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.test_webhook import Endpoint
from tests.tui.conftest import screen_text, settle, toasts
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.cancellation_queue import CancellationQueueScreen
from hostdesk.tui.screens.invoices import ConfirmDialog
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.service_dialogs import CancellationDialog
from hostdesk.tui.widgets.dialogs import ChoiceDialog, MessageDialog
from tests.factories import as_login

TODAY = pendulum.date(2026, 3, 17)
NDD = pendulum.date(2026, 4, 1)
SECRET = "whsec-cancel"
SIZE = (120, 36)
SETTINGS = Settings()
SCREENSHOTS = Path(os.environ.get("HOSTDESK_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture(autouse=True)
def setup(db):
    secrets.configure("cancellation-queue-tests")
    make.ensure_template("invoice_created")
    Admin.create(login="boss", role="full")
    yield
    secrets.configure("")


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    server.reply(body=b'{"success": true, "message": "account removed"}')
    yield server
    server.server.shutdown()
    server.server.server_close()


def app_for(db_url, login="boss", today=TODAY):
    config = Config(settings=SETTINGS, database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", today))



def hosted(endpoint, domain: str) -> Service:
    """An active service on the webhook module, its addon, its domain and an unpaid invoice."""
    server = make.server(module="webhook", settings=json.dumps(
        {"url": endpoint.url, "secret": secrets.encrypt(SECRET),
         "allow_insecure_http": True}))
    product = make.product(name="Starter", module="webhook", server=server)
    client = make.client(first_name="Ada", last_name="Lovelace")
    service = make.service(client, product, server=server, domain=domain, next_due_date=NDD)
    make.addon(service, name="Backups")
    make.domain(client, name=domain, next_due_date=NDD)
    invoice_selected_items([("service", service.id)], TODAY, SETTINGS, admin=as_login("boss"))
    return service


def row_of(screen, request_id: int) -> dict:
    [row] = [r for r in screen.biglist.visible_rows() if r["id"] == request_id]
    return row


def test_end_of_period_request_from_the_service_page_to_the_daily_run(db_url, endpoint):
    service = hosted(endpoint, "leaving.example")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(ServiceScreen(service.id))
            await settle(pilot)
            page = app.screen
            await pilot.press("x")
            await settle(pilot, until=lambda: isinstance(app.screen, CancellationDialog)
                           and app.screen.focused is not None)
            dialog = app.screen
            assert dialog.query_one("#field-type").value == "end_of_period"
            dialog.query_one("#field-reason").focus()
            await pilot.press(*"moving to another host")
            dialog.query_one("#field-disable_domain_auto_renew").value = True
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert app.screen is page
            assert "Cancellation request #1 (end of period) filed" in toasts(app)
            assert "Cancellation request #1 (end of period) open: processed 2026-04-01" in \
                screen_text(app)
            assert page.check_action("cancel_request", ()) is None  # one open request

            await app.push_screen(CancellationQueueScreen())
            await settle(pilot)
            queue = app.screen
            row = row_of(queue, 1)
            assert (row["domain"], row["client"], row["type"], row["reason"], row["status"],
                    row["when"]) == ("leaving.example", "Ada Lovelace", "end_of_period",
                                     "moving to another host", "open", "2026-04-01")
            text = screen_text(app)
            assert "leaving.example" in text and "2026-04-01" in text
            app.save_screenshot("cancellation_queue_open.svg", str(SCREENSHOTS))

            report = run_daily(SETTINGS, Clock("UTC", TODAY), send_emails=False)
            assert report.tasks["cancellations"]["done"] == 0  # not yet: its NDD is to come
            report = run_daily(SETTINGS, Clock("UTC", NDD), send_emails=False)
            assert report.tasks["cancellations"]["details"]["requests"] == 1
            await pilot.press("ctrl+r")
            await settle(pilot)
            row = row_of(queue, 1)
            assert (row["status"], len(row["when"])) == ("completed", 10)
            assert "completed" in screen_text(app)

    asyncio.run(scenario())
    assert Service.get_by_id(service.id).status == "cancelled"
    assert [a.status for a in ServiceAddon.select()] == ["cancelled"]
    assert Domain.get().auto_renew is False
    assert [line.cancelled for line in InvoiceLine.select()] == [True]  # on request
    sent = json.loads(endpoint.requests[-1]["body"])
    assert (sent["command"], sent["service"]["domain"]) == ("terminate", "leaving.example")


def test_process_an_immediate_request_now(db_url, endpoint):
    service = hosted(endpoint, "now.example")
    cancellations.request_cancellation(service.id, "immediate", "fraud", admin=find_admin("boss"))

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(CancellationQueueScreen())
            await settle(pilot)
            queue = app.screen
            assert row_of(queue, 1)["when"] == "next run"
            await pilot.press("p")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            assert "the module's Terminate runs on the server" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            assert row_of(queue, 1)["status"] == "completed"
            assert queue.check_action("process", ()) is None

    asyncio.run(scenario())
    assert Service.get_by_id(service.id).status == "cancelled"
    assert json.loads(endpoint.requests[-1]["body"])["command"] == "terminate"


def test_a_failing_terminate_keeps_the_request_open(db_url, endpoint):
    service = hosted(endpoint, "stuck.example")
    cancellations.request_cancellation(service.id, "immediate", "", admin=find_admin("boss"))
    endpoint.reply(status=500, body=b'{"error": "server down"}')

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(CancellationQueueScreen())
            await settle(pilot)
            await pilot.press("p")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await settle(pilot, until=lambda: isinstance(app.screen, MessageDialog))
            body = str(app.screen.query_one("#message-body").render())
            assert body == ("the module's Terminate failed: webhook %s: HTTP 500 "
                            "Internal Server Error: server down; the request stays open"
                            % endpoint.url)

    asyncio.run(scenario())
    assert Service.get_by_id(service.id).status == "active"
    assert CancellationRequest.get().status == "open"


@pytest.mark.parametrize("key, invoice_status", [("r", "unpaid"), ("k", "cancelled")])
def test_delete_an_open_request_offering_to_reopen_its_invoices(db_url, endpoint, key,
                                                                 invoice_status):
    service = hosted(endpoint, "stays.example")
    cancellations.request_cancellation(service.id, "end_of_period", "", admin=find_admin("boss"))
    assert Invoice.get().status == "cancelled"

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            await app.push_screen(CancellationQueueScreen())
            await settle(pilot)
            queue = app.screen
            await pilot.press("d")
            await settle(pilot, until=lambda: isinstance(app.screen, ChoiceDialog))
            assert "reopen the invoices" in screen_text(app)
            await pilot.press(key)
            await settle(pilot)
            assert row_of(queue, 1)["status"] == "deleted"
            await pilot.press("o")  # open requests only
            await settle(pilot)
            assert queue.biglist.total == 0

    asyncio.run(scenario())
    assert CancellationRequest.get().status == "deleted"
    assert Invoice.get().status == invoice_status
    assert Service.get_by_id(service.id).status == "active"
    assert ActivityLog.select().where(ActivityLog.action == "cancellation.delete").count() == 1
