"""Consistent backups while hostdesk is in use, and restoring them.

SQLite: the online backup API copies a consistent snapshot page by page while other
connections keep reading and writing. PostgreSQL: use pg_dump/pg_restore, which already do
this properly; `backup` says how instead of re-implementing them.
"""

import logging
import os
import sqlite3
import stat
from pathlib import Path

from models.db import sqlite_path_from_url

log = logging.getLogger("hostdesk.backup")

PG_ADVICE = ("this database is PostgreSQL: back it up with\n"
             "  pg_dump --format=custom --file=hostdesk.dump DBNAME\n"
             "and restore with\n"
             "  pg_restore --clean --if-exists --dbname=DBNAME hostdesk.dump")


class BackupError(Exception):
    pass


def _sqlite_file(url: str) -> Path:
    path = sqlite_path_from_url(url)
    if path is None:
        raise BackupError(PG_ADVICE)
    if path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def _private(path: Path) -> None:
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def backup(url: str, target: Path, progress=None) -> Path:
    source_path = _sqlite_file(url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination, pages=1024,
                      progress=(lambda status, remaining, total: progress(total - remaining, total))
                      if progress else None)
        check = destination.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
    finally:
        destination.close()
        source.close()
    _private(target)
    log.info("backup written to %s", target)
    return target


def restore(url: str, backup_file: Path) -> Path:
    """Replace the database's content with the backup's (online, through the backup API)."""
    target_path = _sqlite_file(url)
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise BackupError(f"no backup file at {backup_file}")
    source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{backup_file} is damaged; nothing was restored")
        tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_migration" not in tables:
            raise BackupError(f"{backup_file} is not a hostdesk database")
        destination = sqlite3.connect(target_path, timeout=30)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()
    _private(target_path)
    log.info("database %s restored from %s", target_path, backup_file)
    return target_path
