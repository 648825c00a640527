"""The main screen shows the money figures and the last daily run; the lists read in the
configured timezone; on a 16-colour terminal the highlighted row keeps its status readable."""

from __future__ import annotations

import pendulum
from rich.color import ColorSystem

from hostdesk.automation.config import load_config
from hostdesk.models.schema import ActivityLog, Admin
from tests.test_dashboard import NOW, TODAY, small_world
from tests.tui.conftest import CLOCK, FrozenClock, run, screen_text, settle
from hostdesk.tui.app import make_app
from hostdesk.tui.screens.lists import SEARCH_DELAY
from hostdesk.tui.widgets.biglist import BigList


class DashboardClock(FrozenClock):
    def now(self):
        return NOW


def test_the_main_screen_shows_revenue_due_mrr_overdue_and_the_last_run(db, db_url):
    Admin.create(login="tester", role="full")
    small_world()
    app = make_app(load_config(database_url=db_url, environ={}), "tester",
                   DashboardClock("UTC", TODAY))

    async def scenario():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, until=lambda: "counting" not in screen_text(app))
            await settle(pilot)
            text = screen_text(app)
            assert "Due in the next 30 days: $168.32" in text
            assert "Monthly recurring revenue $39.02" in text
            assert "Overdue $30.01 on 2 invoices" in text
            assert "Last daily run #1 for 2026-10-31: failed, finished 2026-10-31 08:03" in text
            assert "failed: invoices" in text
            spark = app.screen.query_one("#revenue-sparkline")
            assert len(spark.data) == 30 and spark.data[2] == 4333 and spark.data[29] == 10000

    run(scenario())


def test_timestamps_in_the_configured_timezone_and_days_searched_in_it(db, db_url):
    Admin.create(login="tester", role="full")
    late = ActivityLog.create(at=pendulum.datetime(2026, 10, 31, 23, 30, tz="UTC"),
                              admin_login="tester", action="service.edit",
                              object_type="service", object_id=1, description="late edit")
    config = load_config(database_url=db_url, environ={"HOSTDESK_TIMEZONE": "Europe/Rome"})
    app = make_app(config, "tester", FrozenClock("Europe/Rome", TODAY))

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "l")
            await settle(pilot)
            text = screen_text(app)
            assert "2026-11-01 00:30" in text and "23:30" not in text  # Rome is UTC+1
            await pilot.press("slash", *"on:2026-11-01")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert [r["id"] for r in app.screen.query_one(BigList).visible_rows()] == [late.id]

    run(scenario())


def test_the_highlighted_rows_status_stays_readable_in_16_colours(catalog, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            await pilot.press("g", "s")
            await settle(pilot)
            biglist = app.screen.query_one(BigList)
            biglist.few_colours = True  # as on a 16-colour terminal
            looks = set()
            for _ in range(5):  # one row of each status: active, pending, suspended, ...
                row = biglist.cursor_row
                looks.add(row["status"])
                strip = biglist.render_line(biglist.cursor - biglist.top + 1)
                status = next(seg for seg in strip if seg.text.strip() == row["status"])
                fg = status.style.color.downgrade(ColorSystem.STANDARD)
                bg = status.style.bgcolor.downgrade(ColorSystem.STANDARD)
                assert fg != bg and not status.style.dim, (row["status"], fg, bg)
                await pilot.press("j")
                await settle(pilot)
            assert len(looks) == 5

    run(scenario())
