"""Where the daily run's time goes: `python -m bench.profile --size 100000`.

Runs the daily run in this process on a fresh copy of the "everything due" benchmark
database and prints the time per daily task and per step of the invoicing (wall clock,
measured by wrapping the functions), or with `--cprofile` the top functions by cumulative
time. `--email` queues the invoice emails too.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.builder import BuildSpec
from bench.databases import SqliteDatabases, close_database, open_database

RENEWAL_STEPS = ("_client_chunks", "_candidates", "_separate_clients", "_billing_history",
                 "plan_invoices", "prepare_invoices", "write_invoices", "insert_rows",
                 "_render_invoice_emails", "write_outbox_rows")


def _wrap(owner, name: str, totals: dict, label: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label][0] += time.perf_counter() - started
            totals[label][1] += 1
            totals[label][2] += time.process_time() - cpu

    setattr(owner, name, timed)


def instrument() -> dict:
    """Wrap the daily tasks and the invoicing steps; returns label -> [seconds, calls, CPU
    seconds] (on a shared machine the CPU time is the steadier figure)."""
    from hostdesk.automation import daily_tasks
    from hostdesk.models import audit, renewals

    totals = defaultdict(lambda: [0.0, 0, 0.0])
    for name in RENEWAL_STEPS:
        if hasattr(renewals, name):
            _wrap(renewals, name, totals, f"invoices: {name}")
    _wrap(audit, "record_many", totals, "invoices: audit.record_many")
    tasks = []
    for name, task in daily_tasks.TASKS:
        holder = type("Task", (), {"run": staticmethod(task)})
        _wrap(holder, "run", totals, f"task {name}")
        tasks.append((name, holder.run))
    daily_tasks.TASKS[:] = tasks
    return totals


def _base_max_invoice(dbs, spec) -> int:
    import sqlite3

    with sqlite3.connect(dbs.base(spec)["path"]) as raw:
        return raw.execute("SELECT COALESCE(MAX(id), 0) FROM invoice").fetchone()[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--spread", type=int, default=1, help="1: everything due; 30: a normal day")
    parser.add_argument("--email", action="store_true", help="queue invoice emails")
    parser.add_argument("--cprofile", action="store_true", help="cProfile instead of step timers")
    parser.add_argument("--cache", type=Path, default=Path("bench-results/cache"))
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime...")
    parser.add_argument("--check", action="store_true",
                        help="also bill a second copy with the plain-SQL floor and compare")
    args = parser.parse_args(argv)

    import pendulum

    from hostdesk.automation.cron import run_daily
    from hostdesk.models import secrets
    from hostdesk.models.clock import Clock
    from hostdesk.models.settings import Settings

    secrets.configure("hostdesk-benchmark-key-not-a-secret")
    spec = BuildSpec(args.size, spread_days=args.spread)
    with tempfile.TemporaryDirectory(prefix="hostdesk-profile-") as tmp:
        dbs = SqliteDatabases(Path(tmp), args.cache)
        url = dbs.copy(spec, "profile")
        db = open_database(url)
        clock = Clock("UTC", pendulum.date(spec.run_date.year, spec.run_date.month,
                                           spec.run_date.day))
        totals = None if args.cprofile else instrument()
        profiler = cProfile.Profile() if args.cprofile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_cpu_started = children.ru_utime + children.ru_stime
        if profiler:
            profiler.enable()
        # the whole day's work, as before the termination guard (which would hold it)
        everything = Settings(terminate_guard_percent=100, terminate_guard_count=10_000_000)
        report = run_daily(everything, clock, send_emails=args.email)
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        children_cpu = children.ru_utime + children.ru_stime - children_cpu_started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.check:
            from bench.floor import bill_due_with_plain_sql, end_state

            base_max = _base_max_invoice(dbs, spec)
            state = end_state(db, base_max)
            close_database(db)
            floor_db = open_database(dbs.copy(spec, "profile_floor"))
            floor = bill_due_with_plain_sql(floor_db, spec.run_date, Settings(),
                                            with_email=args.email)
            floor_state = end_state(floor_db, base_max)
            close_database(floor_db)
            split = ", ".join(f"{step} {spent:.2f} s" for step, spent in floor.seconds.items())
            print(f"floor: {split}; same end state as the floor: "
                  f"{state == floor_state}")
            if state != floor_state:
                print("  run:  ", state, "\n  floor:", floor_state)
        else:
            close_database(db)
    invoices = report.tasks["invoices"]
    print(f"daily run, {args.size:,} services, spread {args.spread}: {seconds:.2f} s, "
          f"CPU {cpu:.2f} s (its children {children_cpu:.2f} s), {invoices['done']} invoices, "
          f"{invoices['details'].get('lines')} lines, "
          f"peak RSS {peak_mb:.0f} MB (this process, copy included)")
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.top)
    else:
        print("       wall        CPU")
        for label, (spent, calls, cpu) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
            print(f"  {spent:9.2f} s {cpu:7.2f} s {calls:8d} calls  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
