"""The import's writer: batches written on a thread of their own while the steps map the next.

Why a thread: about 40% of an import is SQLite (or PostgreSQL) inserting rows, index entries
and search-index terms. The database driver lets go of Python's lock while the database
works, so those writes run alongside the mapping of the next batch on the second core.

Each job is one batch in its own transaction, on the writer's own connection, in the order
given: the same batches and transactions as writing inline. The first job that fails is
rolled back (its transaction) and no later job runs; `drain()` raises its error in the
importing thread, so a failed batch stops the import exactly as it does inline.

A dry run writes inline: its single outer transaction (rolled back at the end) lives on the
importing thread's connection, which a second connection could not see into.
"""

import queue
import threading

from hostdesk.models.db import database, few_checkpoints

# Batches mapped ahead of the writer at most: bounds memory, keeps the two threads in step.
AHEAD = 4


class InlineWriter:
    """Runs each job at once on the calling thread (dry runs, and the plain path)."""

    threaded = False

    def submit(self, job) -> None:
        job()

    def drain(self) -> None:
        pass

    def close(self) -> None:
        pass


class ThreadWriter:
    """Runs jobs in order on one thread with its own database connection."""

    threaded = True

    def __init__(self):
        self._jobs = queue.Queue(maxsize=AHEAD)
        self._error = None
        self._thread = threading.Thread(target=self._work, name="whmcs-write", daemon=True)
        self._thread.start()

    def submit(self, job) -> None:
        self._raise_failure()  # stop mapping as soon as a batch has failed
        self._jobs.put(job)

    def drain(self) -> None:
        """Wait until every job given so far is written; raise the first failure."""
        self._jobs.join()
        self._raise_failure()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        failed = False
        try:
            with few_checkpoints():  # a pragma of this thread's own connection
                while True:
                    job = self._jobs.get()
                    try:
                        if job is None:
                            return
                        if not failed:
                            job()
                    except BaseException as exc:  # handed to the importing thread by drain()
                        failed, self._error = True, exc
                    finally:
                        self._jobs.task_done()
        finally:
            database.close()  # this thread's connection


def writer_for(dry_run: bool):
    """The thread writer where a second connection sees the same database; else inline."""
    if dry_run or getattr(database.obj, "database", None) in (":memory:", ""):
        return InlineWriter()
    return ThreadWriter()
