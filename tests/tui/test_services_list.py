"""The all-services list's filter bar (issue 4): every filter narrows the list to exactly the
services SQL finds, alone and combined; bad input is refused under the field."""

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models.errors import ValidationErrors
from hostdesk.models.schema import Admin, Service
from hostdesk.models.selection import Selection, ServiceFilter, Ticks
from tests import factories as make
from tests.tui.conftest import CLOCK, run, settle
from hostdesk.tui.screens.filtered_list import FILTER_DELAY
from hostdesk.tui.screens.services_list import ServiceListScreen

SIZE = (120, 36)
CYCLES = ("monthly", "quarterly", "annually", "one_time")
STATUSES = ("active", "pending", "suspended", "terminated")
START = pendulum.date(2026, 10, 1)


@pytest.fixture
def world(db):
    """300 services spread over 3 clients, 3 products, 2 servers (and none), 4 cycles,
    4 statuses and 60 due dates, in a pattern that makes every combination occur."""
    Admin.create(login="boss", role="full")
    clients = [make.client() for _ in range(3)]
    products = [make.product(name=f"Plan {n}") for n in range(3)]
    servers = [make.server(name=f"web{n}") for n in range(2)]
    rows = []
    for n in range(300):
        rows.append(dict(
            client=clients[n % 3].id, product=products[n % 7 % 3].id,
            server=(servers[0].id, servers[1].id, None)[n % 5 % 3],
            domain=f"svc{n:03d}.example", status=STATUSES[n % 4],
            billing_cycle=CYCLES[n % 11 % 4], registration_date=pendulum.date(2025, 1, 1),
            recurring_amount=Decimal("5.00"), next_due_date=START.add(days=n % 60),
            payment_method="banktransfer"))
    Service.insert_many(rows).execute()
    return {"clients": clients, "products": products, "servers": servers}


def ids_where(condition) -> list[int]:
    return [r[0] for r in Service.select(Service.id).where(condition).order_by(Service.id).tuples()]


FILTERS = {
    "status": (dict(status="suspended"), lambda w: Service.status == "suspended"),
    "product": (lambda w: dict(product=str(w["products"][1].id)),
                lambda w: Service.product == w["products"][1].id),
    "cycle": (dict(cycle="quarterly"), lambda w: Service.billing_cycle == "quarterly"),
    "server": (lambda w: dict(server=f"#{w['servers'][0].id}"),
               lambda w: Service.server == w["servers"][0].id),
    "due range": (dict(due_from="2026-10-10", due_to="2026-10-19"),
                  lambda w: Service.next_due_date.between(pendulum.date(2026, 10, 10),
                                                          pendulum.date(2026, 10, 19))),
    "due from only": (dict(due_from="2026-11-20"),
                      lambda w: Service.next_due_date >= pendulum.date(2026, 11, 20)),
    "client": (lambda w: dict(client=str(w["clients"][2].id)),
               lambda w: Service.client == w["clients"][2].id),
    "product by name": (dict(product="plan 1"),
                        lambda w: Service.product == w["products"][1].id),
    "server by name": (dict(server="WEB1"), lambda w: Service.server == w["servers"][1].id),
    "client by email": (lambda w: dict(client=w["clients"][2].email),
                        lambda w: Service.client == w["clients"][2].id),
    "client by name and product by name": (
        lambda w: dict(client=f"{w['clients'][0].last_name}", product="Plan 2"),
        lambda w: (Service.client == w["clients"][0].id) & (Service.product == w["products"][2].id)),
    "combined": (lambda w: dict(status="active", product=str(w["products"][0].id),
                                cycle="monthly", due_to="2026-11-10",
                                client=str(w["clients"][0].id)),
                 lambda w: ((Service.status == "active")
                            & (Service.product == w["products"][0].id)
                            & (Service.billing_cycle == "monthly")
                            & (Service.next_due_date <= pendulum.date(2026, 11, 10))
                            & (Service.client == w["clients"][0].id))),
}


@pytest.mark.parametrize("name", FILTERS)
def test_each_filter_selects_exactly_what_sql_finds(world, name):
    inputs, where = FILTERS[name]
    typed = inputs(world) if callable(inputs) else inputs
    expected = ids_where(where(world))
    assert 0 < len(expected) < 300
    selection = Selection(ServiceListScreen().source, ServiceFilter.from_inputs(**typed))
    assert selection.count() == len(expected)
    assert selection.resolve(Ticks(everything=True)) == expected  # what `M` would change
    page = selection.source.page(None, 400, selection.flt)
    assert [row["id"] for row in page] == expected[::-1]


def test_bad_filter_values_are_all_named_at_once():
    with pytest.raises(ValidationErrors) as caught:
        ServiceFilter.from_inputs(status="sleeping", cycle="fortnightly", product="#0",
                                  server="0", due_from="2026-02-30", client="#0")
    fields = [e.field for e in caught.value.errors]
    assert fields == ["status", "cycle", "due from", "product", "server", "client"]
    with pytest.raises(ValidationErrors) as caught:
        ServiceFilter.from_inputs(due_from="2026-05-02", due_to="2026-05-01")
    assert [e.field for e in caught.value.errors] == ["due to"]
    assert ServiceFilter.from_inputs(cycle="Semi-Annually").billing_cycle == "semiannually"
    named = ServiceFilter.from_inputs(product=" Shared  Basic ", server="#4", client="rossi")
    assert (named.product_name, named.product_id) == ("Shared Basic", None)
    assert (named.server_name, named.server_id) == ("", 4)
    assert named.client_name == "rossi"
    assert named.describe() == "client “rossi”, product “Shared Basic”, server #4"


async def _apply(screen, pilot, **values):
    for field, value in values.items():
        screen.query_one(f"#filter-{field}").value = value
    screen.apply_filters()
    await settle(pilot)


def test_the_filter_bar_narrows_the_list_and_mass_update_gets_the_same(world, app_for):
    product, server, client = world["products"][2], world["servers"][1], world["clients"][1]

    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=SIZE) as pilot:
            screen = ServiceListScreen()
            await app.push_screen(screen)
            await settle(pilot)
            assert screen.biglist.total == 300
            # By keyboard: f, the status select, then tab across to product #.
            await pilot.press("f", "enter", "down", "down", "enter")  # the list opens on Any; Active
            await pilot.pause(FILTER_DELAY + 0.1)  # the bar waits for a quiet moment
            await settle(pilot)
            assert screen.current_filter.status == "active"
            assert screen.biglist.total == len(ids_where(Service.status == "active"))
            await pilot.press("tab", "tab", *product.name, "enter")
            await settle(pilot)
            expected = ids_where((Service.status == "active") & (Service.product == product.id))
            assert screen.biglist.total == len(expected)
            assert screen.biglist.has_focus  # enter in a field goes back to the list
            assert screen.biglist.cursor_row["id"] == expected[-1]
            status_line = str(screen.query_one("#list-status").render())
            assert f"product “{product.name}”, active" in status_line

            await _apply(screen, pilot, status="", product="", cycle="annually",
                         server=str(server.id), client=str(client.id), **{"due-from": "2026-10-20"})
            expected = ids_where((Service.billing_cycle == "annually")
                                 & (Service.server == server.id) & (Service.client == client.id)
                                 & (Service.next_due_date >= pendulum.date(2026, 10, 20)))
            assert 0 < len(expected) and screen.biglist.total == len(expected)
            # `M` takes the list's own source and filter: the same services, none other.
            mass = Selection(screen.source, screen.biglist.filter)
            assert mass.resolve(Ticks(everything=True)) == expected

            # A bad date is refused under the fields; the list keeps the last good filter.
            await _apply(screen, pilot, **{"due-to": "2026-13-01"})
            error = str(screen.query_one("#filter-error").render())
            assert "due to" in error and "is not a date" in error
            assert screen.biglist.total == len(expected)
            await _apply(screen, pilot, **{"due-to": "2026-10-05"})
            assert "is before" in str(screen.query_one("#filter-error").render())
            await _apply(screen, pilot, **{"due-to": ""})
            assert str(screen.query_one("#filter-error").render()) == ""

            # The `/` search keeps the filters.
            await pilot.press("slash", *"svc0", "enter")
            await settle(pilot)
            searched = [i for i in expected
                        if Service.get_by_id(i).domain.startswith("svc0")]
            assert screen.biglist.total == len(searched) > 0
            app.save_screenshot("services-list-120x36.svg", path="/tmp")

    run(scenario())


def test_fits_at_80x24(world, app_for):
    async def scenario():
        app = app_for("boss", CLOCK)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = ServiceListScreen(client_id=world["clients"][0].id)
            await app.push_screen(screen)
            await settle(pilot)
            assert screen.biglist.total == 100
            assert screen.query_one("#filter-client").value == f"#{world['clients'][0].id}"
            for field in ("#filter-status", "#filter-cycle", "#filter-product", "#filter-server",
                          "#filter-due-from", "#filter-due-to", "#filter-client"):
                region = screen.query_one(field).region
                assert region.width >= 6 and region.right <= 80, field
            app.save_screenshot("services-list-80x24.svg", path="/tmp")

    run(scenario())
