"""Reading and planning the next piece of a long write while the current one is written.

`WorkAhead(work)` runs `work(*args)` for one piece ahead, in a process of its own with its own
database connection, while the caller writes a piece. A process, not a thread: planning and
writing are both mostly Python, which two threads of one process run one at a time (Python's
lock). The process is `python -m hostdesk.models.work_ahead`, started as every child of
hostdesk is (`models.child_process`): it never imports the caller's main script. `work`, its
arguments and its result cross by pickle (a module-level function; `functools.partial` binds
the rest). At most one piece is planned ahead: two pieces' plans are in memory at most, the
one written and the next.
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

import subprocess
import threading
from collections import deque
from concurrent.futures import BrokenExecutor, Future, wait
from dataclasses import dataclass
from typing import Any, Callable

from hostdesk.models import money
from hostdesk.models.child_process import child_connections, portable, start_child
from hostdesk.models.db import bind, connect_url, database, is_sqlite

PLANNER_MODULE = "hostdesk.models.work_ahead"
# SQLite page cache of the planning process's connection. A piece reads rows of its own (one
# chunk's clients), which the next piece does not read again: SQLite's default 64 MB only
# added to the run's peak memory.
PAGE_CACHE_KIB = 1_000
# A piece is planned in about a second; one not planned in this time is planned inline and
# the planning process is ended (a stuck planner never holds up the nightly run).
PLAN_SECONDS = 300
# How long closing waits for the planning process to end before it is killed.
CLOSE_SECONDS = 10


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
    """One piece planned (or being planned) in the planning process."""

    key: Any
    marker: Any
    future: Future
    planner: "WorkAhead"

    def current(self) -> bool:
        """Inside the writer's transaction: nothing committed by another connection since
        the plan began, and the planning process answered (it did not die, Ctrl-C or killed,
        nor run out of time). A plan that is not current is made again by the caller."""
        if not self.future.done() or isinstance(self.future.exception(), BrokenExecutor):
            return False
        return self.marker == change_marker()

    def result(self):
        """The plan (waits for it); raises what planning raised."""
        return self.future.result()

    def wait(self) -> bool:
        """Until the plan is made or has failed (`result` says which), for `PLAN_SECONDS` at
        most: then the planning process is ended and the piece is not current. Whether the
        caller had to wait: the planning process is the slower of the two."""
        if self.future.done():
            return False
        if not wait([self.future], timeout=PLAN_SECONDS).done:
            self.planner.stop()
        return True


class WorkAhead:
    """`start(key, *args)` plans `work(*args)` in the planning process; `take(key)` hands it
    back (or None when the piece planned ahead is another one)."""

    def __init__(self, work: Callable[..., Any]):
        self._work = work
        self._process = None  # the planning process, once a piece is planned ahead
        self._sending = None  # the connection its pieces go down
        self._asked: deque[Future] = deque()  # answered in the order asked
        self._lock = threading.Lock()
        self._broken = False
        self._ahead: Ahead | None = None

    @property
    def key(self):
        """The piece planned ahead, if any."""
        return None if self._ahead is None else self._ahead.key

    def warm(self) -> None:
        """Start the planning process now: it takes a moment to start, which the caller's
        first piece hides when it is started before that piece (only a run of more than one
        piece needs it)."""
        if self._broken:
            return
        try:
            with self._lock:
                if self._process is None:
                    self._start_process()
        except OSError:
            self._break()

    def start(self, key, *args) -> None:
        self.warm()
        if self._broken:  # the planning process died: the caller plans inline from now
            return
        future = Future()
        future.set_running_or_notify_cancel()
        try:
            with self._lock:
                self._asked.append(future)
                self._sending.send((self._work, args))
        except OSError:
            self._break()
            return
        self._ahead = Ahead(key, change_marker(), future, self)

    def wait(self) -> bool:
        """Until the piece planned ahead, if any, is planned (or has failed); whether the
        caller had to wait."""
        return self._ahead is not None and self._ahead.wait()

    def take(self, key) -> Ahead | None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.key != key:
            return None  # its answer is read and dropped
        return ahead

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        self._sending.close()  # the end of its input is the planning process's cue to end
        try:
            process.wait(CLOSE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """End the planning process now; what it was asked is planned inline."""
        if self._process is not None:
            self._process.kill()
        self._break()
        self.close()

    def __enter__(self) -> "WorkAhead":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start_process(self) -> None:
        self._process, self._sending, answers = start_child(PLANNER_MODULE)
        self._sending.send((_database_spec(), dict(money._installation)))
        threading.Thread(target=self._read_answers, args=(answers,), daemon=True).start()

    def _read_answers(self, answers) -> None:
        try:
            while True:
                failed, value = answers.recv()
                with self._lock:
                    future = self._asked.popleft()
                if failed:
                    future.set_exception(value)
                else:
                    future.set_result(value)
        except Exception:  # noqa: BLE001 - the planner died or garbled: plan inline from now
            self._break()

    def _break(self) -> None:
        with self._lock:
            self._broken = True
            asked, self._asked = self._asked, deque()
        for future in asked:
            future.set_exception(BrokenExecutor("the planning process ended"))


def _database_spec() -> tuple:
    """What the planning process needs to open the caller's database (on PostgreSQL, with the
    caller's planner costs: it plans the same queries)."""
    real = database.obj
    if is_sqlite():
        return ("sqlite", real.database, {})
    params = dict(real.connect_params)
    cost = database.execute_sql("SHOW random_page_cost").fetchone()[0]
    params["options"] = f"{params.get('options', '')} -c random_page_cost={cost}".strip()
    return (type(real), real.database, params)


def _open_database(spec: tuple, installation: dict) -> None:
    kind, name, params = spec
    db = bind(connect_url(f"sqlite:///{name}", create=False) if kind == "sqlite"
              else kind(name, **params))
    db.connect()
    if kind == "sqlite":
        db.execute_sql(f"PRAGMA cache_size = {-int(PAGE_CACHE_KIB)}")
    money.configure(**installation)  # amounts shown as the caller shows them


def serve(requests, answers) -> None:
    """The planning process: open the caller's database, then answer each piece asked, in
    order (its plan, or the exception planning raised), until its input ends."""
    _open_database(*requests.recv())
    while True:
        try:
            work, args = requests.recv()
        except EOFError:
            return
        try:
            answers.send((False, work(*args)))
        except Exception as exc:  # the caller raises it as that piece's failure
            answers.send((True, portable(exc)))


if __name__ == "__main__":
    serve(*child_connections())
