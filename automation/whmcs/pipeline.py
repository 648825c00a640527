"""The import's writer: batches written by a thread or a process of their own while the steps
map the next.

Every write of an import goes through its writer (`submit` for a batch, `call` for a write
whose result the importing side needs), on the writer's own connection, in the order given.
A job is a callable (a module-level function with its arguments bound by
`functools.partial`, so that it may be sent to another process) and its optional `then` is
given its result on the importing side's terms (`ThreadWriter`: on the writer's thread, as
before; `ProcessWriter`: in the importing process, as the answers come back). Each job is one
batch in its own transaction: the same batches and transactions as writing inline. The first
job that fails is rolled back (its transaction) and no later job runs; `drain()` raises its
error on the importing side, so a failed batch stops the import exactly as it does inline.

- `InlineWriter`: each job at once (dry runs, in-memory databases, and the plain path the
  tests compare with); `one_transaction` holds one outer transaction, committed by
  `commit()`, rolled back by `close()` without it.
- `ProcessWriter`: the first import into an empty SQLite hostdesk (`bulk_load`), one outer
  transaction in a process of its own (`write_process`, started as `python -m`, fed over its
  standard input: as the billing workers are). Mapping a row is Python and so is most of
  writing it: as two threads they took turns on one core (Python's lock); as two processes
  they use both. Its jobs are plain values: the import numbers the rows itself, so the
  writer only inserts.
- `ThreadWriter`: every other import (a rerun, PostgreSQL), whose jobs need ids that only the
  writer learns (closures over the import's state): the database driver lets go of Python's
  lock while the database works, so those writes still overlap the mapping.

A dry run writes inline: its single outer transaction (rolled back at the end) lives on the
importing thread's connection, which a second connection could not see into.
"""

import queue
import subprocess
import sys
import threading
import time
from collections import deque

from hostdesk.models.child_process import start_child
from hostdesk.models.db import database, few_checkpoints

# Batches mapped ahead of the writer at most: bounds memory, keeps the two sides in step.
AHEAD = 8
# How long a thread waits for Python's lock before asking the holder for it, while a writer
# thread runs (Python's default: 5 ms). The writer takes the lock back after each statement
# SQLite ran without it: thousands of statements, each waiting up to the interval on the busy
# mapping thread, had the writer (the import's critical path) idle for seconds.
SWITCH_INTERVAL = 0.0005
# The longest wait for one answer of the writer process (its last job, the indexes and search
# rebuilt at the end of a large load, takes a minute at most): past it the import fails.
WAIT_SECONDS = 600.0
# How long a writer process told to stop (cancel, failure) may take to roll back and end.
STOP_SECONDS = 30.0

# The writer process's module (`python -m`), what the importing process sends it besides
# jobs, and what it answers.
WRITER_MODULE = "hostdesk.automation.whmcs.write_process"
COMMIT, STOP = "commit", "stop"  # STOP: when the importing process ends the pipe
DONE, FAILED, SKIPPED, ENDED = "done", "failed", "skipped", "ended"


class WriterError(RuntimeError):
    """The writer process stopped or stopped answering: nothing of the import is kept."""


class _RollBack(Exception):
    """Leaves the writer's outer transaction by rolling it back."""


class InlineWriter:
    """Runs each job at once on the calling thread (dry runs, and the plain path)."""

    def __init__(self, one_transaction: bool = False):
        self._outer = database.atomic() if one_transaction else None
        if self._outer is not None:
            self._outer.__enter__()

    def submit(self, job, then=None) -> None:
        result = job()
        if then is not None:
            then(result)

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


class _BackgroundWriter:
    """What the thread and the process writers share: `submit` and `drain` are theirs."""

    def call(self, job):
        """Run `job` on the writer after every job given so far; its result, or its error."""
        result = []
        self.submit(job, then=result.append)
        self.drain()
        return result[0]


class ThreadWriter(_BackgroundWriter):
    """Runs jobs in order on one thread with its own database connection, each committed."""

    def __init__(self):
        self._jobs = queue.Queue(maxsize=AHEAD)
        self._error = None
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        self._thread = threading.Thread(target=self._work, name="whmcs-write", daemon=True)
        self._thread.start()

    def submit(self, job, then=None) -> None:
        self._raise_failure()  # stop mapping as soon as a batch has failed
        self._jobs.put((job, then))

    def drain(self) -> None:
        """Wait until every job given so far is written; raise the first failure."""
        self._jobs.join()
        self._raise_failure()

    def commit(self) -> None:
        self.drain()  # each job committed its own transaction

    def close(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        sys.setswitchinterval(self._interval)

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        failed = False
        try:
            with few_checkpoints():  # a pragma of this thread's own connection
                while (item := self._jobs.get()) is not None:
                    try:
                        if not failed:
                            job, then = item
                            result = job()
                            if then is not None:
                                then(result)
                    except BaseException as exc:  # handed to the importing thread by drain()
                        failed, self._error = True, exc
                    finally:
                        self._jobs.task_done()
                self._jobs.task_done()
        finally:
            database.close()  # this thread's connection


class ProcessWriter(_BackgroundWriter):
    """Runs jobs in order in a process of its own (`python -m` WRITER_MODULE, as the billing
    workers run), in one transaction on the SQLite file at `path`, committed by `commit()`;
    `close()` without it (a failure, ctrl+c) rolls it all back. The process ignores ctrl+c:
    the importing process, which gets it, ends the writer.

    Jobs go pickled down the child's standard input and its answers come back on its standard
    output (length-prefixed messages: `multiprocessing.connection.Connection` over the two
    pipes); answers are taken as they come (`then` of each job, in order) whenever the
    importing side submits or waits. Every wait has a deadline and notices a writer that
    died."""

    def __init__(self, path: str):
        try:
            self._process, self._jobs, self._answers = start_child(WRITER_MODULE, path)
        except OSError as exc:
            raise WriterError(f"the writer process could not start: {exc}") from None
        self._waiting = deque()  # the `then` of each job sent and not answered yet
        self._error = None
        self._ended = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def submit(self, job, then=None) -> None:
        self._take_answers(wait=False)
        while len(self._waiting) >= AHEAD:  # so the writer has room for it: a send does not
            # wait on a busy (or stuck) writer, only answers do, with a deadline
            self._take_answer()
        self._raise_failure()  # stop mapping as soon as a batch has failed
        self._send(job)
        self._waiting.append(then)

    def drain(self) -> None:
        self._take_answers(wait=True)
        self._raise_failure()

    def commit(self) -> None:
        """Commit the one transaction and end the writer; raises the first failure (then
        everything was rolled back)."""
        self._send(COMMIT)
        self._take_answers(wait=True)
        kind, value = self._receive()
        self._end()
        self._raise_failure()
        if kind == FAILED:
            raise value
        if not value:
            raise RuntimeError("a batch failed: the import's writes were rolled back")

    def close(self) -> None:
        """End the writer; without `commit()` everything it wrote is rolled back."""
        if not self._ended:
            # the end of the pipe is the writer's cue to roll back and end (nothing is sent:
            # a job cut short by ctrl+c, or a writer stuck, cannot hold this up)
            self._jobs.close()
            deadline = time.monotonic() + STOP_SECONDS
            try:
                while self._answers.poll(max(0.0, deadline - time.monotonic())):
                    if self._answers.recv()[0] == ENDED:
                        break
            except (OSError, EOFError):
                pass  # it is gone already
            self._end()

    def _end(self) -> None:
        self._ended = True
        try:
            self._process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:  # its transaction was never committed: nothing is kept
            self._process.kill()
            self._process.wait()
        self._jobs.close()
        self._answers.close()

    def _send(self, message) -> None:
        try:
            self._jobs.send(message)
        except (OSError, EOFError):
            raise self._gone() from None

    def _take_answers(self, *, wait: bool) -> None:
        """The writer's answers to the jobs sent: every one (waiting for each), or those
        already there."""
        while self._waiting and (wait or self._answers.poll()):
            self._take_answer()

    def _take_answer(self) -> None:
        kind, value = self._receive()
        then = self._waiting.popleft()
        if kind == DONE and then is not None:
            then(value)
        elif kind == FAILED and self._error is None:
            self._error = value

    def _receive(self) -> tuple:
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._answers.poll(1.0):
            if self._process.poll() is not None:
                raise self._gone()
            if time.monotonic() > deadline:
                raise WriterError(f"the writer process answered nothing for {WAIT_SECONDS:.0f} s: "
                                  "the import was stopped and nothing of it was kept")
        try:
            return self._answers.recv()
        except (OSError, EOFError):
            raise self._gone() from None

    def _gone(self) -> WriterError:
        try:
            self._process.wait(1.0)
        except subprocess.TimeoutExpired:
            pass
        return WriterError(f"the writer process stopped (exit code {self._process.returncode}): "
                           "nothing of the import was kept")

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def writer_for(inline: bool, *, bulk: bool = False):
    """The writer of an import: inline when asked (a dry run) or where a second connection
    would not see the same database (in memory); a process for a first import loaded in
    bulk; else a thread."""
    path = getattr(database.obj, "database", None)
    if inline or path in (":memory:", "", None):
        return InlineWriter(one_transaction=bulk)
    if bulk:
        return ProcessWriter(path)
    return ThreadWriter()
