"""Benchmark databases per engine: build a base once, hand out throw-away copies.

SQLite bases are kept in a cache directory between runs, named after the build spec and
`BUILDER_VERSION`; a cached base is migrated forward when a new migration has landed.
PostgreSQL bases live in the throw-away server of this run; copies are
`CREATE DATABASE ... TEMPLATE base`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from pathlib import Path

from bench.builder import BUILDER_VERSION, BuildSpec, build
from bench.cron_child import BENCH_SECRET_KEY
from hostdesk.models import keyring, secrets
from hostdesk.models.db import bind, database, migrate


def spec_name(spec: BuildSpec) -> str:
    return (f"s{spec.services}_d{spec.spread_days}_h{spec.history_periods}_r{spec.seed}_"
            f"{spec.first_due.isoformat().replace('-', '')}_v{BUILDER_VERSION}")


def _open(url: str):
    db = bind(url)
    db.connect(reuse_if_open=True)
    return db


def _up_to_date_base(db) -> list:
    """Apply the migrations that landed since the base was built, and record the bench's
    secret key as the base's own, as the first command on a host's database does once: each
    measured command would otherwise look for a secret to check the key against (a scan of
    the million services, none with a password, 0.2 s). Returns what changed."""
    changed = list(migrate(db))
    secrets.configure(BENCH_SECRET_KEY)
    if not keyring.stored_fingerprint():
        keyring.adopt_key()
        changed.append("the bench's secret key recorded")
    return changed


def _close(db) -> None:
    if not db.is_closed():
        db.close()
    database.initialize(None)


class SqliteDatabases:
    engine = "sqlite"

    def __init__(self, workdir: Path, cache_dir: Path, *, rebuild: bool = False):
        self.workdir = workdir
        self.cache_dir = cache_dir
        self.rebuild = rebuild
        self.built: dict[BuildSpec, dict] = {}

    def base(self, spec: BuildSpec) -> dict:
        """Build (or find in the cache) the base database; returns what the build cost.

        A cached base is brought up to the newest migration first, as an upgraded
        production database would be."""
        if spec in self.built:
            return self.built[spec]
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        path = self.cache_dir / f"{spec_name(spec)}.db"
        with open(path.with_suffix(".lock"), "w") as lock:  # two benchmarks, one cache
            fcntl.flock(lock, fcntl.LOCK_EX)
            info = self._build_or_migrate(spec, path)
        info["path"] = str(path)
        info["megabytes"] = round(path.stat().st_size / 1e6, 1)
        self.built[spec] = info
        return info

    def _build_or_migrate(self, spec: BuildSpec, path: Path) -> dict:
        info = {"cached": path.exists() and not self.rebuild}
        if info["cached"]:
            db = _open(f"sqlite:///{path}")
            try:
                started = time.perf_counter()
                applied = _up_to_date_base(db)
                if applied:
                    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                    info.update(migrated=applied, migrate_seconds=round(
                        time.perf_counter() - started, 2))
            finally:
                _close(db)
        else:
            partial = path.with_suffix(".partial")
            for stale in (path, partial):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{stale}{suffix}").unlink(missing_ok=True)
            db = _open(f"sqlite:///{partial}")
            try:
                migrate(db)
                summary = build(db, spec)
                _up_to_date_base(db)
                db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                _close(db)
            for suffix in ("-wal", "-shm"):
                Path(f"{partial}{suffix}").unlink(missing_ok=True)
            partial.rename(path)
            info.update(seconds=round(summary.seconds, 2), rows=summary.rows)
        return info

    def _up_to_date(self, path: Path) -> None:
        """Apply a migration that landed while the benchmark was running."""
        db = _open(f"sqlite:///{path}")
        try:
            if _up_to_date_base(db):
                db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            _close(db)

    def copy(self, spec: BuildSpec, label: str) -> str:
        source = Path(self.base(spec)["path"])
        with open(source.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._up_to_date(source)
        target = self.workdir / f"{label}.db"
        self.drop(f"sqlite:///{target}")
        shutil.copyfile(source, target)
        target.chmod(0o600)
        # On disk before the measured run starts: otherwise the kernel writes the fresh
        # copy back while the run works, and the run's own syncs wait for it.
        with open(target, "rb+") as copied:
            os.fsync(copied.fileno())
        return f"sqlite:///{target}"

    def drop(self, url: str) -> None:
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def empty(self, label: str) -> str:
        """A new, migrated database with no rows (the WHMCS import writes into it)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{label}.db"
        self.drop(f"sqlite:///{path}")
        db = _open(f"sqlite:///{path}")
        try:
            migrate(db)
        finally:
            _close(db)
        return f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    engine = "postgres"

    # Written on a base once its build finished: a base without it is built again.
    COMPLETE = "hostdesk bench base, build complete"

    def __init__(self, server, *, own_server: bool, keep_bases: bool = False,
                 rebuild: bool = False):
        self.server = server
        self.own_server = own_server
        self.keep_bases = keep_bases  # the server's data is kept: bases are reused next time
        self.rebuild = rebuild
        self.built: dict[BuildSpec, dict] = {}
        self._copies = 0

    def base(self, spec: BuildSpec) -> dict:
        if spec in self.built:
            return self.built[spec]
        name = f"bench_{spec_name(spec)}".lower()
        if self.keep_bases and not self.rebuild and self._complete(name):
            started = time.perf_counter()
            db = _open(self.server.url(name))
            try:
                applied = _up_to_date_base(db)
                megabytes = db.execute_sql(
                    "SELECT pg_database_size(current_database())").fetchone()[0]
            finally:
                _close(db)
            info = {"cached": True, "database": name, "megabytes": round(megabytes / 1e6, 1)}
            if applied:
                info.update(migrated=applied,
                            migrate_seconds=round(time.perf_counter() - started, 2))
            self.built[spec] = info
            return info
        self.server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.server.admin_sql(f"CREATE DATABASE {name}")
        db = _open(self.server.url(name))
        try:
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            migrate(db)
            summary = build(db, spec)
            _up_to_date_base(db)
            megabytes = db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
        finally:
            _close(db)
        self.server.admin_sql(f"COMMENT ON DATABASE {name} IS '{self.COMPLETE}'")
        info = {"cached": False, "seconds": round(summary.seconds, 2), "rows": summary.rows,
                "database": name, "megabytes": round(megabytes / 1e6, 1)}
        self.built[spec] = info
        return info

    def _complete(self, name: str) -> bool:
        rows = self.server.admin_sql(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,))
        return bool(rows) and rows[0][0] == self.COMPLETE

    def copy(self, spec: BuildSpec, label: str) -> str:
        base = self.base(spec)["database"]
        db = _open(self.server.url(base))  # a migration may have landed meanwhile
        try:
            _up_to_date_base(db)
        finally:
            _close(db)
        self._copies += 1
        name = f"{label}_{self._copies}".lower().replace("-", "_")
        self.server.admin_sql(f"DROP DATABASE IF EXISTS {name}")
        for attempt in range(20):  # the base may still be closing its last connection
            try:
                self.server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {base}")
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.25)
        # The copy goes through the shared buffers: written out now, not by the server's
        # checkpointer while the next figure is timed (as a SQLite copy is synced to disk).
        self.server.admin_sql("CHECKPOINT")
        return self.server.url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def empty(self, label: str) -> str:
        """A new, migrated database with no rows (the WHMCS import writes into it)."""
        self._copies += 1
        name = f"{label}_{self._copies}".lower().replace("-", "_")
        self.server.admin_sql(f"DROP DATABASE IF EXISTS {name}")
        self.server.admin_sql(f"CREATE DATABASE {name}")
        db = _open(self.server.url(name))
        try:
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            migrate(db)
        finally:
            _close(db)
        return self.server.url(name)

    def close(self) -> None:
        if not self.keep_bases:
            for info in self.built.values():
                self.server.admin_sql(f"DROP DATABASE IF EXISTS {info['database']} WITH (FORCE)")
        if self.own_server:
            self.server.stop()


def open_database(url: str):
    """Bind the models to `url` and open it (close with `close_database`)."""
    return _open(url)


def close_database(db) -> None:
    _close(db)
