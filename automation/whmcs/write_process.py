"""The writer process of a first import (`pipeline.ProcessWriter`): runs the jobs it reads,
in order, in one transaction on one SQLite file, and answers each.

    python -m hostdesk.automation.whmcs.write_process PATH

Jobs come pickled on standard input and answers go back on standard output, as
`multiprocessing.connection.Connection` messages; anything printed goes to standard error.
The end of standard input without a commit (the importing process closed it, or died) rolls
everything back. Ctrl+c is ignored: the importing process, which gets it, ends the writer.
"""

import queue
import sys
import threading
from multiprocessing.connection import Connection

from hostdesk.automation.whmcs.pipeline import (
    AHEAD,
    COMMIT,
    DONE,
    ENDED,
    FAILED,
    SKIPPED,
    STOP,
    WriterError,
)
from hostdesk.models.child_process import child_connections, portable
from hostdesk.models.db import bind, bounded_page_cache, database, few_checkpoints

# SQLite page cache of a one-transaction writer: a 100,000-service import writes ~250 MB.
ONE_TRANSACTION_CACHE_KIB = 262_144


class _RollBack(Exception):
    """Leaves the writer's outer transaction by rolling it back."""


def serve(path: str, jobs: Connection, answers: Connection) -> None:
    """Run the jobs received, in order, in one transaction; answer each (its result, its
    error, or skipped after a failure) and at the end whether it committed."""
    bind(path)
    received = queue.Queue(maxsize=AHEAD)  # read (unpickled) while the job before is written
    threading.Thread(target=_receive_jobs, args=(jobs, received), daemon=True).start()
    failed, committed = False, False
    try:
        with few_checkpoints(), bounded_page_cache(ONE_TRANSACTION_CACHE_KIB):
            try:
                with database.atomic():
                    while (job := received.get()) not in (COMMIT, STOP):
                        if failed:
                            answers.send((SKIPPED, None))
                            continue
                        try:
                            answers.send((DONE, job()))
                        except Exception as exc:  # its batch's own transaction rolled back
                            failed = True
                            answers.send((FAILED, portable(exc, WriterError)))
                    if job != COMMIT or failed:
                        raise _RollBack()
                committed = True
            except _RollBack:
                pass
    except Exception as exc:  # the commit itself failed
        _answer(answers, (FAILED, portable(exc, WriterError)))
        return
    finally:
        database.close()
    _answer(answers, (ENDED, committed))


def _answer(answers: Connection, message) -> None:
    try:
        answers.send(message)
    except OSError:
        pass  # the importing process is gone: nobody is left to tell


def _receive_jobs(jobs: Connection, received: queue.Queue) -> None:
    while True:
        try:
            job = jobs.recv()
        except (OSError, EOFError):  # the importing process is gone: roll back
            job = STOP
        except Exception as exc:  # noqa: BLE001 - a job that could not be read fails as one
            job = _failing(WriterError(f"the writer could not read a job: {exc}"))
        received.put(job)
        if job in (COMMIT, STOP):
            return


class _failing:
    def __init__(self, error: Exception):
        self.error = error

    def __call__(self):
        raise self.error


def main() -> int:
    jobs, answers = child_connections()
    serve(sys.argv[1], jobs, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
