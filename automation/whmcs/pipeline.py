"""The import's writer: batches written on a thread of their own while the steps map the next.

Why a thread: about 40% of an import is SQLite (or PostgreSQL) inserting rows, index entries
and search-index terms. The database driver lets go of Python's lock while the database
works, so those writes run alongside the mapping of the next batch on the second core.

Every write of an import goes through its writer (`submit` for a batch, `call` for a write
whose result the importing thread needs), on the writer's own connection, in the order
given. Each job is one batch in its own transaction: the same batches and transactions as
writing inline. The first job that fails is rolled back (its transaction) and no later job
runs; `drain()` raises its error in the importing thread, so a failed batch stops the import
exactly as it does inline.

`one_transaction`: the writer also holds one outer transaction around every job (each
batch's own is then a savepoint inside it), committed by `commit()`; `close()` without it,
or after a failure, rolls every job back. The first import into an empty hostdesk is loaded
this way (`hostdesk.models.bulk_load`).

A dry run writes inline: its single outer transaction (rolled back at the end) lives on the
importing thread's connection, which a second connection could not see into.
"""

import queue
import sys
import threading

from hostdesk.models.db import bounded_page_cache, database, few_checkpoints

# Batches mapped ahead of the writer at most: bounds memory, keeps the two threads in step.
AHEAD = 4
# How long a thread waits for Python's lock before asking the holder for it, while a writer
# runs (Python's default: 5 ms). The writer takes the lock back after each statement SQLite
# ran without it: thousands of statements, each waiting up to the interval on the busy
# mapping thread, had the writer (the import's critical path) idle for seconds.
SWITCH_INTERVAL = 0.0005
_COMMIT = object()  # the job that ends a one-transaction writer by committing
# SQLite page cache of a one-transaction writer: a 100,000-service import writes ~250 MB.
ONE_TRANSACTION_CACHE_KIB = 262_144


class _RollBack(Exception):
    """Leaves the writer's outer transaction by rolling it back."""


class InlineWriter:
    """Runs each job at once on the calling thread (dry runs, and the plain path)."""

    threaded = False

    def __init__(self, one_transaction: bool = False):
        self._outer = database.atomic() if one_transaction else None
        if self._outer is not None:
            self._outer.__enter__()

    def submit(self, job) -> None:
        job()

    def call(self, job):
        return job()

    def drain(self) -> None:
        pass

    def commit(self) -> None:
        if self._outer is not None:
            outer, self._outer = self._outer, None
            outer.__exit__(None, None, None)

    def close(self) -> None:
        if self._outer is not None:  # not committed: everything is rolled back
            outer, self._outer = self._outer, None
            outer.__exit__(_RollBack, _RollBack(), None)


class ThreadWriter:
    """Runs jobs in order on one thread with its own database connection."""

    threaded = True

    def __init__(self, one_transaction: bool = False):
        self._jobs = queue.Queue(maxsize=AHEAD)
        self._error = None
        self._failed = False  # a job failed: nothing after it ran, nothing will be committed
        self._one_transaction = one_transaction
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._work, name="whmcs-write", daemon=True)
        self._thread.start()

    def submit(self, job) -> None:
        self._raise_failure()  # stop mapping as soon as a batch has failed
        self._jobs.put(job)

    def call(self, job):
        """Run `job` on the writer after every job given so far; its result, or its error."""
        result = []
        self.submit(lambda: result.append(job()))
        self.drain()
        return result[0]

    def drain(self) -> None:
        """Wait until every job given so far is written; raise the first failure."""
        self._jobs.join()
        self._raise_failure()

    def commit(self) -> None:
        """Commit the outer transaction of a one-transaction writer and end it; raises the
        first failure (then everything was rolled back)."""
        if self._thread.is_alive():
            self._jobs.put(_COMMIT)
            self._thread.join()
        self._raise_failure()
        if self._failed:
            raise RuntimeError("a batch failed: the import's writes were rolled back")

    def close(self) -> None:
        """End the writer; a one-transaction writer not committed rolls everything back."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        sys.setswitchinterval(self._interval)

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        try:
            with few_checkpoints():  # a pragma of this thread's own connection
                if not self._one_transaction:
                    self._run_jobs()
                    return
                self._run_one_transaction()
        finally:
            database.close()  # this thread's connection

    def _run_one_transaction(self) -> None:
        # The pages a bulk load writes stay in the cache until it commits: with the usual
        # 64 MB, pages spilled to the log mid-load were written again as the load changed them.
        with bounded_page_cache(ONE_TRANSACTION_CACHE_KIB):
            try:
                with database.atomic():
                    if not self._run_jobs():
                        raise _RollBack()
            except _RollBack:
                pass
            except BaseException as exc:  # the commit itself failed
                self._failed, self._error = True, self._error or exc

    def _run_jobs(self) -> bool:
        """Run jobs until told to end; True when told to commit and no job failed."""
        failed = False
        while True:
            job = self._jobs.get()
            try:
                if job is None or job is _COMMIT:
                    return job is _COMMIT and not failed
                if not failed:
                    job()
            except BaseException as exc:  # handed to the importing thread by drain()
                failed, self._failed, self._error = True, True, exc
            finally:
                self._jobs.task_done()


def writer_for(dry_run: bool, *, one_transaction: bool = False):
    """The thread writer where a second connection sees the same database; else inline."""
    if dry_run or getattr(database.obj, "database", None) in (":memory:", ""):
        return InlineWriter(one_transaction)
    return ThreadWriter(one_transaction)
