"""The benchmark suite: for each engine and size, the figures of issues 8 and 21.

- daily:  the daily run with every item due the same day, against the plain-SQL floor of
          the same writes measured in the same run (without and with invoice emails); the
          two end states are fingerprinted and must match.
- normal: a normal day's run (next due dates spread over a month: ~1/30 billed), against
          the floor of the same day (median of a few runs and floors, taken in turn); the
          first run's end state must match the floor's.
- tui:    services list first page and search-to-results times, and the time to open
          each big screen from a list (Pilot).
- mass:   mass update of 10,000 selected services.
- memory: the daily run's peak resident memory (the child process's ru_maxrss).
- headless: each command a client portal or payment gateway calls, as a new process.
- whmcs:  `hostdesk import whmcs` from a MariaDB WHMCS host: services per second (issue 16;
          at most 100,000 services).
- workers: everything due, `hostdesk cron --workers 2` against one worker (PostgreSQL only:
          SQLite admits one writer at a time); both must end in the same state.

A figure that cannot be measured yet (its code is not written) is recorded as
`{"not_measured": reason}`; the suite never stops for it.
"""

from __future__ import annotations

import compileall
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench.builder import BuildSpec
from bench.cron_child import run_cron
from bench.databases import PostgresDatabases, SqliteDatabases, close_database, open_database
from bench.floor import bill_due_with_plain_sql, end_state
from bench.tui_bench import SCREEN_LIMIT_MS, SCREENS, screen_lines
from hostdesk.models.settings import Settings

FIGURES = ("daily", "normal", "tui", "mass", "memory", "headless", "whmcs", "workers")
ENGINES = ("sqlite", "postgres")
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)

# The limits (issues 8, 16, 17, 18 and 21), each checked on the engines it names, at 1M unless
# it names another size.
LIMIT_SIZE = 1_000_000
BOTH = ("sqlite", "postgres")


@dataclass(frozen=True)
class Limit:
    figure: str
    path: tuple  # where the value sits in a run's figures
    limit: float | None  # None: the figure is reported, it has no limit
    unit: str
    below: bool = True  # the value must be at most the limit
    engines: tuple = ("sqlite",)  # the engines the limit is checked on
    size: int = LIMIT_SIZE  # checked on each engine's smallest run of at least this size


LIMITS = (
    Limit("daily run, all due: ratio to the plain-SQL floor", ("daily", "no_email", "ratio"),
          2.0, "×"),
    Limit("daily run, all due: ratio to the plain-SQL floor", ("daily", "no_email", "ratio"),
          2.5, "×", engines=("postgres",)),
    Limit("daily run, all due, invoice emails: ratio to the floor",
          ("daily", "with_email", "ratio"), 2.0, "×"),
    Limit("daily run, all due, invoice emails: ratio to the floor",
          ("daily", "with_email", "ratio"), 2.5, "×", engines=("postgres",)),
    Limit("daily run, all due: peak memory", ("memory", "peak_mb"), 150.0, " MB", engines=BOTH),
    Limit("normal day's run, invoice emails", ("normal", "seconds"), 5.0, " s"),
    Limit("normal day's run, invoice emails", ("normal", "seconds"), 8.0, " s",
          engines=("postgres",)),
    Limit("normal day, invoice emails: ratio to the floor", ("normal", "with_email", "ratio"),
          None, "×", engines=BOTH),
    Limit("normal day, no emails: ratio to the floor", ("normal", "no_email", "ratio"),
          None, "×", engines=BOTH),
    Limit("daily run, all due: --workers 2 speed-up over one worker", ("workers", "speedup"),
          None, "×", engines=("postgres",)),
    Limit("services list: first page (p95)", ("tui", "first_page_ms", "p95"), 100.0, " ms",
          engines=BOTH),
    Limit("services list: search results (p95)", ("tui", "search_ms", "p95"), 100.0, " ms",
          engines=BOTH),
    *(Limit(f"open the {name.replace('_', ' ')} (p95)", ("tui", "screens_ms", name, "p95"),
            SCREEN_LIMIT_MS, " ms", engines=BOTH) for name in SCREENS),
    Limit("mass update of 10,000 services", ("mass", "seconds"), 2.0, " s"),
    Limit("headless commands: slowest p95 (process included)", ("headless", "p95_max_ms"),
          300.0, " ms"),
    Limit("WHMCS import (100,000 services)", ("whmcs", "services_per_second"), 5000.0,
          " services/s", below=False, size=100_000),
)


class NotMeasured(Exception):
    """The figure cannot be measured (yet): the reason goes in the results."""


@dataclass
class Options:
    sizes: tuple = DEFAULT_SIZES
    engines: tuple = ENGINES
    only: tuple = FIGURES
    out: Path = Path("bench-results/results.json")
    cache_dir: Path = Path("bench-results/cache")
    tui_samples: int = 30
    headless_samples: int = 20  # requests per headless command
    normal_samples: int = 3  # normal-day runs per variant; the median is the figure
    mass_count: int = 10_000
    email_variant: bool = True  # also run the daily run with invoice emails
    cron_timeout: float = 3600.0  # a daily run still going after this is stopped and reported
    rebuild: bool = False
    pg_server: object = None  # a running tests.pgserver.PostgresServer to use
    log: object = field(default=sys.stderr)


def _say(options: Options, text: str) -> None:
    if options.log is not None:
        print(text, file=options.log, flush=True)


def _round(value, places=3):
    return round(value, places) if isinstance(value, float) else value


# --- the figures ----------------------------------------------------------------------------


def _max_invoice_id(url: str) -> int:
    db = open_database(url)
    try:
        return db.execute_sql("SELECT COALESCE(MAX(id), 0) FROM invoice").fetchone()[0]
    finally:
        close_database(db)


def _floor(dbs, spec: BuildSpec, workdir: Path, *, emails: bool) -> tuple[dict, dict]:
    url = dbs.copy(spec, f"floor_{spec.services}")
    try:
        before = _max_invoice_id(url)
        db = open_database(url)
        try:
            result = bill_due_with_plain_sql(db, spec.run_date, Settings(), with_email=emails)
            state = end_state(db, before)
        finally:
            close_database(db)
    finally:
        dbs.drop(url)
    figures = {"seconds": _round(result.seconds["total"]),
               "select_seconds": _round(result.seconds["select"]),
               "plan_seconds": _round(result.seconds["plan"]),
               "write_seconds": _round(result.seconds["write"]),
               "cpu_seconds": _round(result.seconds["cpu"]),
               "invoices": result.invoices, "lines": result.lines}
    return figures, state


def _cron(dbs, spec: BuildSpec, workdir: Path, *, emails: bool, fingerprint: bool = True,
          timeout: float | None = None, workers: int = 1):
    url = dbs.copy(spec, f"cron_{spec.services}")
    try:
        before = _max_invoice_id(url) if fingerprint else 0
        run = run_cron(url, spec.run_date, workdir, emails=emails, timeout=timeout,
                       workers=workers)
        state = None
        if fingerprint and not run.timed_out:
            db = open_database(url)
            try:
                state = end_state(db, before)
            finally:
                close_database(db)
    finally:
        dbs.drop(url)
    return run, state


def _cpu_ratio(run, floor: dict):
    """CPU against CPU: steadier than wall time on a machine shared with other work. On
    SQLite both do all their work in their own process; on PostgreSQL the server's share of
    the work is in neither figure."""
    return _round(run.cpu_seconds / floor["cpu_seconds"], 2) if floor.get("cpu_seconds") else None


def _cron_figures(run) -> dict:
    if run.timed_out:
        return {"seconds": _round(run.seconds), "timed_out": True, "peak_mb": _round(run.peak_mb, 1),
                "note": f"stopped after {run.seconds:.0f} s: the run takes longer (seconds is a "
                        f"lower bound, peak_mb the peak until then)"}
    if run.report is None:
        raise RuntimeError(f"hostdesk cron printed no report (exit {run.exit_code}): "
                           f"{run.stderr.strip()[-300:]}")
    figures = {"seconds": _round(run.seconds), "peak_mb": _round(run.peak_mb, 1),
               "cpu_seconds": _round(run.cpu_seconds), "invoices": run.invoices,
               "lines": run.lines, "exit_code": run.exit_code}
    failures = run.failures()
    if failures:
        figures["task_failures"] = failures[:5]
    return figures


def measure_daily(dbs, size: int, workdir: Path, options: Options) -> dict:
    """Everything due the same day: the run against its floor, without and with emails."""
    spec = BuildSpec(size, spread_days=1)
    result = {"run_date": spec.run_date.isoformat()}
    variants = [("no_email", False)] + ([("with_email", True)] if options.email_variant else [])
    for name, emails in variants:
        floor, floor_state = _floor(dbs, spec, workdir, emails=emails)
        run, run_state = _cron(dbs, spec, workdir, emails=emails, timeout=options.cron_timeout)
        figures = _cron_figures(run)
        figures["floor"] = floor
        figures["ratio"] = _round(run.seconds / floor["seconds"], 2) if floor["seconds"] else None
        figures["cpu_ratio"] = _cpu_ratio(run, floor)
        figures["same_end_state"] = None if run.timed_out else floor_state == run_state
        figures["end_state"] = {"run": run_state, "floor": floor_state}
        result[name] = figures
        _say(options, f"    daily {name}: {run.seconds:.2f} s{' (stopped: timeout)' if run.timed_out else ''}"
                      f" vs floor {floor['seconds']:.2f} s (×{figures['ratio']}), "
                      f"same end state: {figures['same_end_state']}; CPU {run.cpu_seconds:.2f} s vs "
                      f"{floor['cpu_seconds']:.2f} s (×{figures['cpu_ratio']})")
    main = result["no_email"]
    result.update(seconds=main["seconds"], floor_seconds=main["floor"]["seconds"],
                  ratio=main["ratio"], timed_out=bool(main.get("timed_out")),
                  same_end_state=all(result[name]["same_end_state"] is not False
                                     for name, _ in variants))
    return result


def _median(items: list, key=lambda item: item):
    return sorted(items, key=key)[len(items) // 2]


def measure_normal(dbs, size: int, workdir: Path, options: Options) -> dict:
    """A normal day: next due dates spread over a month, about 1/30 billed, against the
    plain-SQL floor of the same day. Runs and floors are taken in turn, so a change of the
    machine's load meanwhile weighs on both; the first run is fingerprinted."""
    spec = BuildSpec(size, spread_days=30)
    result = {"run_date": spec.run_date.isoformat()}
    for name, emails in (("with_email", True), ("no_email", False)):
        # A short run, so the median of a few: the same run swung 7.7-12.5 s within an hour
        # on this machine.
        runs, floors, run_state, floor_state = [], [], None, None
        for sample in range(options.normal_samples):
            floor, state = _floor(dbs, spec, workdir, emails=emails)
            floors.append(floor)
            floor_state = floor_state or state
            run, state = _cron(dbs, spec, workdir, emails=emails, fingerprint=sample == 0,
                               timeout=options.cron_timeout)
            runs.append(run)
            run_state = run_state or state
        run = _median(runs, key=lambda r: r.seconds)
        floor = _median(floors, key=lambda f: f["seconds"])
        figures = result[name] = _cron_figures(run)
        figures["samples_seconds"] = [_round(r.seconds) for r in runs]
        figures["floor"] = {**floor, "samples_seconds": [f["seconds"] for f in floors]}
        figures["ratio"] = _round(run.seconds / floor["seconds"], 2) if floor["seconds"] else None
        figures["cpu_ratio"] = _cpu_ratio(run, floor)
        figures["same_end_state"] = None if run_state is None else run_state == floor_state
        figures["end_state"] = {"run": run_state, "floor": floor_state}
        _say(options, f"    normal {name}: {run.seconds:.2f} s (median of "
                      f"{', '.join(f'{r.seconds:.2f}' for r in runs)}), {run.invoices} invoices; "
                      f"floor {floor['seconds']:.2f} s (×{figures['ratio']}), "
                      f"same end state: {figures['same_end_state']}; CPU {run.cpu_seconds:.2f} s "
                      f"vs {floor['cpu_seconds']:.2f} s (×{figures['cpu_ratio']})")
    result.update(seconds=result["with_email"]["seconds"],
                  floor_seconds=result["with_email"]["floor"]["seconds"],
                  ratio=result["with_email"]["ratio"],
                  timed_out=bool(result["with_email"].get("timed_out")),
                  invoices=result["with_email"].get("invoices"),
                  same_end_state=all(result[n]["same_end_state"] is not False
                                     for n in ("with_email", "no_email")))
    return result


def measure_workers(dbs, size: int, workdir: Path, options: Options) -> dict:
    """Everything due, no emails: `--workers 2` against one worker, one after the other."""
    if dbs.engine != "postgres":
        raise NotMeasured("--workers needs PostgreSQL (SQLite admits one writer at a time)")
    spec = BuildSpec(size, spread_days=1)
    one, one_state = _cron(dbs, spec, workdir, emails=False, timeout=options.cron_timeout)
    two, two_state = _cron(dbs, spec, workdir, emails=False, timeout=options.cron_timeout,
                           workers=2)
    result = {"one_worker": _cron_figures(one), "two_workers": _cron_figures(two),
              "seconds": _round(two.seconds),
              "speedup": _round(one.seconds / two.seconds, 2) if two.seconds else None,
              "same_end_state": None if two_state is None else one_state == two_state,
              "cpus": os.cpu_count(),
              "limited_by": "the machine's cores, shared by the run, its helper and the "
                            "PostgreSQL server's own work (index and WAL writes); the "
                            "choice of chunks before the helpers start and the tasks after "
                            "the invoicing are one process's work"}
    _say(options, f"    workers: 1 worker {one.seconds:.2f} s, 2 workers {two.seconds:.2f} s "
                  f"(×{result['speedup']}), same end state: {result['same_end_state']}")
    return result


def measure_memory(dbs, size: int, workdir: Path, options: Options, daily: dict | None) -> dict:
    if daily and "no_email" in daily:
        variants = {name: daily[name] for name in ("no_email", "with_email") if name in daily}
        peaks = {name: figures["peak_mb"] for name, figures in variants.items()}
        stopped = any(figures.get("timed_out") for figures in variants.values())
    else:
        run, _ = _cron(dbs, BuildSpec(size, spread_days=1), workdir, emails=False,
                       fingerprint=False, timeout=options.cron_timeout)
        peaks = {"no_email": _round(run.peak_mb, 1)}
        stopped = run.timed_out
    result = {"peak_mb": max(peaks.values()), "by_variant": peaks,
              "how": "ru_maxrss of the `hostdesk cron` child (os.wait4), everything due"}
    if stopped:
        result["note"] = "a run was stopped at the timeout: its peak is the peak until then"
    return result


def measure_tui(dbs, size: int, workdir: Path, options: Options) -> dict:
    from bench.tui_bench import measure

    url = dbs.copy(BuildSpec(size, spread_days=30), f"tui_{size}")
    try:
        return measure(url, BuildSpec(size).run_date, samples=options.tui_samples)
    finally:
        dbs.drop(url)


def measure_headless(dbs, size: int, workdir: Path, options: Options) -> dict:
    from bench.headless_bench import measure

    spec = BuildSpec(size, spread_days=30)
    url = dbs.copy(spec, f"headless_{size}")
    try:
        return measure(url, spec.run_date, samples=options.headless_samples, log=options.log)
    finally:
        dbs.drop(url)


def whmcs_verdict(rate: float, size: int, engine: str, limit: Limit) -> tuple:
    """(meets the limit, what the progress line says): None when the limit does not judge
    this run: another engine's, or fewer services than the limit is for."""
    from bench.whmcs_bench import WHMCS_MAX_SIZE

    if engine not in limit.engines:
        return None, f"no limit on {engine}"
    if size < WHMCS_MAX_SIZE:
        return None, f"not judged below {WHMCS_MAX_SIZE:,}"
    return (True, "ok") if rate >= limit.limit else (False, "FAIL")


def measure_whmcs(dbs, size: int, workdir: Path, options: Options) -> dict:
    from bench.whmcs_bench import measure

    figure = measure(dbs, size)
    limit = next(lim for lim in LIMITS if lim.path == ("whmcs", "services_per_second"))
    rate = figure["services_per_second"] or 0
    figure["limit_services_per_second"] = limit.limit
    figure["meets_limit"], verdict = whmcs_verdict(rate, size, dbs.engine, limit)
    _say(options, f"    whmcs import: {figure['services']:,} services in {figure['seconds']} s, "
                  f"{rate:,} services/s (limit: at least {limit.limit:,.0f}): {verdict}; "
                  f"importer CPU {figure['importer_cpu_seconds']} s (mapping "
                  f"{figure['mapping_cpu_seconds']} s, writer {figure['writer_cpu_seconds']} s), "
                  f"load average "
                  f"{figure['load_average_before']} before")
    return figure


def measure_mass(dbs, size: int, workdir: Path, options: Options) -> dict:
    from bench.mass_bench import measure

    spec = BuildSpec(size, spread_days=30)
    return measure(lambda: dbs.copy(spec, f"mass_{size}"), dbs.drop, spec.run_date,
                   count=min(options.mass_count, size))


# --- the run ------------------------------------------------------------------------------


# The bench's own server is set up as a host sets up a database server of its own: shared
# buffers of 2 GB (PostgreSQL's guide: up to a quarter of the memory of a dedicated server)
# rather than the 128 MB that initdb writes. With 128 MB a normal day's
# writes of 1M services are mostly buffer evictions and WAL flushes: the plain-SQL floor took
# 7.6 s there against 5.0 s with 2 GB. The floor and hostdesk run on the same server.
POSTGRES_SETTINGS = {"shared_buffers": "2GB"}


def _engine_databases(engine: str, workdir: Path, options: Options):
    if engine == "sqlite":
        return SqliteDatabases(workdir, options.cache_dir, rebuild=options.rebuild)
    if engine == "postgres":
        server = options.pg_server
        own = server is None
        if own:
            from tests.pgserver import PostgresServer

            # The server's data lives beside the SQLite bases, so a 1M base is built once.
            server = PostgresServer(keep_in=options.cache_dir / "postgres",
                                    settings=POSTGRES_SETTINGS).start()
        return PostgresDatabases(server, own_server=own, keep_bases=own,
                                 rebuild=options.rebuild)
    raise ValueError(f"unknown engine {engine!r}: use sqlite or postgres")


def _guarded(figure: str, measure, options: Options) -> dict:
    """Run one measurement; a missing piece or a crash becomes a `not_measured` entry."""
    started = time.perf_counter()
    try:
        result = measure()
    except NotMeasured as exc:
        result = {"not_measured": str(exc)}
    except Exception as exc:  # a benchmark reports, it does not stop the other figures
        result = {"not_measured": f"{figure} crashed: {type(exc).__name__}: {exc}",
                  "trace": traceback.format_exc(limit=6)}
    if "not_measured" in result:
        _say(options, f"    {figure}: not measured: {result['not_measured']}")
    result.setdefault("bench_seconds", round(time.perf_counter() - started, 2))
    # The machine may be shared: the load says how much to trust absolute times.
    result.setdefault("load_average_after", [round(x, 2) for x in os.getloadavg()])
    return result


def run_engine(engine: str, options: Options, workdir: Path, runs: list[dict],
               save=lambda: None) -> list[dict]:
    """Measure every size on `engine`, appending to `runs` (and saving) as each is done."""
    dbs = _engine_databases(engine, workdir, options)
    try:
        for size in options.sizes:
            _say(options, f"== {engine}, {size:,} services")
            entry = {"engine": engine, "size": size, "figures": {}}
            figures = entry["figures"]
            build_specs = []
            if {"daily", "memory"} & set(options.only) or (
                    "workers" in options.only and engine == "postgres"):
                build_specs.append(BuildSpec(size, spread_days=1))
            if {"normal", "tui", "mass", "headless"} & set(options.only):
                build_specs.append(BuildSpec(size, spread_days=30))
            entry["build"] = {}
            for spec in build_specs:
                started = time.perf_counter()
                info = dbs.base(spec)
                key = "all_due" if spec.spread_days == 1 else "spread"
                entry["build"][key] = {k: v for k, v in info.items() if k != "path"}
                _say(options, f"    build {key}: {'cached' if info.get('cached') else ''} "
                              f"{time.perf_counter() - started:.1f} s, {info['megabytes']} MB")
            case_dir = workdir / f"{engine}-{size}"
            if "daily" in options.only:
                figures["daily"] = _guarded("daily", lambda: measure_daily(
                    dbs, size, case_dir, options), options)
            if "normal" in options.only:
                figures["normal"] = _guarded("normal", lambda: measure_normal(
                    dbs, size, case_dir, options), options)
            if "tui" in options.only:
                figures["tui"] = _guarded("tui", lambda: measure_tui(
                    dbs, size, case_dir, options), options)
            if "mass" in options.only:
                figures["mass"] = _guarded("mass", lambda: measure_mass(
                    dbs, size, case_dir, options), options)
            if "headless" in options.only:
                figures["headless"] = _guarded("headless", lambda: measure_headless(
                    dbs, size, case_dir, options), options)
            if "whmcs" in options.only:
                figures["whmcs"] = _guarded("whmcs", lambda: measure_whmcs(
                    dbs, size, case_dir, options), options)
            if "workers" in options.only:
                figures["workers"] = _guarded("workers", lambda: measure_workers(
                    dbs, size, case_dir, options), options)
            if "memory" in options.only:
                daily = figures.get("daily")
                figures["memory"] = _guarded("memory", lambda: measure_memory(
                    dbs, size, case_dir, options, daily if daily and "not_measured" not in daily
                    else None), options)
            runs.append(entry)
            save()
    finally:
        dbs.close()
    return runs


def _value(figures: dict, path: tuple):
    value = figures
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def check_limits(runs: list[dict]) -> list[dict]:
    """Each limit's figure at LIMIT_SIZE on its engines; a limit of None is only reported."""
    checks = []
    for limit in LIMITS:
        for engine in limit.engines:
            sizes = [run["size"] for run in runs if run["engine"] == engine
                     and run["size"] >= limit.size and limit.path[0] in run["figures"]]
            for run in runs:
                if run["engine"] != engine or not sizes or run["size"] != min(sizes):
                    continue
                entry = run["figures"][limit.path[0]]
                value = _value(run["figures"], limit.path)
                # A run stopped at the timeout gives a lower bound: it can prove "over", not
                # "ok".
                lower_bound = bool(entry.get("timed_out") or (limit.path[0] == "memory"
                                                              and entry.get("note")))
                ok = None if value is None or limit.limit is None else (
                    value <= limit.limit if limit.below else value >= limit.limit)
                if lower_bound and ok:
                    ok = None
                checks.append({"figure": limit.figure, "engine": run["engine"], "value": value,
                               "limit": limit.limit, "unit": limit.unit, "ok": ok,
                               "lower_bound": lower_bound, "below": limit.below,
                               "size": run["size"],
                               "note": entry.get("not_measured") or entry.get("note", "")})
    return checks


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        with open("/proc/meminfo") as handle:
            info["memory_gb"] = round(int(handle.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def compile_package() -> None:
    """Write the bytecode of hostdesk's packages, as pip does at install: every figure times
    hostdesk as installed (an editable checkout run with PYTHONDONTWRITEBYTECODE would
    otherwise compile each changed module in every process: a headless request, the daily
    run and its planning process)."""
    import hostdesk.automation
    import hostdesk.models
    import hostdesk.tui

    for package in (hostdesk.models, hostdesk.automation, hostdesk.tui):
        for directory in package.__path__:
            compileall.compile_dir(directory, quiet=1)


def run_suite(options: Options) -> dict:
    unknown = set(options.only) - set(FIGURES)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}: choose from {', '.join(FIGURES)}")
    started = dt.datetime.now(dt.timezone.utc)
    results = {"started_at": started.isoformat(timespec="seconds"), "finished_at": None,
               "machine": machine(), "postgres_settings": POSTGRES_SETTINGS,
               "sizes": list(options.sizes),
               "engines": list(options.engines), "figures": list(options.only), "runs": [],
               "limits": []}

    def save() -> None:  # after every size, so a long run that is stopped keeps its figures
        results["limits"] = check_limits(results["runs"])
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(results, indent=2, default=str) + "\n")

    compile_package()
    with tempfile.TemporaryDirectory(prefix="hostdesk-bench-") as tmp:
        for engine in options.engines:
            run_engine(engine, options, Path(tmp), results["runs"], save)
    results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    save()
    return results


# --- the table -----------------------------------------------------------------------------


def _cell(figures: dict, figure: str, path: tuple, fmt: str) -> str:
    entry = figures.get(figure)
    if entry is None:
        return "-"
    if "not_measured" in entry:
        return "not measured"
    value = _value(entry, path)
    container = _value(entry, path[:-1]) if len(path) > 1 else entry
    lower_bound = ">" if (isinstance(container, dict) and container.get("timed_out")
                          and path[-1] in ("seconds", "ratio")) else ""
    return lower_bound + fmt.format(value) if isinstance(value, (int, float)) else "-"


TABLE_COLUMNS = (
    ("daily s", "daily", ("seconds",), "{:.2f}"),
    ("floor s", "daily", ("floor_seconds",), "{:.2f}"),
    ("ratio", "daily", ("ratio",), "×{:.1f}"),
    ("CPU ratio", "daily", ("no_email", "cpu_ratio"), "×{:.1f}"),
    ("+email s", "daily", ("with_email", "seconds"), "{:.2f}"),
    ("+email ratio", "daily", ("with_email", "ratio"), "×{:.1f}"),
    ("normal s", "normal", ("seconds",), "{:.2f}"),
    ("normal floor s", "normal", ("floor_seconds",), "{:.2f}"),
    ("normal ratio", "normal", ("ratio",), "×{:.1f}"),
    ("normal CPU s", "normal", ("with_email", "cpu_seconds"), "{:.2f}"),
    ("page p50/p95 ms", "tui", ("first_page_ms", "p95"), "{:.0f}"),
    ("search p95 ms", "tui", ("search_ms", "p95"), "{:.0f}"),
    ("mass s", "mass", ("seconds",), "{:.2f}"),
    ("peak MB", "memory", ("peak_mb",), "{:.0f}"),
    ("headless p95 ms", "headless", ("p95_max_ms",), "{:.0f}"),
    ("whmcs svc/s", "whmcs", ("services_per_second",), "{:.0f}"),
    ("2 workers s", "workers", ("seconds",), "{:.2f}"),
    ("speed-up", "workers", ("speedup",), "×{:.2f}"),
)


def format_table(results: dict) -> str:
    header = ["engine", "services"] + [c[0] for c in TABLE_COLUMNS]
    rows = [header]
    notes = []
    for run in results["runs"]:
        figures = run["figures"]
        row = [run["engine"], f"{run['size']:,}"]
        for title, figure, path, fmt in TABLE_COLUMNS:
            if title.startswith("page"):
                entry = figures.get("tui") or {}
                if "not_measured" in entry or not entry:
                    row.append("not measured" if entry else "-")
                    continue
                page = entry.get("first_page_ms", {})
                row.append(f"{page.get('median', 0):.0f}/{page.get('p95', 0):.0f}")
                continue
            row.append(_cell(figures, figure, path, fmt))
        rows.append(row)
        for figure, entry in figures.items():
            if isinstance(entry, dict) and "not_measured" in entry:
                notes.append(f"{run['engine']} {run['size']:,} {figure}: not measured: "
                             f"{entry['not_measured']}")
            elif figure in ("daily", "normal") and entry.get("same_end_state") is False:
                notes.append(f"{run['engine']} {run['size']:,} {figure}: the run and the floor "
                             f"ended in different states: "
                             f"{ {n: entry.get(n, {}).get('end_state') for n in ('no_email', 'with_email')} }")
            elif figure == "workers" and entry.get("same_end_state") is False:
                notes.append(f"{run['engine']} {run['size']:,} workers: two workers and one "
                             f"ended in different states")
    screens = [(run, screen_lines(run["figures"]["tui"])) for run in results["runs"]
               if isinstance(run["figures"].get("tui"), dict)
               and run["figures"]["tui"].get("screens_ms")]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    lines = ["  ".join(str(v).rjust(w) for v, w in zip(r, widths)) for r in rows]
    for run, opened in screens:
        lines.append("")
        lines.append(f"screen opens, {run['engine']} {run['size']:,} services (keystroke to "
                     "the screen drawn with its data):")
        lines.extend(f"  {line}" for line in opened)
    if results["limits"]:
        lines.append("")
        lines.append("limits (each checked on its engine's smallest run of at least the size "
                     "it names):")
        for check in results["limits"]:
            below = check.get("below", True)
            state = {True: "ok  ", False: "OVER" if below else "FAIL", None: "n/a "}[check["ok"]]
            if check["limit"] is None and check["value"] is not None:
                state = "info"
            value = ("not measured" if check["value"] is None else
                     f"{'at least ' if check.get('lower_bound') else ''}{check['value']:,}"
                     f"{check['unit']}")
            bound = "at most" if below else "at least"
            limit = ("no limit: reported" if check["limit"] is None
                     else f"limit: {bound} {check['limit']:,g}{check['unit']}")
            lines.append(f"  {state} {check.get('engine', 'sqlite'):<8} {check['figure']}: "
                         f"{value} ({limit}; run of {check.get('size', LIMIT_SIZE):,})")
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines)
