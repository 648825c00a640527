"""The automation status screen: a run's held terminations (the termination guard, rules §11)
are shown and confirmed with `T`, typing the run's id; only "run daily tasks" may."""

from __future__ import annotations

import pendulum

from hostdesk.automation.cron import run_daily
from hostdesk.models.clock import Clock
from hostdesk.models.schema import Admin, HeldTermination, Service
from hostdesk.models.settings import Settings
from tests import factories as make
from tests.tui.conftest import run, screen_text, settle
from hostdesk.tui.screens.lists import AutomationScreen
from hostdesk.tui.widgets.dialogs import TypedConfirmDialog

NDD = pendulum.date(2026, 9, 1)
SETTINGS = Settings(smtp_port=1)


def held_run():
    """10 services, 4 of them unpaid long enough to be terminated: more than the guard lets
    through, so the run of NDD + 30 holds them."""
    services = [make.service(next_due_date=NDD if i < 4 else NDD.add(months=6))
                for i in range(10)]
    run_daily(SETTINGS, Clock("UTC", NDD.subtract(days=14)))
    report = run_daily(SETTINGS, Clock("UTC", NDD.add(days=30)))
    assert report.held_terminations == 4
    return report.run_id, services


def statuses(services):
    return [Service.get_by_id(s.id).status for s in services]


def test_a_full_admin_confirms_the_held_terminations(app_for):
    Admin.create(login="tester", role="full")
    run_id, services = held_run()

    async def scenario():
        app = app_for("tester")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            app.go("automation")
            await settle(pilot, until=lambda: isinstance(app.screen, AutomationScreen))
            await settle(pilot, until=lambda: f"Daily run #{run_id}" in screen_text(app))
            assert "held 4 terminations for an admin to confirm" in screen_text(app)
            await pilot.press("T")
            await settle(pilot, until=lambda: isinstance(app.screen, TypedConfirmDialog))
            await pilot.press(*"999", "enter")  # the wrong run: nothing happens
            await pilot.pause()
            assert isinstance(app.screen, TypedConfirmDialog)
            assert statuses(services[:4]) == ["suspended"] * 4
            field = app.screen.query_one("#typed")
            field.value = ""
            await pilot.press(*str(run_id), "enter")
            await settle(pilot, until=lambda: statuses(services[:4]) == ["terminated"] * 4)
            # The banner is right once the confirmation has answered and the screen's check
            # of the runs it then starts has answered too. Closing the dialog already started
            # a check, which may see the run half done ("held 3 terminations"): waiting a
            # fixed number of short pauses, then only for "held 4" to be gone, judged that one.
            await settle(pilot, workers=True, until=lambda: not app.screen.working
                         and "for an admin to confirm" not in screen_text(app))
            assert app.screen.waiting == []

    run(scenario())
    assert statuses(services[4:]) == ["active"] * 6
    assert HeldTermination.select().where(HeldTermination.status == "done").count() == 4


def test_without_run_daily_tasks_the_key_does_nothing(app_for):
    Admin.create(login="tester", role="full")
    Admin.create(login="helper", role="support")
    run_id, services = held_run()

    async def scenario():
        app = app_for("helper")
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            app.go("automation")
            await settle(pilot, rounds=4)
            assert isinstance(app.screen, AutomationScreen)
            await settle(pilot, until=lambda: f"Daily run #{run_id}" in screen_text(app))
            await pilot.press("T")
            await settle(pilot)
            assert not isinstance(app.screen, TypedConfirmDialog)

    run(scenario())
    assert statuses(services[:4]) == ["suspended"] * 4
