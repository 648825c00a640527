"""Consistent backups while hostdesk is in use, and restoring them (rules §12: both need the
`backup/restore` permission, which only `full` has).

SQLite: the online backup API copies a consistent snapshot page by page while other
connections keep reading and writing. PostgreSQL: use pg_dump/pg_restore, which already do
this properly; `backup` says how instead of re-implementing them.

A backup file is created private (0600) and new: never an existing file, never through a
symbolic link. A restore accepts only a hostdesk database (its application id), whole
(`PRAGMA integrity_check`) and not made by a newer hostdesk; it holds the daily run's lock
while it works, first saves the current database beside it, and logs itself.
"""

import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pendulum

from hostdesk.models import audit, runlock
from hostdesk.models.db import (
    APPLICATION_ID,
    bind,
    code_migrations,
    database,
    migrate,
    sqlite_path_from_url,
)
from hostdesk.models.errors import HostdeskError, RunInProgress
from hostdesk.models.permissions import BACKUP_RESTORE, require
from hostdesk.models.schema import Admin, RunLock

log = logging.getLogger("hostdesk.backup")

PG_ADVICE = ("this database is PostgreSQL: back it up with\n"
             "  pg_dump --format=custom --file=hostdesk.dump DBNAME\n"
             "and restore with\n"
             "  pg_restore --clean --if-exists --dbname=DBNAME hostdesk.dump")


class BackupError(HostdeskError):
    pass


class NotABackup(BackupError):
    """The file offered to restore is not a usable hostdesk database (bad input)."""


@dataclass(frozen=True)
class Restored:
    database: Path
    saved_copy: Path


def _sqlite_file(url: str) -> Path:
    path = sqlite_path_from_url(url)
    if path is None:
        raise BackupError(PG_ADVICE)
    if path == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(path)


def _create_private(target: Path) -> None:
    """Create `target` empty, owner-only from its first byte; refuse an existing file or link."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {target.parent} is not a usable folder "
                          f"({exc.strerror})") from None
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise BackupError(f"{target} exists; choose a new file name") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror}") from None
    os.close(fd)


def copy_database(source_path: Path, target: Path, progress=None) -> Path:
    """A consistent, checked, private copy of the SQLite database at `source_path`."""
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    target = Path(target)
    _create_private(target)
    try:
        source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True, timeout=30)
        destination = sqlite3.connect(target)
        try:
            source.backup(destination, pages=1024,
                          progress=(lambda status, remaining, total:
                                    progress(total - remaining, total)) if progress else None)
            check = destination.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
        finally:
            destination.close()
            source.close()
    except (sqlite3.Error, BackupError) as exc:
        target.unlink(missing_ok=True)
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"the backup failed: {exc}") from None
    log.info("backup written to %s", target)
    return target


def backup(url: str, target: Path, *, admin: Admin, progress=None) -> Path:
    """`hostdesk backup`: the models are bound to the database at `url`."""
    source_path = _sqlite_file(url)
    require(admin, BACKUP_RESTORE)
    return copy_database(source_path, Path(target), progress)


def check_backup(backup_file: Path) -> None:
    """Raise NotABackup (one line) unless the file is a whole hostdesk database this code
    can run."""
    if not backup_file.is_file():
        raise NotABackup(f"no backup file at {backup_file}")
    try:
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise NotABackup(f"{backup_file} cannot be opened: {exc}") from None
    try:
        if source.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise NotABackup(f"{backup_file} is not a hostdesk database; nothing was restored")
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise NotABackup(f"{backup_file} is damaged ({check}); nothing was restored")
        applied = {row[0] for row in source.execute("SELECT name FROM schema_migration")}
    except sqlite3.DatabaseError as exc:
        raise NotABackup(f"{backup_file} is not a usable hostdesk database ({exc}); "
                         "nothing was restored") from None
    finally:
        source.close()
    newer = sorted(applied - code_migrations())
    if newer:
        raise NotABackup(f"{backup_file} was made by a newer hostdesk (migration {newer[-1]}); "
                         "upgrade hostdesk first; nothing was restored")


def restore(url: str, backup_file: Path, *, admin: Admin, now=None) -> Restored:
    """`hostdesk restore`: replace the database at `url` (bound) with `backup_file`.

    Refused, with nothing changed, for a file that is not a good backup (NotABackup), without
    the permission (PermissionDenied), or while a daily run holds the lock (RunInProgress)."""
    target_path = _sqlite_file(url)
    backup_file = Path(backup_file)
    check_backup(backup_file)
    require(admin, BACKUP_RESTORE)
    acquired, current = runlock.acquire()
    if not acquired:
        raise RunInProgress(f"a daily run is in progress ({current.holder}); restore when it "
                            "has finished; nothing was restored")
    try:
        stamp = (now or pendulum.now("UTC")).format("YYYYMMDD[T]HHmmss[Z]")
        saved = copy_database(target_path,
                              target_path.with_name(f"{target_path.name}.before-restore-{stamp}"))
        live = database.obj
        live.close()
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        destination = sqlite3.connect(target_path, timeout=30)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()
    except BaseException:
        if database.obj.is_closed():
            database.connect()
        runlock.release()
        raise
    db = bind(url)
    db.connect(reuse_if_open=True)
    migrate(db)  # a backup from an older hostdesk is brought up to date
    with database.atomic():
        # The copy brought the backup's lock table: whatever it held is no run of ours.
        RunLock.delete().where(RunLock.name == runlock.DAILY_RUN).execute()
        audit.record(admin.login, "database.restore", "database",
                     description=f"Database restored from {backup_file.resolve()}; the database "
                                 f"before was saved as {saved}",
                     after={"backup": str(backup_file.resolve()), "saved_copy": str(saved)})
    log.info("database %s restored from %s", target_path, backup_file)
    return Restored(target_path, saved)
