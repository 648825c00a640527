"""Readable details instead of one JSON line: a daily run's report as a table per task with
its failures, and a deleted service's record in the activity log as fields and values."""

from __future__ import annotations

import json

import pendulum

from hostdesk.models.listing import ActivitySource, record_fields
from hostdesk.models.schema import ActivityLog, CronRun, Service
from hostdesk.models.services import delete_service
from hostdesk.models.permissions import find_admin
from tests.tui.conftest import run, screen_text, settle
from hostdesk.tui.screens.detail import DetailScreen
from hostdesk.tui.screens.run_report import RunReportScreen

REPORT = {
    "date": "2026-10-31", "dry_run": False, "stopped": "", "not_run": [],
    "alert": {"to": ["boss@example.com"]},
    "tasks": {
        "invoices": {"done": 12, "failures": [], "details": {"lines": 15, "amount": "180.00"}},
        "suspensions": {"done": 3, "details": {}, "failures": [
            {"item": "service #41", "error": "cPanel said: account is locked by another "
                                            "process, try again in a few minutes"},
            {"item": "service #42", "error": "connection refused"}]},
        "email": {"done": 9, "failures": [], "details": {"sent": 9}},
    },
}


def test_enter_on_a_run_shows_its_report_as_tables(catalog, app_for):
    run_row = CronRun.create(run_date=pendulum.date(2026, 10, 31), status="failed",
                             started_at=pendulum.datetime(2026, 10, 31, 2, tz="UTC"),
                             finished_at=pendulum.datetime(2026, 10, 31, 2, 5, tz="UTC"),
                             report=json.dumps(REPORT))
    app = app_for()

    async def scenario():
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await pilot.press("g", "a")
            await settle(pilot)
            assert app.screen.biglist.cursor_row["id"] == run_row.id
            await pilot.press("enter")
            await settle(pilot, until=lambda: isinstance(app.screen, RunReportScreen)
                           and app.screen.query_one("#run-tasks").row_count == 3)
            tasks = app.screen.query_one("#run-tasks")
            rows = [[str(cell) for cell in tasks.get_row_at(i)] for i in range(3)]
            assert rows[0] == ["invoices", "12", "0", "lines 15, amount 180.00"]
            assert rows[1][:3] == ["suspensions", "3", "2"]
            failures = app.screen.query_one("#run-failures")
            assert [[str(c) for c in failures.get_row_at(i)] for i in range(2)] == [
                ["suspensions", "service #41", REPORT["tasks"]["suspensions"]["failures"][0]
                 ["error"]],
                ["suspensions", "service #42", "connection refused"]]
            text = screen_text(app)
            assert "Admins' notice: emailed boss@example.com" in text
            assert "account is locked by another process, try again in a few minutes" in text
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen.area.key == "automation"

    run(scenario())


def test_a_deleted_services_record_reads_as_fields_and_values(catalog, app_for):
    service = Service.get(Service.domain == "site-007.example")
    service.password = "encrypted-value"
    service.save()
    delete_service(service.id, find_admin("tester"))
    entry = ActivityLog.get(ActivityLog.action == "service.delete")
    fields = dict(ActivitySource().detail(entry.id))
    assert fields["before.service.domain"] == "site-007.example"
    assert fields["before.service.password"] == "[secret]"
    assert fields["before.addons"] == "(none)"
    assert "before" not in fields and "after" not in fields
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("g", "l")
            await settle(pilot)
            await pilot.press("enter")  # the newest entry: the deletion
            await settle(pilot, until=lambda: isinstance(app.screen, DetailScreen)
                           and app.screen.query_one("DataTable").row_count > 10)
            text = screen_text(app)
            assert "before.service.domain" in text and "site-007.example" in text
            assert "encrypted-value" not in text

    run(scenario())


def test_record_fields_number_lists_and_keep_text_that_is_not_json():
    assert record_fields("after", '{"a": [{"b": 1}, {"b": null}], "password": ""}') == [
        ("after.a.1.b", 1), ("after.a.2.b", ""), ("after.password", "")]
    assert record_fields("before", "plain words") == [("before", "plain words")]
    assert record_fields("before", "") == []


def test_a_dry_runs_report_lists_what_each_task_would_act_on(catalog, app_for):
    items = [f"service #{n}" for n in range(1, 26)]
    run_row = CronRun.create(run_date=pendulum.date(2026, 11, 1), status="succeeded",
                             dry_run=True, started_at=pendulum.datetime(2026, 11, 1, tz="UTC"),
                             finished_at=pendulum.datetime(2026, 11, 1, 0, 1, tz="UTC"),
                             report=json.dumps({"tasks": {"suspensions": {
                                 "done": 25, "failures": [], "details": {}, "items": items}}}))
    app = app_for()

    async def scenario():
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            app.open_record("automation", run_row.id)
            await settle(pilot)
            assert isinstance(app.screen, RunReportScreen)
            await settle(pilot, until=lambda: app.screen.query_one("#run-items").row_count == 1)
            task, shown = (str(cell) for cell in app.screen.query_one("#run-items").get_row_at(0))
            assert task == "suspensions"
            assert shown.startswith("service #1, service #2,") and shown.endswith("and 5 more")
            assert "dry run: nothing was changed" in screen_text(app)

    run(scenario())
