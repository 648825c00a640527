"""`e` on a list: the dialog asks the format and file, writes exactly the rows the list shows
(its search applied), shows progress, and escape stops it leaving no file."""

from __future__ import annotations

import csv
import json

import pytest

from hostdesk.models.export import plain
from hostdesk.models.listing import ListFilter, ServiceSource
from tests.tui.conftest import run, settle
from hostdesk.tui.screens.lists import SEARCH_DELAY
from hostdesk.tui.widgets.export_dialog import ExportDialog


def list_rows(source, flt) -> list[dict]:
    keys = [column.key for column in source.columns]
    rows, after = [], None
    while page := source.page(after, 50, flt):
        rows += [{k: "" if row[k] is None else str(plain(row[k])) for k in keys} for row in page]
        after = page[-1]["id"]
    return rows


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    where = tmp_path / "exports"
    where.mkdir()
    monkeypatch.chdir(where)
    return where


def test_e_writes_a_csv_whose_rows_equal_the_searched_lists_rows(catalog, app_for, in_tmp):
    async def scenario():
        app = app_for()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            await pilot.press("slash", *"love", "enter")  # Ada Lovelace's services
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            shown = app.screen.biglist.total
            await pilot.press("e")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ExportDialog)
            path = dialog.query_one("#field-path").value
            assert path == str(in_tmp / "hostdesk-services-2026-11-01.csv")
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: not isinstance(app.screen, ExportDialog))
            await settle(pilot)
            return shown, path

    shown, path = run(scenario())
    with open(path, newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    expected = list_rows(ServiceSource(), ListFilter("love"))
    assert len(exported) == shown == len(expected) > 50
    assert exported == expected
    assert all("Lovelace" in row["client"] for row in exported)


def test_e_as_json_and_a_refused_path_keeps_the_dialog(catalog, app_for, in_tmp):
    (in_tmp / "taken.json").write_text("keep me")

    async def scenario():
        app = app_for()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "c")
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            dialog = app.screen
            dialog.query_one("#field-format").value = "json"
            await settle(pilot)
            assert dialog.query_one("#field-path").value.endswith("clients-2026-11-01.json")
            dialog.query_one("#field-path").value = "taken.json"
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: not dialog.working)
            assert "already exists" in str(dialog.query_one("#error-path").render())
            dialog.query_one("#field-path").value = "clients.json"
            await pilot.press("ctrl+s")
            await settle(pilot, until=lambda: not isinstance(app.screen, ExportDialog))

    run(scenario())
    assert (in_tmp / "taken.json").read_text() == "keep me"
    rows = json.loads((in_tmp / "clients.json").read_text())
    assert [row["id"] for row in rows] == sorted((row["id"] for row in rows), reverse=True)
    assert len(rows) == 3 and rows[0]["name"] == "Grace Hopper"


def test_escape_stops_an_export_under_way_and_leaves_no_file(catalog, app_for, in_tmp,
                                                              monkeypatch):
    import hostdesk.models.export

    monkeypatch.setattr(hostdesk.models.export, "PAGE", 10)  # many pages: a chance to stop between

    async def scenario():
        app = app_for()
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            await pilot.press("e")
            await settle(pilot)
            dialog = app.screen
            dialog.working = True  # as while an export runs: escape asks it to stop
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is dialog and dialog._stop.is_set()
            dialog.working = False
            await pilot.press("ctrl+s")  # the export sees the stop at its first page
            await settle(pilot, until=lambda: not isinstance(app.screen, ExportDialog))
            await settle(pilot)

    run(scenario())
    assert list(in_tmp.iterdir()) == []
