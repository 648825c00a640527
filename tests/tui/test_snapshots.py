"""SVG snapshots of the main screen, the services list and the big screens (service page, order
form, client summary, invoice, mass update) at 80×24 and 120×36: fixed size, data and clock.

Refresh after a deliberate change of the look with `--snapshot-update` and review the SVGs.
These run on SQLite only (fixed rows, one baseline per picture, whatever --engines says).
"""

from __future__ import annotations

import shutil

import pytest
from textual.widgets import Input

from hostdesk.automation.config import load_config
from hostdesk.models.db import bind, database
from hostdesk.models.schema import Client, Invoice, Service
from tests.tui.conftest import CLOCK, make_catalog_rows, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.client_summary import ClientSummaryScreen
from hostdesk.tui.screens.invoices import InvoiceScreen
from hostdesk.tui.screens.mass_update import MassUpdateScreen
from hostdesk.tui.screens.order_form import OrderFormScreen
from hostdesk.tui.screens.service import ServiceScreen


@pytest.fixture
def snapshot_app(sqlite_template, tmp_path):
    path = tmp_path / "snapshot.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    real = bind(url)
    real.connect()
    make_catalog_rows(services=60)
    yield make_app(load_config(database_url=url), "tester", CLOCK)
    real.close()
    database.initialize(None)


def test_main_screen(snapshot_app, snap_compare):
    assert snap_compare(snapshot_app, terminal_size=(100, 30), run_before=settle)


def test_services_list_with_ticks(snapshot_app, snap_compare):
    async def open_services(pilot):
        await settle(pilot)
        await pilot.press("g", "s")
        await settle(pilot)
        await pilot.press("space", "j", "space", "j")
    assert snap_compare(snapshot_app, terminal_size=(120, 36), run_before=open_services)


def test_services_list_searched_at_80x24(snapshot_app, snap_compare):
    async def search(pilot):
        await settle(pilot)
        await pilot.press("g", "s")
        await settle(pilot)
        await pilot.press("slash", *"site-0", "enter")
        await settle(pilot)
    assert snap_compare(snapshot_app, terminal_size=(80, 24), run_before=search)


# --- the big screens, at the smallest supported terminal and a common wide one -------------

SIZES = {"80x24": (80, 24), "120x36": (120, 36)}


def open_screen(make_screen):
    """`run_before` that pushes the screen `make_screen()` builds and waits until it is drawn
    with the database's answers."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.app.push_screen(make_screen())
        await settle(pilot)
        await pilot.pause(0.5)  # the debounced work a screen starts once drawn (a total)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor is in the picture or not by chance
        await settle(pilot)

    return run_before


def first_id(model, **where) -> int:
    query = model.select(model.id).order_by(model.id)
    for field_name, value in where.items():
        query = query.where(getattr(model, field_name) == value)
    return query.scalar()


@pytest.mark.parametrize("size", SIZES)
def test_service_page(snapshot_app, snap_compare, size):
    service_id = first_id(Service, domain="site-001.example")
    assert snap_compare(snapshot_app, terminal_size=SIZES[size],
                        run_before=open_screen(lambda: ServiceScreen(service_id)))


@pytest.mark.parametrize("size", SIZES)
def test_order_form(snapshot_app, snap_compare, size):
    assert snap_compare(snapshot_app, terminal_size=SIZES[size],
                        run_before=open_screen(OrderFormScreen))


@pytest.mark.parametrize("size", SIZES)
def test_client_summary(snapshot_app, snap_compare, size):
    client_id = first_id(Client)
    assert snap_compare(snapshot_app, terminal_size=SIZES[size],
                        run_before=open_screen(lambda: ClientSummaryScreen(client_id)))


@pytest.mark.parametrize("size", SIZES)
def test_invoice(snapshot_app, snap_compare, size):
    invoice_id = first_id(Invoice)
    assert snap_compare(snapshot_app, terminal_size=SIZES[size],
                        run_before=open_screen(lambda: InvoiceScreen(invoice_id)))


@pytest.mark.parametrize("size", SIZES)
def test_mass_update(snapshot_app, snap_compare, size):
    ids = [s.id for s in Service.select(Service.id).order_by(Service.id).limit(12)]
    assert snap_compare(snapshot_app, terminal_size=SIZES[size],
                        run_before=open_screen(lambda: MassUpdateScreen(ids, ticked=ids[:3])))
