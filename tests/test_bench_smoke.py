"""`make bench` in miniature: a 300-service run of the whole suite on each engine.

Timings are not checked (they are benchmarks, not tests). What is checked: every figure is
produced (or says why it could not be measured), the JSON file holds them, and the daily
run and its plain-SQL floor end in the same state, so the ratio compares like with like.
"""

import json

import pytest

from bench.builder import BuildSpec, build
from bench.cron_child import BENCH_SECRET_KEY
from bench.databases import SqliteDatabases, close_database, open_database
from bench.floor import bill_due_with_plain_sql, end_state
from bench.suite import FIGURES, POSTGRES_SETTINGS, Options, format_table, run_suite
from hostdesk.models import keyring, secrets
from hostdesk.models.db import bind, database, migrate
from hostdesk.models.schema import Setting
from hostdesk.models.settings import Settings
from tests.pgserver import PostgresServer

SIZE = 300


@pytest.fixture(scope="module")
def suite_results(engine, tmp_path_factory, request):
    """One run of the suite per engine, shared by the tests that read its results."""
    tmp_path = tmp_path_factory.mktemp(f"bench-{engine}")
    server = request.getfixturevalue("pg_server") if engine == "postgres" else None
    options = Options(sizes=(SIZE,), engines=(engine,), out=tmp_path / "out" / "results.json",
                      cache_dir=tmp_path / "cache", tui_samples=2, normal_samples=3, pg_server=server,
                      headless_samples=1,
                      log=None)
    results = run_suite(options)
    yield results, json.loads(options.out.read_text())
    database.initialize(None)


def _measured(entry: dict) -> bool:
    if "not_measured" in entry:
        assert entry["not_measured"].strip(), "a skipped figure must say why"
        return False
    return True


def test_the_suite_produces_every_figure_and_writes_them(suite_results, engine):
    results, written = suite_results
    assert written["runs"] == json.loads(json.dumps(results["runs"], default=str))
    (run,) = written["runs"]
    assert (run["engine"], run["size"]) == (engine, SIZE)
    figures = run["figures"]
    assert set(figures) == set(FIGURES)

    daily = figures["daily"]
    assert _measured(daily)
    assert daily["seconds"] > 0 and daily["floor_seconds"] > 0
    assert daily["ratio"] == pytest.approx(daily["seconds"] / daily["floor_seconds"], rel=0.01)
    assert daily["with_email"]["seconds"] > 0 and daily["with_email"]["ratio"] > 0

    normal = figures["normal"]
    assert _measured(normal)
    assert normal["seconds"] > 0
    samples = normal["with_email"]["samples_seconds"]
    assert len(samples) == 3 and normal["seconds"] == sorted(samples)[1]  # the median
    # A normal day bills a slice of what a day with everything due bills.
    assert 0 < normal["invoices"] < daily["no_email"]["invoices"]

    memory = figures["memory"]
    assert _measured(memory)
    assert 10 < memory["peak_mb"] < 2000

    tui = figures["tui"]
    assert _measured(tui), tui  # a key the bench presses that no screen answers lands here
    for name in ("first_page_ms", "search_ms"):
        assert 0 < tui[name]["median"] <= tui[name]["p95"]
        assert tui[name]["samples"] == 2
    from bench.tui_bench import SCREENS
    assert set(tui["screens_ms"]) == set(SCREENS)  # every big screen's open is timed
    for opened in tui["screens_ms"].values():
        assert 0 < opened["median"] <= opened["p95"] and opened["samples"] == 2
        assert opened["ok"] == (opened["p95"] <= opened["limit"])
    assert 0 < tui["screen_floor_ms"]["median"]
    mass = figures["mass"]
    assert _measured(mass), mass
    assert mass["seconds"] > 0 and mass["services"] > 0

    headless = figures["headless"]
    assert _measured(headless), headless
    from bench.headless_bench import COMMANDS
    assert headless["failed"] == 0, headless["failures"]
    assert set(headless["commands"]) == set(COMMANDS)
    assert headless["p95_max_ms"] == max(c["p95"] for c in headless["commands"].values())
    for figure in headless["commands"].values():  # each command judged against the limit
        assert figure["limit_ms"] == 300.0 and figure["ok"] == (figure["p95"] <= 300.0)
        assert figure["cpu_median"] > 0
    assert headless["all_ok"] == all(c["ok"] for c in headless["commands"].values())
    assert headless["python_start"]["samples"] == len(COMMANDS)  # the bare start, beside
    whmcs = figures["whmcs"]
    assert _measured(whmcs)
    assert whmcs["services"] > 0 and whmcs["reconciled"] and whmcs["services_per_second"] > 0

    table = format_table(written)
    assert f"{SIZE:,}" in table and engine in table


def test_the_daily_run_and_the_floor_end_in_the_same_state(suite_results):
    _, written = suite_results
    daily = written["runs"][0]["figures"]["daily"]
    for variant in ("no_email", "with_email"):
        states = daily[variant]["end_state"]
        assert states["run"] == states["floor"]
        assert daily[variant]["same_end_state"] is True
        state = states["run"]
        # Real work was compared: many invoices, each with its activity row.
        assert state["invoices"] > SIZE // 10
        assert state["lines"] >= state["invoices"]
        assert state["invoice_activity_rows"] == state["invoices"]
        assert daily[variant]["invoices"] == state["invoices"]
        assert daily[variant]["lines"] == state["lines"]
    assert daily["no_email"]["end_state"]["run"]["invoice_emails"] == 0
    with_email = daily["with_email"]["end_state"]["run"]
    assert with_email["invoice_emails"] == with_email["invoices"]


def test_a_normal_day_and_its_floor_end_in_the_same_state(suite_results):
    """The normal day has its own floor: the first run of each variant is fingerprinted and
    must match it, so the normal day's ratio also compares like with like."""
    _, written = suite_results
    normal = written["runs"][0]["figures"]["normal"]
    assert normal["same_end_state"] is True
    for variant in ("with_email", "no_email"):
        figures = normal[variant]
        states = figures["end_state"]
        assert states["run"] == states["floor"] and figures["same_end_state"] is True
        assert 0 < states["run"]["invoices"] == figures["invoices"]
        assert figures["ratio"] == pytest.approx(figures["seconds"] / figures["floor"]["seconds"],
                                                 rel=0.01)
        assert figures["cpu_seconds"] > 0 and figures["floor"]["cpu_seconds"] > 0
    assert normal["with_email"]["end_state"]["run"]["invoice_emails"] == normal["invoices"]
    assert normal["no_email"]["end_state"]["run"]["invoice_emails"] == 0


def test_two_workers_end_as_one_does(suite_results, engine):
    """`--workers 2` is measured on PostgreSQL only, and must bill exactly what one worker
    bills; SQLite says why it is not measured."""
    _, written = suite_results
    workers = written["runs"][0]["figures"]["workers"]
    if engine == "sqlite":
        assert "PostgreSQL" in workers["not_measured"]
        return
    assert workers["same_end_state"] is True
    assert workers["two_workers"]["invoices"] == workers["one_worker"]["invoices"] > 0
    # The speed-up is printed to two places, so it may differ from the ratio of the
    # printed seconds by half a hundredth.
    assert workers["speedup"] == pytest.approx(
        workers["one_worker"]["seconds"] / workers["two_workers"]["seconds"], abs=0.006)
    assert workers["limited_by"]


def test_the_end_state_fingerprint_sees_a_missing_line_and_a_moved_due_date(db):
    spec = BuildSpec(SIZE, spread_days=1)
    build(db, spec)
    before = db.execute_sql("SELECT MAX(id) FROM invoice").fetchone()[0]
    bill_due_with_plain_sql(db, spec.run_date, Settings())
    state = end_state(db, before)
    assert state["invoices"] > 0

    db.execute_sql("DELETE FROM invoice_line WHERE id = (SELECT MAX(id) FROM invoice_line)")
    without_line = end_state(db, before)
    assert without_line["lines"] == state["lines"] - 1
    assert without_line["lines_sha256"] != state["lines_sha256"]
    assert without_line["ndd_sha256"] == state["ndd_sha256"]

    db.execute_sql("UPDATE service SET next_due_date = '2030-01-01' WHERE id = 1")
    assert end_state(db, before)["ndd_sha256"] != state["ndd_sha256"]


def test_the_floor_bills_nothing_twice(db):
    """Run again on the same day, the floor finds every due item already billed (like cron)."""
    spec = BuildSpec(SIZE, spread_days=1)
    build(db, spec)
    first = bill_due_with_plain_sql(db, spec.run_date, Settings())
    again = bill_due_with_plain_sql(db, spec.run_date, Settings())
    assert first.invoices > 0 and again.invoices == 0 and again.lines == 0


def test_the_builder_is_deterministic(tmp_path):
    def content(path):
        real = bind(f"sqlite:///{path}")
        real.connect()
        migrate(real)
        build(real, BuildSpec(SIZE, seed=3))
        rows = [real.execute_sql(f"SELECT * FROM {table} ORDER BY id").fetchall()
                for table in ("client", "service", "service_addon", "domain", "invoice",
                              "invoice_line")]
        real.close()
        database.initialize(None)
        return rows

    first = content(tmp_path / "one.db")
    assert first[1] and first[5]  # services and invoice lines were built
    assert content(tmp_path / "two.db") == first


def test_each_limit_is_checked_on_its_engine_and_printed_with_it():
    """Issue 21's limits: the all-due ratio is held to 2.0 on SQLite and 2.5 on PostgreSQL,
    the normal day to 5 s and 8 s; figures without a limit are printed as reported."""
    from bench.suite import LIMIT_SIZE, check_limits

    def run(engine, ratio, normal_seconds):
        return {"engine": engine, "size": LIMIT_SIZE, "figures": {
            "daily": {"no_email": {"ratio": ratio}, "with_email": {"ratio": ratio}},
            "normal": {"seconds": normal_seconds, "with_email": {"ratio": 1.4},
                       "no_email": {"ratio": 1.2}},
            "memory": {"peak_mb": 149.0},
            "workers": {"speedup": 1.3}}}

    checks = check_limits([run("sqlite", 2.2, 4.0), run("postgres", 2.2, 7.5),
                           {**run("sqlite", 9.0, 99.0), "size": 1000}])  # not at 1M: unchecked
    found = {(c["engine"], c["figure"]): c for c in checks}
    ratio = "daily run, all due: ratio to the plain-SQL floor"
    normal = "normal day's run, invoice emails"
    assert (found["sqlite", ratio]["limit"], found["sqlite", ratio]["ok"]) == (2.0, False)
    assert (found["postgres", ratio]["limit"], found["postgres", ratio]["ok"]) == (2.5, True)
    assert (found["sqlite", normal]["ok"], found["postgres", normal]["ok"]) == (True, True)
    assert found["postgres", "daily run, all due: peak memory"]["ok"] is True
    speedup = found["postgres", "daily run, all due: --workers 2 speed-up over one worker"]
    assert (speedup["value"], speedup["limit"], speedup["ok"]) == (1.3, None, None)
    assert ("sqlite", "daily run, all due: --workers 2 speed-up over one worker") not in found
    assert len(checks) == len({(c["engine"], c["figure"]) for c in checks})

    table = format_table({"runs": [], "limits": checks})
    assert ("OVER sqlite   daily run, all due: ratio to the plain-SQL floor: 2.2× (limit: at most "
            "2×; run of 1,000,000)") in table
    assert ("ok   postgres daily run, all due: ratio to the plain-SQL floor: 2.2× (limit: at most "
            "2.5×; run of 1,000,000)") in table
    assert ("info postgres daily run, all due: --workers 2 speed-up over one worker: 1.3× "
            "(no limit: reported; run of 1,000,000)") in table


def test_a_server_started_with_settings_runs_with_them(suite_results, engine):
    """The bench's own PostgreSQL server is tuned as a host would tune it; the settings reach
    the server and are written beside the figures."""
    _, written = suite_results
    assert written["postgres_settings"] == POSTGRES_SETTINGS
    if engine == "sqlite":
        return
    server = PostgresServer(settings={"shared_buffers": "48MB", "work_mem": "7MB"}).start()
    try:
        assert server.admin_sql("SELECT current_setting('shared_buffers'), "
                                "current_setting('work_mem')") == [("48MB", "7MB")]
    finally:
        server.stop()


def test_a_bench_copy_holds_the_bench_key_as_a_hosts_database_does(tmp_path):
    """A measured command finds its key recorded, as on a database any command has opened
    before; a base cached without it gets it on its next copy."""
    def recorded_key(url):
        db = open_database(url)
        try:
            return keyring.stored_fingerprint()
        finally:
            close_database(db)

    (tmp_path / "work").mkdir()
    dbs = SqliteDatabases(tmp_path / "work", tmp_path / "cache")
    spec = BuildSpec(SIZE, seed=3)
    assert recorded_key(dbs.copy(spec, "first")) == secrets.fingerprint(BENCH_SECRET_KEY)
    base = open_database(f"sqlite:///{dbs.base(spec)['path']}")
    try:
        Setting.delete().where(Setting.key == keyring.FINGERPRINT).execute()
    finally:
        close_database(base)
    assert recorded_key(dbs.copy(spec, "second")) == secrets.fingerprint(BENCH_SECRET_KEY)


def test_the_whmcs_rate_is_judged_on_the_engine_and_size_its_limit_is_for():
    from bench.suite import LIMITS, whmcs_verdict

    limit = next(lim for lim in LIMITS if lim.path == ("whmcs", "services_per_second"))
    assert whmcs_verdict(5500, 100_000, "sqlite", limit) == (True, "ok")
    assert whmcs_verdict(4900, 100_000, "sqlite", limit) == (False, "FAIL")
    assert whmcs_verdict(2200, 100_000, "postgres", limit) == (None, "no limit on postgres")
    assert whmcs_verdict(900, 300, "sqlite", limit) == (None, "not judged below 100,000")
