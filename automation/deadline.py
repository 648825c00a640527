"""A total deadline for one conversation with a remote server.

Socket timeouts apply to each read: a server that answers one byte every two seconds never
trips a five-second timeout and can hold a call for as long as it likes. A `Deadline` shuts
the connection's socket down when the whole call's time is up, so the blocked read returns
at once and the caller reports the timeout.
"""

import socket
import threading
import time


class Deadline:
    def __init__(self):
        self._lock = threading.Lock()
        self._handles: list[socket.socket] = []
        self._timer: threading.Timer | None = None
        self.expired = False
        self.seconds = 0.0

    def adopt(self, sock: socket.socket) -> socket.socket:
        """Watch `sock` (plain or TLS): a handle on the same connection is kept, since a TLS
        wrap detaches the original object."""
        handle = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._handles.append(handle)
            if self.expired:
                _shut(handle)
        return sock

    def arm(self, seconds: float) -> None:
        """Start (or restart) the countdown for one call."""
        self.disarm()
        with self._lock:
            self.expired, self.seconds = False, seconds
            self._started = time.monotonic()
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.seconds - (time.monotonic() - self._started))

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for handle in self._handles:
                _shut(handle)

    def close(self) -> None:
        """Forget the connections watched so far (they are closed or about to be)."""
        self.disarm()
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _shut(handle: socket.socket) -> None:
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed
