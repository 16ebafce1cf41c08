"""An event a signal handler may set: the stop flag of ``duespark worker`` and of the
``duespark serve`` parent.

``threading.Event.set`` takes the event's lock. A Python signal handler runs on the main
thread, between two bytecodes of whatever it was doing, so when SIGTERM lands while the
main thread is inside that same event's ``wait`` or ``clear`` (holding the lock),
``set`` waits for a lock its own thread holds: the process hangs for good, deaf to every
later SIGTERM. A worker stopped by a deploy once did exactly that.

:class:`SignalEvent` takes no lock. ``set`` is an assignment and a non-blocking write to a
pipe; ``wait`` is a ``select`` on the pipe, which the write wakes (and which a signal
alone does not end early: Python retries it with the time left, PEP 475).
"""

from __future__ import annotations

import contextlib
import os
import select


class SignalEvent:
    """``is_set``, ``set``, ``clear`` and ``wait`` as :class:`threading.Event` has them,
    safe to call from a signal handler and from any thread. :meth:`close` releases the
    pipe."""

    def __init__(self) -> None:
        self._flag = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        with contextlib.suppress(BlockingIOError, OSError):
            # A full pipe already holds a wake-up; a closed one has nobody left to wake.
            os.write(self._write, b"!")

    def clear(self) -> None:
        self._flag = False
        self._drain()

    def wait(self, timeout: float | None = None) -> bool:
        """Until set, or ``timeout`` seconds; whether it is set."""
        if not self._flag:
            select.select([self._read], [], [], timeout)
        return self._flag

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(self._read, 4096):
                pass
