"""The big list on the services screen: paging, search, ticks and its place, checked against
the database (230 services, so a page is a fraction of the table)."""

from __future__ import annotations

import re
from decimal import Decimal

import pendulum

from hostdesk.models.schema import Invoice, Service
from hostdesk.tui.screens.service import ServiceScreen
from hostdesk.tui.screens.lists import SEARCH_DELAY, ListScreen
from hostdesk.tui.widgets.biglist import BigList
from tests.tui.conftest import run, screen_text, settle


def service_ids(where=None) -> list[int]:
    query = Service.select(Service.id).order_by(Service.id.desc())
    if where is not None:
        query = query.where(where)
    return [s.id for s in query]


def shown_ids(biglist: BigList) -> list[int]:
    return [row["id"] for row in biglist.visible_rows()]


async def open_services(pilot) -> BigList:
    await settle(pilot)
    await pilot.press("g", "s")
    await settle(pilot)
    return pilot.app.screen.query_one(BigList)


async def search(pilot, *keys: str) -> None:
    await pilot.press("slash", *keys)
    await pilot.pause(SEARCH_DELAY + 0.1)
    await settle(pilot)


def test_paging_keys_walk_the_list_in_database_order(catalog, app_for):
    app = app_for()
    ids = service_ids()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            height = biglist.rows_height
            assert height >= 15
            assert shown_ids(biglist) == ids[:height]
            assert f"1–{height} of 230" in screen_text(app)
            assert biglist.cached_rows < len(ids) / 2  # a page around the screen, not the table

            await pilot.press("pagedown")
            await settle(pilot)
            assert (biglist.top, biglist.cursor) == (height, height)
            assert shown_ids(biglist) == ids[height:2 * height]
            assert f"{height + 1}–{2 * height} of 230" in screen_text(app)

            await pilot.press("end")
            await settle(pilot)
            assert biglist.cursor == 229 and biglist.cursor_row["id"] == ids[-1]
            assert shown_ids(biglist) == ids[-height:]
            assert f"{230 - height + 1}–230 of 230" in screen_text(app)

            await pilot.press("pageup", "pageup")  # rows before the known ones: keyset backwards
            await settle(pilot)
            top = biglist.top
            assert top == 230 - 3 * height
            assert shown_ids(biglist) == ids[top:top + height]

            await pilot.press("home", "j", "j", "k")
            await settle(pilot)
            assert biglist.cursor == 1 and shown_ids(biglist) == ids[:height]
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, ServiceScreen) and app.screen.service_id == ids[1]
            assert Service.get_by_id(ids[1]).domain in screen_text(app)

    run(scenario())


def test_a_far_jump_of_the_scrollbar_reads_the_rows_at_that_place(catalog, app_for):
    app = app_for()
    ids = service_ids()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            biglist.scroll_to(y=137, animate=False)  # as a mouse drag would
            await settle(pilot)
            height = biglist.rows_height
            assert biglist.top == 137
            assert shown_ids(biglist) == ids[137:137 + height]
            assert f"138–{137 + height} of 230" in screen_text(app)

    run(scenario())


def test_search_narrows_the_list_as_the_database_does(catalog, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            await search(pilot, *"site-00")
            expected = service_ids(Service.domain.startswith("site-00"))
            assert len(expected) == 9
            assert biglist.total == 9 and shown_ids(biglist) == expected
            text = screen_text(app)
            assert "1–9 of 9" in text and "search “site-00”" in text
            assert app.screen.query_one("#list-search").has_focus

            await pilot.press("enter")  # keeps the search, back to the list
            await pilot.pause()
            assert biglist.has_focus and biglist.total == 9

            await pilot.press("slash", "ctrl+u", *"USER12")  # usernames, any case
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert shown_ids(biglist) == service_ids(Service.username.startswith("user12"))
            assert biglist.total == 10

            await pilot.press("ctrl+u", *"#5")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert shown_ids(biglist) == [5]

            await pilot.press("ctrl+u", *"zzz")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            text = screen_text(app)
            assert biglist.total == 0 and "Nothing matches “zzz”" in text and "0 of 0" in text

            await pilot.press("escape")  # escape in the search box clears the search
            await settle(pilot)
            assert biglist.has_focus and biglist.total == 230
            assert isinstance(app.screen, ListScreen)

    run(scenario())


def test_a_search_is_counted_up_to_the_cap_and_exactly_only_at_its_end(catalog, app_for):
    """A COUNT over a big table is the slow part of a search: the first page's query counts
    the matches up to the list's cap; a longer result says "100+" until the admin goes to
    its end. The whole list's total is kept by the database (migration 0022): no COUNT."""
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            biglist.count_cap = 100
            counted = []
            count = biglist.source.count
            biglist.source.count = lambda *a, **k: counted.append(a) or count(*a, **k)
            await search(pilot, *"site-0")  # 99 matches: under the cap
            assert biglist.total == 99 and biglist.exact and counted == []
            await pilot.press("0")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert biglist.total == 9 and counted == []
            assert "1–9 of 9" in screen_text(app)
            await pilot.press("ctrl+u")  # the whole list again: the database's own total
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert biglist.total == 230 and biglist.exact and counted == []
            await pilot.press(*"zzz")
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert biglist.total == 0 and counted == []
            await pilot.press("ctrl+u", *"site-")  # all 230 match: more than the cap
            await pilot.pause(SEARCH_DELAY + 0.1)
            await settle(pilot)
            assert (biglist.total, biglist.exact, counted) == (100, False, [])
            assert f"1–{biglist.rows_height} of 100+" in screen_text(app)
            assert shown_ids(biglist) == service_ids()[:biglist.rows_height]

            await pilot.press("enter", "end")  # to the last match: counted exactly now
            await settle(pilot)
            assert (biglist.total, biglist.exact, len(counted)) == (230, True, 1)
            assert biglist.cursor == 229 and biglist.cursor_row["id"] == service_ids()[-1]
            assert "of 230" in screen_text(app) and "230+" not in screen_text(app)

    run(scenario())


def header_and_first_row(text: str) -> tuple[str, str]:
    """The column header and the first list row under it (below any filter bar)."""
    lines = text.splitlines()
    at_header = next(i for i, line in enumerate(lines) if " ID " in f" {line} ")
    return lines[at_header], lines[at_header + 1]


def test_space_a_n_i_tick_rows_by_id(catalog, app_for):
    app = app_for()
    ids = service_ids()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            height = biglist.rows_height
            await pilot.press("space", "space")
            assert biglist.ticked == {ids[0], ids[1]} and biglist.cursor == 2
            assert "2 ticked" in screen_text(app)
            assert header_and_first_row(screen_text(app))[1].startswith("✓")
            await pilot.press("space", "k", "space")  # tick the third, untick it again
            assert biglist.ticked == {ids[0], ids[1]}

            await pilot.press("i")  # invert what is on screen
            assert biglist.ticked == set(ids[2:height])
            await pilot.press("pagedown")
            await settle(pilot)
            await pilot.press("a")  # every row on screen; ticks elsewhere stay
            assert biglist.ticked == set(ids[2:2 * height])
            assert f"{2 * height - 2} ticked" in screen_text(app)
            await pilot.press("N")  # none
            assert biglist.ticked == set()
            assert "ticked" not in screen_text(app)

    run(scenario())


def test_a_list_keeps_its_place_and_shows_the_database_truth_when_you_come_back(catalog,
                                                                                app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            await pilot.press("pagedown", "j", "j", "j")
            await settle(pilot)
            place = (biglist.top, biglist.cursor, biglist.cursor_row["id"])
            await pilot.press("g", "c")
            await settle(pilot)
            assert app.screen.area.key == "clients"
            # Meanwhile, a service is deleted (one row above the cursor goes away).
            Service.delete().where(Service.id == service_ids()[0]).execute()
            await pilot.press("g", "s")
            await settle(pilot)
            assert app.screen.query_one(BigList) is biglist
            assert biglist.total == 229
            assert biglist.cursor_row["id"] == place[2]  # still on the same service
            assert biglist.top == place[0] and biglist.cursor == place[1] - 1
            assert shown_ids(biglist) == service_ids()[place[0]:place[0] + biglist.rows_height]

    run(scenario())


def row_segments(biglist: BigList, row_id: int) -> dict[str, object]:
    """The styled cells of the row showing `row_id`, by their text."""
    index = next(i for i in range(biglist.total) if (biglist.row_at(i) or {}).get("id") == row_id)
    strip = biglist.render_line(index - biglist.top + 1)
    return {segment.text.strip(): segment.style for segment in strip if segment.text.strip()}


def colour(app, variable: str) -> str:
    return app.theme_variables[variable].lower()


def test_columns_fit_the_width_with_status_colours_money_and_dates(catalog, app_for):
    long = Service.get_by_id(service_ids()[0])
    long.domain = "a-very-long-domain-name-for-a-shop-that-sells-everything.example"
    long.save()

    async def at(size):
        app = app_for()
        async with app.run_test(size=size) as pilot:
            biglist = await open_services(pilot)
            header, first = header_and_first_row(screen_text(app))
            for title in ("ID", "Domain", "Status", "Next due"):
                assert title in header
            assert "a-very-long-domain" in first and "…" in first  # cut, never wrapped
            suspended = service_ids(Service.status == "suspended")[0]
            cells = row_segments(biglist, suspended)
            assert cells["suspended"].color.get_truecolor().hex == colour(app, "status-suspended")
            service = Service.get_by_id(suspended)
            assert service.next_due_date.format("YYYY-MM-DD") in cells
            return header, first, cells, service

    header, first, cells, service = run(at((80, 24)))
    assert "Client" not in header and "Recurring" not in header
    header, first, cells, service = run(at((120, 36)))
    assert "Client" in header and "Recurring" in header and "Product" in header
    money = f"${service.recurring_amount:,.2f}"
    assert money in cells
    amount_end = header.index("Recurring") + len("Recurring")
    assert re.search(r"\$[0-9,]+\.[0-9]{2}$", first[:amount_end])  # right-aligned under its title


def test_overdue_invoice_dates_are_marked(catalog, app_for):
    app = app_for()
    unpaid = Invoice.get(Invoice.status == "unpaid")
    paid = Invoice.get(Invoice.status == "paid")

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("g", "i")
            await settle(pilot)
            biglist = app.screen.query_one(BigList)
            await pilot.press("j")  # the cursor off the paid invoice (newest, first row)
            await settle(pilot)
            overdue = row_segments(biglist, unpaid.id)[unpaid.due_date.format("YYYY-MM-DD")]
            assert overdue.color.get_truecolor().hex == colour(app, "status-fraud")
            assert overdue.bold
            fine = row_segments(biglist, paid.id)[paid.due_date.format("YYYY-MM-DD")]
            assert not fine.bold
            assert fine.color.get_truecolor().hex != colour(app, "status-fraud")

    run(scenario())


def test_rows_added_elsewhere_appear_after_reload_with_the_new_count(catalog, app_for):
    app = app_for()

    async def scenario():
        async with app.run_test(size=(80, 24)) as pilot:
            biglist = await open_services(pilot)
            template = Service.get_by_id(service_ids()[0])
            Service.create(client=template.client, product=template.product,
                           domain="brand-new.example", registration_date=pendulum.date(2026, 11, 1),
                           billing_cycle="monthly", payment_method="banktransfer",
                           recurring_amount=Decimal("1.00"))
            await pilot.press("ctrl+r")
            await settle(pilot)
            assert biglist.total == 231
            assert biglist.row_at(0)["domain"] == "brand-new.example"
            assert "1–" in screen_text(app) and "of 231" in screen_text(app)

    run(scenario())
