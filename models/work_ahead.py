"""Reading and planning the next piece of a long write while the current one is written.

`WorkAhead(work)` runs `work(*args)` for one piece ahead, on a thread of its own with its own
database connection: while the caller's thread writes a piece, the database driver lets go of
Python's lock (SQLite's steps, PostgreSQL's COPY), and the next piece is read and planned
meanwhile. At most one piece is planned ahead: two pieces' plans are in memory at most, the
one written and the next.

A plan is read outside the writer's transaction, so before using it the writer asks
`Ahead.current()` inside its transaction: on SQLite, whether another connection committed
since the plan began (`PRAGMA data_version` of the writer's connection, which its own commits
do not change); a plan that may have missed a change is thrown away and the caller plans
again inline. PostgreSQL reads each statement at READ COMMITTED, so a plan made inline
there could already miss a change committed between its reads and its writes: the database's
own checks (the renewal overlap triggers) are what refuse a period billed twice, ahead or not.
"""

import sys
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from hostdesk.models.db import database, is_sqlite

# How long a thread waits for Python's lock before asking the holder for it (Python's
# default: 5 ms). The writer takes the lock back after each statement the database ran
# without it; waiting up to 5 ms each time on the planning thread idled the writer, the
# critical path, for most of the overlap.
SWITCH_INTERVAL = 0.0005
# SQLite page cache of the planning thread's connection. A piece reads rows of its own (one
# chunk's clients), which the next piece does not read again: SQLite's default 64 MB only
# added to the run's peak memory.
PAGE_CACHE_KIB = 1_000


def change_marker():
    """What `Ahead.current` compares: SQLite's count of other connections' commits, as seen
    by this thread's connection; None elsewhere (see the module's note)."""
    if not is_sqlite():
        return None
    return database.execute_sql("PRAGMA data_version").fetchone()[0]


def can_work_ahead() -> bool:
    """A second connection sees what this one does: not inside a transaction of the caller
    (its writes are not committed), not an in-memory SQLite (each connection has its own)."""
    if database.in_transaction():
        return False
    return not (is_sqlite() and database.database in ("", ":memory:"))


@dataclass
class Ahead:
    """One piece planned (or being planned) on the thread."""

    key: Any
    marker: Any
    future: Future

    def current(self) -> bool:
        """Inside the writer's transaction: nothing committed by another connection since
        the plan began."""
        return self.marker == change_marker()

    def result(self):
        """The plan (waits for it); raises what planning raised."""
        return self.future.result()

    def wait(self) -> None:
        """Until the plan is made or has failed (`result` says which)."""
        wait([self.future])


class WorkAhead:
    """`start(key, *args)` plans `work(*args)` on the thread; `take(key)` hands it back (or
    None when the piece planned ahead is another one)."""

    def __init__(self, work: Callable[..., Any]):
        self._work = work
        self._executor: ThreadPoolExecutor | None = None
        self._ahead: Ahead | None = None
        self._interval = sys.getswitchinterval()

    @property
    def key(self):
        """The piece planned ahead, if any."""
        return None if self._ahead is None else self._ahead.key

    def start(self, key, *args) -> None:
        if self._executor is None:  # only a run of more than one piece starts the thread
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hostdesk-ahead")
            sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        self._ahead = Ahead(key, change_marker(), self._executor.submit(self._run, *args))

    def wait(self) -> None:
        """Until the piece planned ahead, if any, is planned (or has failed)."""
        if self._ahead is not None:
            self._ahead.wait()

    def take(self, key) -> Ahead | None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.key != key:
            ahead.future.cancel()
            return None
        return ahead

    def close(self) -> None:
        if self._executor is None:
            return
        self._executor.submit(database.close)  # the thread's connection, after its last plan
        self._executor.shutdown(wait=True, cancel_futures=False)
        self._executor = None
        sys.setswitchinterval(self._interval)

    def __enter__(self) -> "WorkAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, *args):
        if database.connect(reuse_if_open=True) and is_sqlite():  # kept for the next piece
            database.execute_sql(f"PRAGMA cache_size = {-int(PAGE_CACHE_KIB)}")
        return self._work(*args)
