"""`hostdesk export` and models/export.py: a list's rows, its search applied, as CSV or JSON,
read in keyset pages (constant memory)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal

import pendulum
import pytest

from hostdesk.automation.identity import OsAccount
from hostdesk.models.db import bind, database
from hostdesk.models.export import CLI_LISTS, ExportCancelled, export_list, plain
from hostdesk.models.listing import SOURCES, ListFilter
from hostdesk.models.schema import ActivityLog, Admin, Client, Product, Service
from hostdesk.tui import cli
from hostdesk.tui.cli import main

BOSS = OsAccount(uid=os.getuid(), login="boss")
STAMP = pendulum.datetime(2026, 11, 1, 9, 30, tz="UTC")


def fill(services: int = 3000) -> None:
    Admin.create(login="boss", name="Boss", role="full", created_at=STAMP)
    clients = [Client.create(first_name="Mario", last_name="Rossi", company="Rossi & Figli",
                             email="mario@rossi.example", created_at=STAMP),
               Client.create(first_name="Ada", last_name="Lovelace", email="ada@ae.example",
                             created_at=STAMP)]
    product = Product.create(name="Shared, \"Basic\"")  # a comma and quotes for the CSV
    rows = [dict(client=clients[n % 2].id, product=product.id, domain=f"shop{n}.example",
                 username=f"u{n}", status=("active", "suspended")[n % 7 == 0],
                 registration_date=pendulum.date(2025, 1, 1), billing_cycle="monthly",
                 recurring_amount=Decimal("9.99") + n, next_due_date=pendulum.date(2026, 12, 1),
                 payment_method="banktransfer", created_at=STAMP, updated_at=STAMP)
            for n in range(services)]
    for start in range(0, len(rows), 500):
        Service.insert_many(rows[start:start + 500]).execute()
    ActivityLog.insert_many([dict(at=STAMP.add(minutes=n), admin_login="boss",
                                  action="service.edit", object_type="service", object_id=n + 1,
                                  description=f"changed note {n} of shop{n}.example")
                             for n in range(1200)]).execute()


def list_rows(name: str, flt: ListFilter) -> list[dict]:
    """What the list shows, page by page as the screen fetches them, as plain values."""
    source = SOURCES[name]()
    keys = [column.key for column in source.columns]
    rows, after = [], None
    while True:
        page = source.page(after, 50, flt)
        rows += [{key: plain(row[key]) for key in keys} for row in page]
        if len(page) < 50:
            return rows
        after = page[-1]["id"]


def export(db, db_url, *args) -> int:
    db.close()
    try:
        return main(["--db", db_url, "export", *args], os_account=BOSS)
    finally:
        bind(db_url).connect(reuse_if_open=True)


def test_the_cli_lists_match_the_models():
    assert cli.EXPORT_LISTS == CLI_LISTS


def test_export_csv_rows_equal_the_lists_rows_with_the_search_applied(db, db_url, tmp_path):
    fill()
    target = tmp_path / "services.csv"
    assert export(db, db_url, "services", "--filter", "rossi", "--format", "csv",
                  "--output", str(target)) == 0
    with open(target, newline="", encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    expected = list_rows("services", ListFilter("rossi"))
    assert len(expected) == 1500  # the services of Mario Rossi: found by his name
    assert exported == [{k: "" if v is None else str(v) for k, v in row.items()}
                        for row in expected]
    assert exported[0]["product"] == 'Shared, "Basic"'
    assert exported[0]["amount"] == str(Service.get_by_id(int(exported[0]["id"])).recurring_amount)
    assert not list(tmp_path.glob(".*partial"))


def test_export_json_of_every_list_the_cli_offers(db, db_url, tmp_path, capsys):
    fill(300)
    for name in CLI_LISTS:
        target = tmp_path / f"{name}.json"
        assert export(db, db_url, name, "--format", "json", "--output", str(target)) == 0
        assert json.loads(target.read_text()) == list_rows(name, ListFilter()), name
    capsys.readouterr()
    assert export(db, db_url, "activity", "--filter", "note 12", "--format", "json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == list_rows("activity", ListFilter("note 12"))
    assert {row["object"] for row in printed} >= {"service 13", "service 121"}


def test_export_refuses_a_stranger_and_an_unreadable_search(db, db_url, tmp_path, capsys):
    fill(10)
    db.close()
    stranger = OsAccount(uid=os.getuid(), login="mallory")
    target = tmp_path / "x.csv"
    code = main(["--db", db_url, "export", "clients", "--format", "csv", "--output",
                 str(target)], os_account=stranger)
    assert code == cli.EXIT_REFUSED and not target.exists()
    code = main(["--db", db_url, "export", "activity", "--filter", "since:2026-13-01",
                 "--format", "csv", "--output", str(target)], os_account=BOSS)
    assert code == cli.EXIT_USAGE and not target.exists()
    assert "since" in capsys.readouterr().err
    bind(db_url).connect(reuse_if_open=True)


def test_a_cancelled_export_stops_at_a_page(db):
    fill(2500)
    out = io.StringIO()
    seen = []
    with pytest.raises(ExportCancelled):
        export_list(SOURCES["services"](), ListFilter(), "csv", out,
                    progress=lambda done, total: seen.append((done, total)),
                    cancelled=lambda: len(seen) >= 1)
    assert seen == [(1000, 2500)]
    assert out.getvalue().count("\n") == 1001  # the header and one page


MEMORY_CHILD = textwrap.dedent("""
    import io, sys, tracemalloc
    from hostdesk.models.db import bind
    from hostdesk.models.export import export_list
    from hostdesk.models.listing import SOURCES, ListFilter

    class Discard(io.TextIOBase):
        def write(self, text):
            return len(text)

    bind(sys.argv[1]).connect()
    tracemalloc.start()
    result = export_list(SOURCES[sys.argv[2]](), ListFilter(), "csv", Discard())
    print(result.rows, tracemalloc.get_traced_memory()[1])
""")


def _export_peak(url: str, name: str) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, url, name], check=True,
                          capture_output=True, text=True)
    rows, peak = done.stdout.split()
    return int(rows), int(peak)


def test_export_memory_stays_bounded_at_50000_rows(db, db_url):
    """The peak is a page's worth whatever the size: 50,000 rows peak about as 5,000 do."""
    Admin.create(login="boss", role="full", created_at=STAMP)
    rows = [dict(at=STAMP, admin_login="boss", action="service.edit", object_type="service",
                 object_id=n, description=f"a change worth a line of text, number {n}")
            for n in range(50_000)]
    with database.atomic():
        for start in range(0, 5_000, 500):
            ActivityLog.insert_many(rows[start:start + 500]).execute()
    db.close()
    small_rows, small_peak = _export_peak(db_url, "activity")
    bind(db_url).connect(reuse_if_open=True)
    with database.atomic():
        for start in range(5_000, len(rows), 500):
            ActivityLog.insert_many(rows[start:start + 500]).execute()
    db.close()
    big_rows, big_peak = _export_peak(db_url, "activity")
    bind(db_url).connect(reuse_if_open=True)
    assert (small_rows, big_rows) == (5_000, 50_000)
    print(f"\nexport peak: {small_peak / 1e6:.1f} MB at 5,000 rows, "
          f"{big_peak / 1e6:.1f} MB at 50,000 rows")
    assert big_peak < 1.5 * small_peak + 1_000_000  # loosely: not ten times more
    assert big_peak < 20_000_000
