"""The one way hostdesk runs work in a process of its own: `python -m MODULE`, fed pickled
messages on its standard input and answering on its standard output
(`multiprocessing.connection.Connection` messages over the two pipes). The child never
imports the caller's main script. Used by the daily run's planner (`models.work_ahead`) and
the WHMCS import's writer (`automation.whmcs.write_process`)."""

import os
import pickle
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection


class _no_ctrl_c:
    """Ctrl+c ignored meanwhile (on the main thread: the only one that may set it)."""

    def __enter__(self):
        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def start_child(module: str, *args: str) -> tuple[subprocess.Popen, Connection, Connection]:
    """Start `python -m module args`; returns it, the connection its messages go down and the
    one its answers come back on. It starts with ctrl+c ignored: the caller, which gets it,
    ends the child. Raises OSError when it cannot start."""
    with _no_ctrl_c():  # inherited: ctrl+c never interrupts the child as it starts
        process = subprocess.Popen([sys.executable, "-m", module, *args],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sending = Connection(os.dup(process.stdin.fileno()), readable=False)
    answers = Connection(os.dup(process.stdout.fileno()), writable=False)
    process.stdin.close()  # the Connections hold the pipes now
    process.stdout.close()
    return process, sending, answers


def child_connections() -> tuple[Connection, Connection]:
    """In the child: the connection its messages come on and the one it answers on. Ctrl+c is
    ignored, and whatever it prints goes to standard error, not into the answers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited ignored too; a direct one also
    messages = Connection(os.dup(0), writable=False)
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    return messages, answers


def portable(exc: Exception, wrapper: type[Exception] = RuntimeError) -> Exception:
    """`exc` as the parent can be given it (its type and message kept), or as `wrapper` with
    its text when it does not pickle."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        return wrapper(f"{type(exc).__name__}: {exc}")
