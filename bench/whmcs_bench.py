"""`hostdesk import whmcs` speed (issue 16): services per second, with their invoices,
payments, addons and domains, from a WHMCS host in a throw-away MariaDB server into an
empty hostdesk database. Measured at `size` services, at most 100,000 (the issue's size).

The WHMCS host is the tests' generator (tests/whmcs_host.py): two services per client on
average, each with the renewal invoices of its last period or two.
"""

from __future__ import annotations

import os
import time

WHMCS_MAX_SIZE = 100_000
ADMIN = "bench-import"


def measure(dbs, size: int) -> dict:
    from bench.databases import close_database, open_database
    from bench.suite import NotMeasured

    try:
        import pymysql  # noqa: F401

        from tests.mariadb import MariaDBServer
        from tests.whmcs_host import HostSpec, build_whmcs
    except ImportError as exc:
        raise NotMeasured(f"needs PyMySQL and the test helpers ({exc})") from None
    from hostdesk.automation.whmcs import import_whmcs
    from hostdesk.models.admins import ensure_first_admin
    from hostdesk.models.permissions import find_admin

    services = min(size, WHMCS_MAX_SIZE)
    try:
        server = MariaDBServer().start()
    except (RuntimeError, OSError) as exc:
        raise NotMeasured(f"MariaDB could not start: {exc}") from None
    try:
        url = server.create_database("whmcs_bench", "bench_reader", "bench")
        conn = server.connect("whmcs_bench")
        started = time.perf_counter()
        try:
            host = build_whmcs(conn, HostSpec(clients=max(1, services // 2), seed=16,
                                              max_periods=1, services_per_client=(1, 3),
                                              odd_rows=False))
        finally:
            conn.close()
        built = time.perf_counter() - started
        target = dbs.empty(f"whmcs_{services}")
        db = open_database(target)
        try:
            ensure_first_admin(ADMIN)
            admin = find_admin(ADMIN)
            load = os.getloadavg()[0]  # other work on the machine slows the figure down
            cpu, started = os.times(), time.perf_counter()
            report = import_whmcs(url, admin=admin)
            seconds = time.perf_counter() - started
            cpu_after = os.times()
        finally:
            close_database(db)
            dbs.drop(target)
    finally:
        server.stop()
    imported = report.tables["tblhosting"].imported
    own_cpu = (cpu_after.user - cpu.user) + (cpu_after.system - cpu.system)
    # a first import's writer is a child process, ended (waited for) by the import
    writer_cpu = ((cpu_after.children_user - cpu.children_user)
                  + (cpu_after.children_system - cpu.children_system))
    rows = {table: counts.imported for table, counts in report.tables.items() if counts.imported}
    return {"services": imported, "seconds": round(seconds, 3),
            "services_per_second": round(imported / seconds) if seconds else None,
            # the import's whole CPU: this process (reading, mapping) and its writer process
            "importer_cpu_seconds": round(own_cpu + writer_cpu, 3),
            "mapping_cpu_seconds": round(own_cpu, 3), "writer_cpu_seconds": round(writer_cpu, 3),
            "load_average_before": round(load, 2), "first_import": report.bulk,
            "reconciled": report.ok, "rows": rows, "whmcs_build_seconds": round(built, 1),
            "whmcs_rows": {table: len(rows) for table, rows in host.tables.items()},
            "note": (f"measured at {services:,} services" if services != size else "")}
