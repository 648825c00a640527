"""The activity log (g l): an admin searches it by words and prefixes, and a prefix that
cannot be read says why in the status line instead of showing an empty list."""

from __future__ import annotations

import pendulum

from hostdesk.models import audit
from hostdesk.models.schema import ActivityLog, Admin
from hostdesk.tui.screens.lists import SEARCH_DELAY
from hostdesk.tui.widgets.biglist import BigList
from tests.tui.conftest import run, screen_text, settle

ROWS = (  # admin, action, object, description, when (UTC)
    ("alice", "service.suspend", ("service", 42), "suspended overdue: invoice #900 unpaid",
     "2026-10-25T10:00:00"),
    ("system", "invoice.create", ("invoice", 900), "renewal invoice #900 for 12.50 USD",
     "2026-10-30T02:00:00"),
    ("bob", "service.promotion_ended", ("service", 43), "promotion SPRING ended",
     "2026-10-31T08:00:00"),
    ("alice", "service.edit", ("service", 43), "edited the admin notes",
     "2026-11-01T09:30:00"),
)


def make_log() -> dict[str, int]:
    Admin.create(login="tester", role="full")
    ids = {}
    for admin, action, (object_type, object_id), text, when in ROWS:
        row = audit.record(admin, action, object_type, object_id, client_id=7, description=text)
        ActivityLog.update(at=pendulum.parse(when)).where(ActivityLog.id == row.id).execute()
        ids[action] = row.id
    return ids


def shown_ids(app) -> list[int]:
    return [row["id"] for row in app.screen.query_one(BigList).visible_rows()]


def status_line(app) -> str:
    return str(app.screen.query_one("#list-status").render())


async def type_search(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.pause(SEARCH_DELAY + 0.1)
    await settle(pilot)


def test_search_the_log_by_words_and_prefixes_and_see_why_a_prefix_is_wrong(db, app_for):
    ids = make_log()
    every = sorted(ids.values(), reverse=True)
    app = app_for()

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "l")
            await settle(pilot, until=lambda: shown_ids(app) == every)
            assert "hostdesk · Activity log" in screen_text(app)

            await pilot.press("slash")
            await settle(pilot)
            assert ("search by words, admin:, action:, client:, since:/until:/on:DATE, service 42, #id"
                    in screen_text(app))

            await type_search(pilot, "suspended overdue")
            await settle(pilot, until=lambda: shown_ids(app) == [ids["service.suspend"]])
            text = screen_text(app)
            assert "suspended overdue: invoice #900" in text
            assert "renewal invoice" not in text and "promotion SPRING" not in text
            assert "1–1 of 1" in text and "search “suspended overdue”" in text

            await pilot.press("escape")  # clears the search: every row again
            await settle(pilot, until=lambda: shown_ids(app) == every)
            await pilot.press("slash")
            await type_search(pilot, "admin:alice since:2026-11-01")
            await settle(pilot, until=lambda: shown_ids(app) == [ids["service.edit"]])
            assert "edited the admin notes" in screen_text(app)

            # Fix the date to one that does not exist: the list keeps the last search it
            # could read, and the status line names the problem.
            await pilot.press(*["backspace"] * 2, "3", "1")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            await settle(pilot, until=lambda: "since: 2026-11-31 is not a date" in status_line(app))
            assert "⚠ since: 2026-11-31 is not a date" in screen_text(app)
            assert shown_ids(app) == [ids["service.edit"]]
            await pilot.press("enter")  # a search that cannot be read stays open to fix
            await settle(pilot)
            assert app.screen.query_one("#list-search").has_focus

            await pilot.press("ctrl+u")  # the whole line
            await type_search(pilot, "alice until:2026-10-30")
            await settle(pilot, until=lambda: shown_ids(app) == [ids["service.suspend"]])
            text = screen_text(app)
            assert "is not a date" not in text and "search “alice until:2026-10-30”" in text
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen.query_one(BigList).has_focus

    run(scenario())
