"""`hostdesk db status`: what an operator checks first, read-only."""

import os
from urllib.parse import urlsplit, urlunsplit

from hostdesk.models.db import MIGRATIONS_DIR, is_postgres, sqlite_path_from_url


def _size_bytes(db, url: str) -> int | None:
    if is_postgres(db):
        return int(db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0])
    path = sqlite_path_from_url(url)
    if not path or not os.path.exists(path):
        return None
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:****@{host}"))


def database_status(url: str) -> dict:
    """Schema version (the last migration applied), pending migrations, size on disk and
    the last daily run. Works on an empty or out-of-date database too."""
    from playhouse.migrations import Runner

    from hostdesk.models.db import bind
    from hostdesk.models.schema import CronRun

    db = bind(url)
    db.connect(reuse_if_open=True)
    try:
        migrations = Runner(db, directory=str(MIGRATIONS_DIR)).status()
        applied = [m.name for m in migrations if m.applied]
        last_run = None
        if CronRun.table_exists():
            run = CronRun.select().order_by(CronRun.id.desc()).first()
            if run is not None:
                last_run = {"id": run.id, "run_date": run.run_date.isoformat(),
                            "status": run.status, "dry_run": run.dry_run,
                            "started_at": run.started_at.isoformat(),
                            "finished_at": run.finished_at.isoformat() if run.finished_at else None}
        return {"database_url": _without_password(url),
                "engine": "postgresql" if is_postgres(db) else "sqlite",
                "schema_version": applied[-1] if applied else None,
                "pending_migrations": [m.name for m in migrations if not m.applied],
                "size_bytes": _size_bytes(db, url), "last_run": last_run}
    finally:
        db.close()
