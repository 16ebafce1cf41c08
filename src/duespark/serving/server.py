"""A uvicorn server that drains before it stops.

Stock uvicorn stops accepting the moment SIGTERM arrives. Behind a load balancer that is
too early: the balancer keeps routing to the process until its readiness probe has failed
``fall`` times, and those requests are refused (measured in the ops research, section 3.6).
So the first SIGTERM/SIGINT here only flips the drain flag (``/readyz`` answers 503) and
starts a timer; the server keeps accepting and serving for ``drain_seconds``, and only then
runs uvicorn's own shutdown: stop accepting, close idle keep-alive connections, let
requests in flight finish (bounded by ``timeout_graceful_shutdown``), lifespan shutdown.

Signals:

* first SIGTERM or SIGINT: drain, then shut down;
* another one during the drain: end the drain now (an impatient operator), requests in
  flight still finish;
* SIGINT once shutdown has begun: stop waiting for requests in flight (uvicorn's
  "CTRL+C to force quit");
* a repeat within ``SIGNAL_REPEAT_WINDOW_S`` of the previous signal is the same event
  delivered twice (Ctrl+C reaches a whole process group, systemd signals a whole cgroup, and
  the ``--workers`` supervisor forwards it too), so it is ignored.

Exit status: uvicorn re-raises the signal after a graceful shutdown (exit -15/-2). A drained
stop is the *expected* end of a deployment, not a failure, so this server does not re-raise
and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from duespark.serving.drain import DrainState

logger = logging.getLogger("uvicorn.error")

SIGNAL_REPEAT_WINDOW_S = 0.5


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` with a drain period between the stop signal and the shutdown.

    ``on_started`` runs once the sockets listen (the ``serve`` command announces the port
    there, and ``--workers`` children report they are ready); ``on_shutdown`` runs when
    the drain is over and shutdown begins (the embedded worker is told to stop then, so it
    finishes its email while requests in flight finish).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain: DrainState,
        drain_seconds: float,
        on_started: Callable[[DrainingServer], None] | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_seconds = drain_seconds
        self.on_started = on_started
        self.on_shutdown = on_shutdown
        self._drain_until: float | None = None
        self._last_signal_at: float | None = None
        # Messages from the signal handler, logged from the event loop: logging inside a
        # handler could re-enter a handler lock the interrupted code holds.
        self._notes: list[str] = []

    def listening_addresses(self) -> list[tuple[str, int]]:
        """(host, port) of every listening socket, with the real port when 0 was asked."""
        found = []
        for server in self.servers:
            for listening in server.sockets:
                if listening.family in (socket.AF_INET, socket.AF_INET6):
                    host, port = listening.getsockname()[:2]
                    found.append((host, port))
        return found

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started(self)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Deliberately not calling super(): it records the signal so that uvicorn re-raises
        # it after shutdown, which would turn a clean drain into exit status -15.
        now = time.monotonic()
        if self._last_signal_at is not None and now - self._last_signal_at < (
            SIGNAL_REPEAT_WINDOW_S
        ):
            return
        self._last_signal_at = now
        name = signal.Signals(sig).name
        if not self.drain.is_draining:
            self.drain.begin()
            self._drain_until = now + self.drain_seconds
            self._notes.append(
                f"Received {name}: draining for {self.drain_seconds:g} s (/readyz answers "
                f"503, requests are still served); send {name} again to stop sooner"
            )
        elif not self.should_exit:
            self._drain_until = now
            self._notes.append(
                f"Received {name} again: ending the drain now; requests in flight finish"
            )
        elif sig == signal.SIGINT:
            self.force_exit = True
            self._notes.append("Received SIGINT during shutdown: not waiting any longer")

    async def on_tick(self, counter: int) -> bool:
        while self._notes:
            logger.info(self._notes.pop(0))
        if (
            self._drain_until is not None
            and not self.should_exit
            and time.monotonic() >= self._drain_until
        ):
            logger.info("Drain period over after %.1f s", self.drain.seconds_draining())
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Shutdown can also start without a signal (uvicorn's --limit-max-requests): say
        # "not ready" then too, for the few moments the process still answers.
        self.drain.begin()
        if self.on_shutdown is not None:
            self.on_shutdown()
        await super().shutdown(sockets)
