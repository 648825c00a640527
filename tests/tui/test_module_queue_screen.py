"""The module queue screen: failures of automated module commands, retried or dismissed by
an admin from the keyboard (rules §8), against the `webhook` module on a loopback server."""

from __future__ import annotations

import asyncio
import json

import pendulum
import pytest

from hostdesk.automation.config import Config
from hostdesk.automation.provisioning.runner import run_command
from hostdesk.models import secrets
from hostdesk.models.clock import Clock
from hostdesk.models.permissions import SYSTEM_ADMIN
from hostdesk.models.schema import ActivityLog, Admin, ModuleJob, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.test_webhook import Endpoint
from tests.tui.conftest import screen_text, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.invoices import ConfirmDialog
from hostdesk.tui.screens.module_queue import ModuleQueueScreen
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.widgets.dialogs import MessageDialog

TODAY = pendulum.date(2026, 3, 17)
SECRET = "whsec-queue"
SIZE = (120, 36)


@pytest.fixture(autouse=True)
def setup(db):
    secrets.configure("module-queue-tests")
    Admin.create(login="boss", role="full")
    Admin.create(login="sid", role="sales")
    yield
    secrets.configure("")


@pytest.fixture
def endpoint():
    server = Endpoint()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def app_for(db_url, login="boss"):
    config = Config(settings=Settings(), database_url=db_url, secret_key="k" * 32, sources={},
                    config_file=None)
    return make_app(config, login, Clock("UTC", TODAY))



def failed_by_the_daily_run(endpoint, domain: str, command: str = "suspend") -> Service:
    """A service whose automated command failed: the runner queued it with the error."""
    server = make.server(module="webhook", settings=json.dumps(
        {"url": endpoint.url, "secret": secrets.encrypt(SECRET),
         "allow_insecure_http": True}))
    product = make.product(module="webhook", server=server)
    service = make.service(product_row=product, server=server, domain=domain)
    endpoint.reply(status=503, body=b'{"error": "panel under maintenance"}')
    arguments = {"reason": ""} if command == "suspend" else {}  # blank: non-payment
    result = run_command(service.id, command, admin=SYSTEM_ADMIN, clock=Clock("UTC", TODAY),
                         settings=Settings(), source="cron", **arguments)
    assert not result.success
    return service


async def open_queue(app, pilot) -> ModuleQueueScreen:
    await app.push_screen(ModuleQueueScreen())
    await settle(pilot)
    return app.screen


def test_retry_a_failed_job_after_the_endpoint_recovers(db_url, endpoint):
    service = failed_by_the_daily_run(endpoint, "retry.example")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(app, pilot)
            await pilot.press("o")  # waiting jobs only
            await settle(pilot)
            assert screen.biglist.total == 1
            text = screen_text(app)
            assert "retry.example" in text and "1–1 of 1" in text
            assert "waiting jobs only (o: all)" in text
            assert ("suspend: webhook %s: HTTP 503 Service Unavailable: panel under maintenance"
                    % endpoint.url) in text
            endpoint.reply(status=200, body=b'{"success": true, "message": "suspended"}')
            await pilot.press("r")
            # the retry calls the endpoint in a worker, then the list reads itself again
            await settle(pilot, until=lambda: screen.biglist.total == 0, workers=True,
                         required=False)
            assert screen.biglist.total == 0  # nothing waits any more
            await pilot.press("o")  # every job
            await settle(pilot, until=lambda: "all jobs (o: waiting only)" in screen_text(app),
                         workers=True, required=False)
            assert "all jobs (o: waiting only)" in screen_text(app)
            assert screen.biglist.visible_rows()[0]["status"] == "done"

    asyncio.run(scenario())
    sent = json.loads(endpoint.requests[-1]["body"])
    assert (sent["command"], sent["params"]) == ("suspend", {"reason": "Overdue on payment"})
    assert Service.get_by_id(service.id).status == "suspended"
    job = ModuleJob.get()
    assert (job.status, job.attempts) == ("done", 1)
    assert ActivityLog.select().where((ActivityLog.action == "module_job.done")
                                      & (ActivityLog.admin_login == "boss")).count() == 1


def test_a_retry_that_fails_again_says_so_and_keeps_the_job(db_url, endpoint):
    service = failed_by_the_daily_run(endpoint, "still.example")

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(app, pilot)
            endpoint.reply(status=200, body=b"not json")
            await pilot.press("r")
            await settle(pilot, until=lambda: isinstance(app.screen, MessageDialog))
            body = str(app.screen.query_one("#message-body").render())
            assert f"of service #{service.id}: failed again: webhook" in body
            assert "is not valid JSON" in body
            await pilot.press("enter")
            await settle(pilot)
            assert screen.biglist.total == 1
            assert screen.biglist.visible_rows()[0]["attempts"] == 2

    asyncio.run(scenario())
    assert Service.get_by_id(service.id).status == "active"


def test_dismiss_ticked_jobs_after_confirming(db_url, endpoint):
    failed_by_the_daily_run(endpoint, "one.example")
    failed_by_the_daily_run(endpoint, "two.example", command="terminate")
    requests = len(endpoint.requests)

    async def scenario():
        app = app_for(db_url)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(app, pilot)
            assert screen.biglist.total == 2
            await pilot.press("space", "space", "d")
            await settle(pilot, until=lambda: isinstance(app.screen, ConfirmDialog))
            assert "Dismiss 2 module job(s)?" in screen_text(app)
            await pilot.press("y")
            await settle(pilot)
            assert [row["status"] for row in screen.biglist.visible_rows()] == [
                "dismissed", "dismissed"]
            await pilot.press("o")
            await settle(pilot)
            assert screen.biglist.total == 0

    asyncio.run(scenario())
    assert [job.status for job in ModuleJob.select()] == ["dismissed", "dismissed"]
    assert len(endpoint.requests) == requests  # dismissing runs nothing
    assert ActivityLog.select().where(ActivityLog.action == "module_job.dismiss").count() == 2


def test_without_server_operations_retry_and_dismiss_are_greyed(db_url, endpoint):
    service = failed_by_the_daily_run(endpoint, "sales.example")

    async def scenario():
        app = app_for(db_url, "sid")
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_queue(app, pilot)
            assert screen.check_action("retry", ()) is None
            assert screen.check_action("dismiss_jobs", ()) is None
            await pilot.press("r", "d")
            await pilot.pause()
            assert app.screen is screen
            await pilot.press("enter")  # the service page of the job
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen) and app.screen.service_id == service.id

    asyncio.run(scenario())
    assert ModuleJob.get().status == "failed"
