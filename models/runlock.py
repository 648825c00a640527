"""The daily run's lock: one row per lock name, so it holds across processes and machines.

A lock whose holder stopped heartbeating for `stale_after` (or whose process on this same
host is gone, e.g. killed with SIGKILL) is taken over, so a crash never blocks the next run.
"""

import os
import socket

import pendulum
from peewee import IntegrityError

from models.db import database
from models.schema import RunLock

DAILY_RUN = "daily-run"
STALE_AFTER = pendulum.duration(minutes=15)


def this_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_gone(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _is_stale(lock: RunLock, now) -> bool:
    return lock.heartbeat_at < now - STALE_AFTER or _holder_is_gone(lock.holder)


def acquire(name: str = DAILY_RUN, holder: str | None = None, now=None) -> tuple[bool, RunLock | None]:
    """Take the lock. Returns (True, None) or (False, the lock row that holds it)."""
    holder = holder or this_holder()
    now = now or pendulum.now("UTC")
    # Look before taking the write lock: a run in progress is seen at once, even while it is
    # in the middle of a write transaction (WAL readers never wait for the writer).
    current = RunLock.get_or_none(RunLock.name == name)
    if current is not None and not _is_stale(current, now):
        return False, current
    try:
        with database.atomic():
            current = RunLock.get_or_none(RunLock.name == name)
            if current is not None:
                if not _is_stale(current, now):
                    return False, current
                RunLock.delete().where(
                    (RunLock.name == name) & (RunLock.holder == current.holder)
                ).execute()
            RunLock.insert(name=name, holder=holder, acquired_at=now, heartbeat_at=now).execute()
        return True, None
    except IntegrityError:
        return False, RunLock.get_or_none(RunLock.name == name)


def heartbeat(name: str = DAILY_RUN, holder: str | None = None) -> bool:
    """Refresh the lock; False when it is no longer ours (taken over as stale)."""
    holder = holder or this_holder()
    with database.atomic():
        updated = (RunLock.update(heartbeat_at=pendulum.now("UTC"))
                   .where((RunLock.name == name) & (RunLock.holder == holder)).execute())
    return updated == 1


def release(name: str = DAILY_RUN, holder: str | None = None) -> None:
    holder = holder or this_holder()
    with database.atomic():
        RunLock.delete().where((RunLock.name == name) & (RunLock.holder == holder)).execute()
