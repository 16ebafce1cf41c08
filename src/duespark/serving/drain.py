"""The drain flag one server process shares with the application it serves.

A load balancer only stops routing to a process after its readiness probe has failed a few
times, so a process that is asked to stop must first *say* it is going (``/readyz`` 503)
while it keeps serving, and only later stop accepting. The server flips this flag on the
first SIGTERM/SIGINT; ``/readyz`` reads it from ``app.state.drain``. It is an object per
application rather than a module global so that several apps in one process (tests) and
several processes (``--workers``) never see each other's state.
"""

from __future__ import annotations

import threading
import time


class DrainState:
    """Whether this process is draining, and since when (monotonic clock).

    Set from a signal handler on the event loop's thread, read from request threads; a
    ``threading.Event`` makes both sides safe without further locking.
    """

    def __init__(self) -> None:
        self._draining = threading.Event()
        self._since: float | None = None

    def begin(self) -> None:
        """Start draining (idempotent: the first call's time is kept)."""
        if not self._draining.is_set():
            self._since = time.monotonic()
            self._draining.set()

    @property
    def is_draining(self) -> bool:
        return self._draining.is_set()

    def seconds_draining(self) -> float:
        """Seconds since draining began, 0 when not draining."""
        return 0.0 if self._since is None else time.monotonic() - self._since
