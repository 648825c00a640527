"""Reading and planning the next piece of a long write while the current one is written.

`WorkAhead(work)` runs `work(*args)` for one piece ahead, in a process of its own with its own
database connection, while the caller writes a piece. A process, not a thread: planning and
writing are both mostly Python, which two threads of one process run one at a time (Python's
lock). `work`, its arguments and its result cross by pickle (a module-level function;
`functools.partial` binds the rest). At most one piece is planned ahead: two pieces' plans are in memory at most, the one written and the next.
The gain needs a free core: where other sessions keep every core busy, the kernel's share
per session (autogroup) gives the two processes together no more CPU than one had.

A plan is read outside the writer's transaction, so before using it the writer asks
`Ahead.current()` inside its transaction: on SQLite, whether another connection committed
since the plan began (`PRAGMA data_version` of the writer's connection, which its own commits
do not change); a plan that may have missed a change is thrown away and the caller plans
again inline. PostgreSQL reads each statement at READ COMMITTED, so a plan made inline
there could already miss a change committed between its reads and its writes: the database's
own checks (the renewal overlap triggers) are what refuse a period billed twice, ahead or not.
"""

from concurrent.futures import BrokenExecutor, Future, wait
from dataclasses import dataclass
from typing import Any, Callable

from hostdesk.models import money
from hostdesk.models.db import bind, connect_url, database, is_sqlite

# SQLite page cache of the planning process's connection. A piece reads rows of its own (one
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
        the plan began, and the planning process did not die (Ctrl-C, killed) before it
        answered. A plan that is not current is made again by the caller."""
        if self.future.done() and isinstance(self.future.exception(), BrokenExecutor):
            return False
        return self.marker == change_marker()

    def result(self):
        """The plan (waits for it); raises what planning raised."""
        return self.future.result()

    def wait(self) -> None:
        """Until the plan is made or has failed (`result` says which)."""
        wait([self.future])


class WorkAhead:
    """`start(key, *args)` plans `work(*args)` in the planning process; `take(key)` hands it
    back (or None when the piece planned ahead is another one)."""

    def __init__(self, work: Callable[..., Any]):
        self._work = work
        self._executor = None  # a ProcessPoolExecutor once a piece is planned ahead
        self._ahead: Ahead | None = None

    @property
    def key(self):
        """The piece planned ahead, if any."""
        return None if self._ahead is None else self._ahead.key

    def start(self, key, *args) -> None:
        if self._executor is None:  # only a run of more than one piece starts the process
            # Imported here: a command that plans nothing ahead never loads multiprocessing.
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_open_in_child, initargs=(_database_spec(), dict(money._installation)))
        try:
            future = self._executor.submit(self._work, *args)
        except BrokenExecutor:  # the planning process died: the caller plans inline from now
            return
        self._ahead = Ahead(key, change_marker(), future)

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
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> "WorkAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()



def _database_spec() -> tuple:
    """What the planning process needs to open the caller's database."""
    real = database.obj
    if is_sqlite():
        return ("sqlite", real.database, {})
    return (type(real), real.database, dict(real.connect_params))


def _open_in_child(spec: tuple, installation: dict) -> None:
    kind, name, params = spec
    db = bind(connect_url(f"sqlite:///{name}", create=False) if kind == "sqlite"
              else kind(name, **params))
    db.connect()
    if kind == "sqlite":
        db.execute_sql(f"PRAGMA cache_size = {-int(PAGE_CACHE_KIB)}")
    money.configure(**installation)  # amounts shown as the caller shows them
