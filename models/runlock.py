"""The daily run's lock: one row per lock name, so it holds across processes and machines.

A lock is taken over only when its holder is provably gone: its process on this host no
longer exists (or the pid now belongs to another process), or, on PostgreSQL, the database
session it last heartbeat from has ended and it has not heartbeat since. A run that is merely
slow (a long module call, a stopped process) keeps its lock however old its heartbeat: a
takeover on age alone is how two runs once worked side by side. A run whose heartbeat finds
the lock no longer its own stops at once (`automation.cron`).
"""

import os
import socket

import pendulum
from peewee import IntegrityError

from hostdesk.models.db import database, is_postgres
from hostdesk.models.schema import RunLock

DAILY_RUN = "daily-run"
# A live run records its (possibly new) database session at every heartbeat; a session that
# ended with no heartbeat for this long belongs to a run that is gone.
SESSION_GRACE = pendulum.duration(minutes=2)


def this_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _local_pid(holder: str) -> int | None:
    host, _, pid = holder.rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def process_start(pid: int) -> str:
    """When process `pid` started (clock ticks since boot, Linux), or '' when unknown: with
    the pid it names one process, even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        return fields[19].decode()
    except (OSError, IndexError):
        return ""


def _db_session() -> int | None:
    if not is_postgres():
        return None
    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def _session_alive(session: int) -> bool:
    return database.execute_sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                (session,)).fetchone() is not None


def holder_is_gone(lock: RunLock, now=None) -> bool:
    """Whether the lock's holder provably no longer runs."""
    pid = _local_pid(lock.holder)
    if pid is not None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # it exists, under another user
        started = process_start(pid)
        return bool(lock.process_start and started and started != lock.process_start)
    if lock.db_session is not None and is_postgres():
        now = now or pendulum.now("UTC")
        return (lock.heartbeat_at < now - SESSION_GRACE
                and not _session_alive(lock.db_session))
    return False  # another host without a session to check: never taken over


def acquire(name: str = DAILY_RUN, holder: str | None = None, now=None) -> tuple[bool, RunLock | None]:
    """Take the lock. Returns (True, None) or (False, the lock row that holds it)."""
    holder = holder or this_holder()
    now = now or pendulum.now("UTC")
    # Look before taking the write lock: a run in progress is seen at once, even while it is
    # in the middle of a write transaction (WAL readers never wait for the writer).
    current = RunLock.get_or_none(RunLock.name == name)
    if current is not None and not holder_is_gone(current, now):
        return False, current
    pid = _local_pid(holder)
    started = process_start(pid) if pid is not None else ""
    try:
        with database.atomic():
            current = RunLock.get_or_none(RunLock.name == name)
            if current is not None:
                if not holder_is_gone(current, now):
                    return False, current
                RunLock.delete().where(
                    (RunLock.name == name) & (RunLock.holder == current.holder)
                ).execute()
            RunLock.insert(name=name, holder=holder, acquired_at=now, heartbeat_at=now,
                           process_start=started, db_session=_db_session()).execute()
        return True, None
    except IntegrityError:
        return False, RunLock.get_or_none(RunLock.name == name)


def heartbeat(name: str = DAILY_RUN, holder: str | None = None) -> bool:
    """Refresh the lock; False when it is no longer ours (taken over, or removed)."""
    holder = holder or this_holder()
    with database.atomic():
        updated = (RunLock.update(heartbeat_at=pendulum.now("UTC"), db_session=_db_session())
                   .where((RunLock.name == name) & (RunLock.holder == holder)).execute())
    return updated == 1


def release(name: str = DAILY_RUN, holder: str | None = None) -> None:
    holder = holder or this_holder()
    with database.atomic():
        RunLock.delete().where((RunLock.name == name) & (RunLock.holder == holder)).execute()


def holds(name: str = DAILY_RUN, holder: str | None = None) -> bool:
    holder = holder or this_holder()
    return RunLock.select().where((RunLock.name == name) & (RunLock.holder == holder)).exists()
