"""The list sources (models/listing.py) on both engines, and the pure helpers of the list."""

from __future__ import annotations

from decimal import Decimal

import pendulum
import pytest

from hostdesk.models.listing import (
    SOURCES,
    Column,
    CronRunSource,
    ListFilter,
    ServiceSource,
    automation_warning,
    dashboard_counts,
    next_prefix,
)
from hostdesk.models.schema import CronRun, Invoice, Service
from hostdesk.tui.app import prefer_truecolor, terminal_has_truecolor
from hostdesk.tui.widgets.biglist import FetchPlan, plan_fetch
from hostdesk.tui.widgets.cells import fit, format_value, layout_columns
from tests.tui.conftest import NOON, TODAY


def ids_desc(where=None) -> list[int]:
    query = Service.select(Service.id).order_by(Service.id.desc())
    return [s.id for s in (query.where(where) if where is not None else query)]


def test_keyset_pages_forward_backward_and_by_offset_agree_with_the_table(catalog):
    source = ServiceSource()
    every = ids_desc()
    assert source.count() == len(every) == 230
    first = source.page(None, 50)
    assert [r["id"] for r in first] == every[:50]
    second = source.page(first[-1]["id"], 50)
    assert [r["id"] for r in second] == every[50:100]
    before = source.page(second[0]["id"], 20, backward=True)
    assert [r["id"] for r in before] == every[30:50]
    last = source.page(None, 15, backward=True)
    assert [r["id"] for r in last] == every[-15:]
    assert [r["id"] for r in source.page_at(117, 10)] == every[117:127]
    row = first[0]
    service = Service.get_by_id(row["id"])
    assert row["domain"] == service.domain and row["amount"] == service.recurring_amount
    assert row["client"] == service.client.display_name
    assert row["next_due"] == service.next_due_date


@pytest.mark.parametrize("term,where", [
    ("site-01", Service.domain.startswith("site-01")),
    ("SITE-2", Service.domain.startswith("site-2")),
    ("user00", Service.username.startswith("user00")),
    ("#7", Service.id == 7),
    ("7", Service.id == 7),
])
def test_service_search_matches_like_the_database_and_pages_within_it(catalog, term, where):
    source = ServiceSource()
    flt = ListFilter(term)
    expected = ids_desc(where)
    assert expected
    assert source.count(flt) == len(expected)
    assert [r["id"] for r in source.page(None, 5, flt)] == expected[:5]
    if len(expected) > 5:
        rest = source.page(expected[4], 50, flt)
        assert [r["id"] for r in rest] == expected[5:]


def test_every_source_pages_and_searches_on_demo_data(demo):
    for name, source_class in SOURCES.items():
        source = source_class()
        total = source.count()
        rows = source.page(None, 10)
        model = source.model
        assert total == model.select().count(), name
        assert [r["id"] for r in rows] == [m.id for m in model.select(model.id)
                                           .order_by(model.id.desc()).limit(10)], name
        for column in source.columns:
            assert all(column.key in row for row in rows), (name, column.key)
        if rows:
            assert source.count(ListFilter(f"#{rows[0]['id']}")) == 1, name
            assert source.detail(rows[0]["id"])[0] == ("id", rows[0]["id"])
        assert source.count(ListFilter("#99999999")) == 0


def test_client_search_by_name_company_email_and_full_name(catalog):
    ada = catalog["clients"][0]
    found = SOURCES["clients"]()
    for term in ("ada", "LOVE", "analytical", "ada@anal", "ada love"):
        assert [r["id"] for r in found.page(None, 10, ListFilter(term))] == [ada.id], term
    assert found.count(ListFilter("hopper")) == 1
    assert found.count(ListFilter("ada turing")) == 0


def test_invoices_found_by_client_name_and_overdue_when_unpaid_past_due(catalog):
    source = SOURCES["invoices"]()
    rows = source.page(None, 10, ListFilter("lovelace"))
    assert [r["id"] for r in rows] == [i.id for i in Invoice.select().where(
        Invoice.client == catalog["clients"][0])]
    unpaid = rows[0]
    assert unpaid["status"] == "unpaid" and source.is_overdue(unpaid, TODAY)
    assert not source.is_overdue(unpaid, unpaid["due_date"])


def test_detail_redacts_secrets(catalog):
    service = Service.get_by_id(ids_desc()[0])
    service.password = "encrypted-value"
    service.save()
    fields = dict(ServiceSource().detail(service.id))
    assert fields["password"] == "[secret]"
    assert fields["domain"] == service.domain
    assert fields["recurring_amount"] == service.recurring_amount
    assert ServiceSource().detail(10**9) is None


def test_dashboard_counts_match_the_tables(catalog):
    counts = dashboard_counts(TODAY)
    assert counts.services_by_status == {
        status: Service.select().where(Service.status == status).count()
        for status in ("active", "pending", "suspended", "terminated", "fraud")}
    assert counts.clients_active == 2
    assert (counts.invoices_unpaid, counts.invoices_overdue) == (1, 1)
    assert counts.cancellations_open == 1 and counts.module_jobs_waiting == 1
    assert counts.activity_today == 0


def run_row(status, finished, dry_run=False):
    return CronRun(run_date=TODAY, status=status, dry_run=dry_run, finished_at=finished)


def test_automation_warning_after_24_hours_without_a_successful_run():
    fresh = NOON.subtract(hours=23)
    stale = NOON.subtract(hours=25)
    assert automation_warning([run_row("succeeded", fresh)], NOON) is None
    assert "last 24 hours" in automation_warning([run_row("succeeded", stale)], NOON)
    assert "last 24 hours" in automation_warning(
        [run_row("failed", fresh), run_row("succeeded", stale)], NOON)
    assert "No successful" in automation_warning([run_row("succeeded", fresh, True)], NOON)
    assert "No successful" in automation_warning([], NOON)


def test_cron_run_summary_reads_the_stored_report(db):
    CronRun.create(run_date=TODAY, status="failed", report=(
        '{"tasks": {"invoices": {"done": 1200, "failures": []},'
        ' "email": {"done": 3, "failures": [{"item": "x", "error": "y"}]}}}'))
    row = CronRunSource().page(None, 1)[0]
    assert row["summary"] == "1,203 done, failed: email"


# --- pure helpers ------------------------------------------------------------------------


def test_plan_fetch_prefers_keyset_from_a_known_neighbour():
    known = {9: 91, 30: 70}.get
    assert plan_fetch(0, 20, 100, known) == FetchPlan("after", None, 0, 20)
    assert plan_fetch(10, 30, 100, known) == FetchPlan("after", 91, 10, 30)
    assert plan_fetch(12, 30, 100, known) == FetchPlan("before", 70, 12, 30)
    assert plan_fetch(80, 100, 100, known) == FetchPlan("before", None, 80, 100)
    assert plan_fetch(50, 60, 100, known) == FetchPlan("offset", None, 50, 60)
    short = FetchPlan("before", 70, 12, 30)
    assert short.first_index([{}] * 5) == 25  # a short backward page still ends at `end`


def test_columns_drop_by_priority_and_the_flexible_one_takes_the_rest():
    columns = (Column("id", "ID", 6, "id"), Column("name", "Name", 10, flex=True),
               Column("email", "Email", 20, priority=2), Column("city", "City", 10, priority=1),
               Column("status", "Status", 8, "status"))
    narrow = layout_columns(columns, 40)
    assert [c.key for c, _ in narrow] == ["id", "name", "city", "status"]
    assert sum(w for _, w in narrow) + 3 + 2 == 40
    wide = layout_columns(columns, 100)
    assert [c.key for c, _ in wide] == ["id", "name", "email", "city", "status"]
    assert dict((c.key, w) for c, w in wide)["name"] == 100 - 2 - 4 - 6 - 20 - 10 - 8


def test_cells_cut_with_an_ellipsis_and_format_money_dates_and_words():
    assert fit("example.com", 8) == "example…"
    assert fit("12", 5, right=True) == "   12"
    assert format_value(Decimal("1234.5"), "money", "USD") == "$1,234.50"
    assert format_value(pendulum.date(2026, 3, 1), "date") == "2026-03-01"
    assert format_value(pendulum.datetime(2026, 3, 1, 23, 5, tz="UTC"), "datetime") == \
        "2026-03-01 23:05"
    assert format_value("end_of_period", "label") == "end of period"
    assert format_value("two\nlines", "text") == "two lines"
    assert next_prefix("site-0") == "site-1"


@pytest.mark.parametrize("environ,expected", [
    ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, True),
    ({"TERM": "xterm-256color"}, False),
    ({"TERM": "xterm-direct"}, True),
    ({"TERM": "xterm-kitty"}, True),
    ({"TERM": "xterm-256color", "LC_TERMINAL": "iTerm2"}, True),
    ({"TERM": "screen"}, False),
])
def test_truecolor_is_recognised_from_what_ssh_forwards(environ, expected):
    assert terminal_has_truecolor(environ) is expected
    env = dict(environ)
    assert prefer_truecolor(env) is expected
    assert (env.get("COLORTERM") == "truecolor") is expected


def test_an_explicit_colour_choice_is_left_alone():
    env = {"TERM": "xterm-direct", "TEXTUAL_COLOR_SYSTEM": "256"}
    assert prefer_truecolor(env) is False and "COLORTERM" not in env


def test_terminal_alive_sees_a_hung_up_terminal(monkeypatch):
    import os
    import sys

    from hostdesk.tui.app import terminal_alive

    master, slave = os.openpty()
    with os.fdopen(slave, "r") as stdin:
        monkeypatch.setattr(sys, "__stdin__", stdin)
        assert terminal_alive()
        os.close(master)  # what sshd does when the connection drops
        assert not terminal_alive()
    monkeypatch.setattr(sys, "__stdin__", None)
    assert not terminal_alive()
