"""SVG snapshots of the main screen and the services list: fixed size, data and clock.

Refresh after a deliberate change of the look with `--snapshot-update` and review the SVGs.
These run on SQLite only (fixed rows, one baseline per picture, whatever --engines says).
"""

from __future__ import annotations

import shutil

import pytest

from hostdesk.automation.config import load_config
from hostdesk.models.db import bind, database
from tests.tui.conftest import CLOCK, make_catalog_rows, settle
from hostdesk.tui.app import make_app


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
