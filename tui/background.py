"""The one way a screen runs database (or module) work off the UI thread and reports back.

`run_in_background(node, work, done, failed)` runs `work()` in a thread worker with a
database connection open, then calls `done(result)` or `failed(error)` on the UI thread, as
a message to `node`: a node that has gone (the screen was closed) gets nothing, and the
answer of a worker replaced by a newer one of the same group (`exclusive`) is dropped, so a
slow old answer never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Callable

from textual.dom import DOMNode
from textual.worker import Worker, active_worker, get_current_worker

from hostdesk.models.db import connection


def run_in_background(node: DOMNode, work: Callable[[], Any],
                      done: Callable[[Any], None] | None = None,
                      failed: Callable[[Exception], None] | None = None, *,
                      group: str = "default", exclusive: bool = True,
                      description: str = "") -> Worker:
    """Run `work()` in a thread; `done(result)` or `failed(error)` back on the UI thread.

    Without `failed`, an error is said in a notification (never a traceback)."""

    def said(error: Exception) -> None:
        node.app.notify(str(error) or type(error).__name__, title="Failed", severity="error",
                        timeout=10)

    def deliver(callback: Callable, value: Any) -> None:
        # What the callback returns is not awaited: `dismiss` may not be awaited from the
        # screen's own message handler.
        callback(value)

    answer: Future = Future()

    def read() -> None:
        active_worker.set(worker)  # `get_current_worker()` in `work` answers as in a worker
        if not answer.set_running_or_notify_cancel():  # running now: it cannot be cancelled
            return
        try:
            with connection():
                answer.set_result(work())
        except Exception as error:  # noqa: BLE001 - reported to the screen, never raised
            answer.set_exception(error)

    async def body() -> None:
        worker = get_current_worker()
        try:
            result = await asyncio.wrap_future(answer)
        except Exception as error:  # noqa: BLE001 - reported to the screen, never raised
            callback, value = failed or said, error
        else:
            callback, value = done, result
        if callback is not None and not worker.is_cancelled:
            node.call_later(deliver, callback, value)

    worker = node.run_worker(body, exclusive=exclusive, group=group,
                             exit_on_error=False, description=description or group)
    # The thread starts now, not when the event loop next gets to the worker: a screen
    # coming on top is restyled and laid out first, and its read waited 40-250 ms for that
    # on a busy machine; now the two run side by side (the read mostly waits on the
    # database, without the GIL).
    # Not a daemon: a command still writing when the admin quits finishes before the process
    # ends, as it did in Textual's own worker threads.
    threading.Thread(target=read, name=f"hostdesk {description or group}").start()
    return worker
