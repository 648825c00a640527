"""Fixtures and helpers for the screen tests: apps built by `tui.app.make_app` on real data."""

from __future__ import annotations

import asyncio
import io
import time
from decimal import Decimal

import pendulum
import pytest
from rich.console import Console
from textual._wait import wait_for_idle

from hostdesk.automation.config import load_config
from hostdesk.models.clock import Clock
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CancellationRequest,
    Client,
    CronRun,
    Invoice,
    ModuleJob,
    Order,
    Product,
    Service,
)
from hostdesk.tui.app import make_app

TODAY = pendulum.date(2026, 11, 1)
NOON = pendulum.datetime(2026, 11, 1, 12, 0, tz="UTC")


class FrozenClock(Clock):
    """Today and now pinned, so that what the screens show never depends on the wall clock."""

    def now(self) -> pendulum.DateTime:
        return NOON


CLOCK = FrozenClock("UTC", TODAY)


def run(coro):
    """Pilot scenarios are coroutines; run each in a fresh event loop."""
    return asyncio.run(coro)


async def settle(pilot, until=None, *, seconds: float = 10.0, rounds: int = 3,
                 workers: bool = False, required: bool = True) -> bool:
    """The one wait of the screen tests: until the screen is ready.

    Without `until`: until the database workers are done and their answers are on screen
    (`rounds` turns of 50 ms each, so that the timers that wait for typing to stop, a search
    or a running total, fire and their workers are waited for too).
    With `until`: until `until()` holds (a dialog on top, a worker's answer shown), failing
    after `seconds`; workers are not waited for then, as a test may hold one on purpose.
    `workers`: until no worker runs either (with `until`, or alone), their answers shown.
    `required=False`: after `seconds`, returns False instead of failing (the case is then
    judged on what the screen shows). Returns whether the screen got ready.
    """
    app = pilot.app
    if until is None and not workers:
        for _ in range(rounds):
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
        await pilot.pause()
        return True
    ready = until or (lambda: True)
    deadline = time.monotonic() + seconds
    while not (ready() and not (workers and any(w.is_running for w in app.workers))):
        if time.monotonic() >= deadline:
            assert not required, f"not ready after {seconds} s"
            return False
        if workers:  # the app did what it was asked, the workers what they were given
            await wait_for_idle(0)
            await app.workers.wait_for_complete()
        else:
            await pilot.pause(0.05)
    if workers:
        await pilot.pause()  # the layout caught up (a message shown, scrolled into view)
    return True


def toasts(app) -> str:
    """Every notification the app has shown and not yet timed out, one per line."""
    return "\n".join(str(note.message) for note in app._notifications)


def screen_text(app) -> str:
    """The screen as plain text, one line per terminal row (what a person reads)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


@pytest.fixture
def tui_config(db_url):
    return load_config(database_url=db_url)


@pytest.fixture
def app_for(db, tui_config):
    """Build the app for a login, through the one factory the CLI uses."""

    def build(login: str = "tester", clock: Clock = CLOCK):
        return make_app(tui_config, login, clock)

    return build


@pytest.fixture
def demo(db):
    """The demo company (20 clients) as of TODAY, with admin `tester`."""
    from hostdesk.automation.demo import build_demo

    build_demo(seed=1, clients=20, today=TODAY, owner_login="tester")
    return db


STAMP = pendulum.datetime(2026, 10, 15, 9, 30, tz="UTC")


def make_catalog_rows(services: int = 230) -> dict:
    """A fixed little world: admin `tester`, 3 clients, one product, `services` services.

    Domains are `site-NNN.example` (NNN = 001…), statuses cycle through active, pending,
    suspended, terminated and fraud, and every timestamp is fixed.
    """
    Admin.create(login="tester", name="Tester", role="full", created_at=STAMP)
    Admin.create(login="boss", name="Boss", role="full", created_at=STAMP)
    Admin.create(login="gone", name="Gone", role="support", active=False, created_at=STAMP)
    clients = [
        Client.create(first_name="Ada", last_name="Lovelace", company="Analytical Ltd",
                      email="ada@analytical.example", created_at=STAMP),
        Client.create(first_name="Alan", last_name="Turing", email="alan@bletchley.example",
                      created_at=STAMP),
        Client.create(first_name="Grace", last_name="Hopper", email="grace@navy.example",
                      status="inactive", created_at=STAMP),
    ]
    product = Product.create(name="Shared Basic")
    statuses = ("active", "pending", "suspended", "terminated", "fraud")
    rows = []
    for n in range(1, services + 1):
        rows.append(dict(
            client=clients[n % 3].id, product=product.id, domain=f"site-{n:03d}.example",
            username=f"user{n:03d}", status=statuses[n % 5],
            registration_date=pendulum.date(2025, 1, 1), billing_cycle="monthly",
            recurring_amount=Decimal("12.50") + n, first_payment_amount=Decimal("12.50"),
            next_due_date=pendulum.date(2026, 11, 1).add(days=n % 40 - 10),
            payment_method="banktransfer", created_at=STAMP, updated_at=STAMP))
    for start in range(0, len(rows), 100):
        Service.insert_many(rows[start:start + 100]).execute()
    order = Order.create(number="1234567890", client=clients[0], payment_method="banktransfer",
                         amount=Decimal("12.50"), created_at=STAMP)
    Invoice.create(client=clients[0], order=order, date=pendulum.date(2026, 10, 1),
                   due_date=pendulum.date(2026, 10, 20), payment_method="banktransfer",
                   total=Decimal("13.50"), created_at=STAMP)
    Invoice.create(client=clients[1], date=pendulum.date(2026, 10, 5),
                   due_date=pendulum.date(2026, 11, 20), payment_method="banktransfer",
                   total=Decimal("99.99"), status="paid", created_at=STAMP)
    first_service = Service.get(Service.domain == "site-001.example")
    CancellationRequest.create(service=first_service, type="end_of_period",
                               reason="moving elsewhere", requested_by="tester",
                               created_at=STAMP)
    ModuleJob.create(service=first_service, command="suspend", status="failed", attempts=2,
                     last_error="connection refused", created_at=STAMP, updated_at=STAMP)
    ActivityLog.create(at=STAMP, admin_login="tester", action="service.create",
                       object_type="service", object_id=first_service.id,
                       description="created site-001.example")
    CronRun.create(run_date=pendulum.date(2026, 10, 31), status="succeeded",
                   started_at=pendulum.datetime(2026, 10, 31, 2, 0, tz="UTC"),
                   finished_at=pendulum.datetime(2026, 10, 31, 2, 1, tz="UTC"),
                   report='{"tasks": {"invoices": {"done": 3, "failures": []}}}')
    return {"clients": clients, "product": product}


@pytest.fixture
def catalog(db):
    return make_catalog_rows()
