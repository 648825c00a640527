"""Mass update of 10,000 selected services (issue 8, figure 4), through `models.massupdate`.

Two changes are timed on the 10,000 newest active services: a plain field (payment method)
and a new next due date (which re-anchors each service). Each is `apply` (the preview the
admin saw, then one transaction); `preview_seconds` is the preview alone. Each change runs
on its own fresh copy of the database.
"""

from __future__ import annotations

import time

from bench.builder import BENCH_ADMIN
from bench.databases import close_database, open_database

CHANGES = {
    "payment_method": {"payment_method": "paypal"},
    "next_due_date": {"next_due_date": "2025-07-15"},
}


def _module():
    from bench.suite import NotMeasured

    try:
        from hostdesk.models import massupdate
    except ImportError as exc:
        raise NotMeasured(f"hostdesk.models.massupdate is not there yet ({exc})") from None
    missing = [name for name in ("apply", "preview", "parse_mass_change")
               if not callable(getattr(massupdate, name, None))]
    if missing:
        raise NotMeasured(f"hostdesk.models.massupdate has no {', '.join(missing)}: "
                          "bench/mass_bench.py follows its interface")
    return massupdate


def _selected(db, count: int) -> list[int]:
    return [row[0] for row in db.execute_sql(
        "SELECT id FROM service WHERE status = 'active' ORDER BY id DESC LIMIT %d" % int(count))]


def measure_one(url: str, today, form: dict, count: int) -> dict:
    from hostdesk.models.permissions import find_admin
    from hostdesk.models.settings import Settings

    massupdate = _module()
    settings = Settings()
    db = open_database(url)
    try:
        ids = _selected(db, count)
        change = massupdate.parse_mass_change(form)
        admin = find_admin(BENCH_ADMIN)
        started = time.perf_counter()
        massupdate.preview(ids, change, settings)
        previewed = time.perf_counter()
        result = massupdate.apply(ids, change, admin, settings, today)
        applied = time.perf_counter()
        changed = _count_changed(db, ids, *next(iter(form.items())))
    finally:
        close_database(db)
    return {"seconds": round(applied - previewed, 3), "preview_seconds": round(previewed - started, 3),
            "services": len(ids), "changed": changed,
            "updated": getattr(result, "updated", None), "refused": getattr(result, "refused", None)}


def _count_changed(db, ids: list[int], column: str, value: str) -> int:
    """How many of the selected services now hold the new value."""
    changed = 0
    for start in range(0, len(ids), 500):
        batch = ids[start:start + 500]
        changed += db.execute_sql(
            f"SELECT COUNT(*) FROM service WHERE {column} = '{value}' AND id IN "
            f"({', '.join(str(int(i)) for i in batch)})").fetchone()[0]
    return changed


def measure(copy_database, drop_database, today, *, count: int = 10_000) -> dict:
    """`copy_database()` gives a fresh URL per change; the main figure is the plain change."""
    import pendulum

    _module()
    today = pendulum.date(today.year, today.month, today.day)
    results = {}
    for name, form in CHANGES.items():
        url = copy_database()
        try:
            results[name] = measure_one(url, today, form, count)
        finally:
            drop_database(url)
    main = results["payment_method"]
    return {"seconds": main["seconds"], "services": main["services"], "by_change": results}
