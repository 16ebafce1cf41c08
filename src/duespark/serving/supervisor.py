"""Run the server: one process, or ``workers`` processes sharing one listening socket.

One process (the default): the app, the drain-aware server and, unless turned off, the
embedded reminder worker in a background thread.

Several processes (``--workers N``): the parent binds the socket once, starts N children
with the ``spawn`` method (a fresh interpreter each, as uvicorn's own ``--workers`` does;
forking a process that already holds database connections and threads is unsafe), and
announces the address only when every child is serving. Each child loads the parent's
settings, builds its own app and database engine, and drains on SIGTERM exactly as a single
process does. The parent forwards SIGTERM/SIGINT to every child, replaces a child that dies
while serving, and exits 0 once all children have drained and exited 0.

Everything the processes must agree on lives in the database, never in process memory:
login failures (throttling), refresh tokens (rotation and reuse detection) and outbox
claims. The embedded worker runs in every child on PostgreSQL (row claims and the ledger's
unique key make concurrent workers safe) but only in child 0 on SQLite, where concurrent
writers only contend for the single database lock.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from types import FrameType

import uvicorn

from duespark.app import create_app
from duespark.config import Settings
from duespark.db import Database
from duespark.email.sender import sender_from_settings
from duespark.kit.signal_event import SignalEvent
from duespark.serving.server import DrainingServer
from duespark.worker.main import Worker

multiprocessing.allow_connection_pickling()  # listening sockets travel to spawned children
_spawn = multiprocessing.get_context("spawn")

WORKER_JOIN_TIMEOUT_S = 30.0
CHILD_START_TIMEOUT_S = 60.0
EXIT_FAILED = 1


@dataclass(frozen=True)
class ServeOptions:
    """What ``duespark serve`` was asked for; picklable, it is sent to every child."""

    host: str
    port: int
    drain_seconds: float
    shutdown_timeout: int
    embedded_worker: bool
    workers: int = 1

    def uvicorn_config(self, app: object) -> uvicorn.Config:
        return uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=self.host,
            port=self.port,
            log_level="info",
            access_log=False,
            timeout_graceful_shutdown=self.shutdown_timeout,
        )


class _EmbeddedWorker:
    """The reminder worker in a daemon thread; ``stop`` lets it finish the email in hand."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.stop_event = threading.Event()
        runner = Worker(
            database, settings, sender_from_settings(settings), stop_event=self.stop_event
        )
        self.thread = threading.Thread(
            target=runner.run_forever, name="duespark-worker", daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()

    def join(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=WORKER_JOIN_TIMEOUT_S)


def _run_server(
    settings: Settings,
    database: Database,
    options: ServeOptions,
    *,
    run_worker: bool,
    sockets: list[socket.socket] | None,
    on_started: Callable[[DrainingServer], None],
) -> None:
    """Serve until drained, then stop the embedded worker (after its email in hand)."""
    app = create_app(settings, database=database)
    background = _EmbeddedWorker(database, settings) if run_worker else None
    server = DrainingServer(
        options.uvicorn_config(app),
        drain=app.state.drain,
        drain_seconds=options.drain_seconds,
        on_started=on_started,
        on_shutdown=background.stop if background is not None else None,
    )
    try:
        server.run(sockets=sockets)
    finally:
        if background is not None:
            background.join()


def serve_one(
    settings: Settings,
    database: Database,
    options: ServeOptions,
    on_started: Callable[[DrainingServer], None],
) -> int:
    """Serve in this process; 0 after a drained stop."""
    _run_server(
        settings,
        database,
        options,
        run_worker=options.embedded_worker,
        sockets=None,
        on_started=on_started,
    )
    return 0


def _child_main(
    settings: Settings,
    options: ServeOptions,
    index: int,
    listening: socket.socket,
    ready: Queue[tuple[int, int]],
) -> None:
    """Entry point of one ``--workers`` child (module level: ``spawn`` pickles it)."""
    database = Database(settings)
    _run_server(
        settings,
        database,
        options,
        run_worker=options.embedded_worker and (index == 0 or not settings.is_sqlite),
        sockets=[listening],
        on_started=lambda _server: ready.put((index, os.getpid())),
    )


def bind(host: str, port: int) -> socket.socket:
    """The listening socket every child shares (bound once, so ``--port 0`` works too)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening


class Supervisor:
    """The ``--workers`` parent: start, watch and stop the children.

    Signals are only queued by the handler and acted on by the loop, so nothing heavy runs
    inside a signal handler.
    """

    def __init__(self, settings: Settings, options: ServeOptions) -> None:
        self.settings = settings
        self.options = options
        self.listening = bind(options.host, options.port)
        self.ready: Queue[tuple[int, int]] = _spawn.Queue()
        self.children: list[SpawnProcess] = []
        self.signals: list[int] = []
        # Set by the signal handler: a threading.Event could deadlock there.
        self.wake = SignalEvent()
        self.stopping = False

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.listening.getsockname()[:2]
        return host, port

    def _start_child(self, index: int) -> SpawnProcess:
        child = _spawn.Process(
            target=_child_main,
            args=(self.settings, self.options, index, self.listening, self.ready),
            name=f"duespark-serve-{index}",
        )
        child.start()
        return child

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self.signals.append(sig)
        self.wake.set()

    def _forward(self, sig: int) -> None:
        for child in self.children:
            if child.pid is not None and child.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, sig)

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if not self.stopping:
                self.stopping = True
                # Children hold their own copies; the parent's would keep the port open
                # (queuing connections nobody accepts) after the children stop accepting.
                self.listening.close()
            self._forward(sig)

    def _wait_until_ready(self) -> bool:
        started: set[int] = set()
        deadline = time.monotonic() + CHILD_START_TIMEOUT_S
        while len(started) < len(self.children):
            if self.signals or time.monotonic() > deadline:
                return False
            if any(child.exitcode is not None for child in self.children):
                return False
            try:
                index, _pid = self.ready.get(timeout=0.2)
            except queue.Empty:
                continue
            started.add(index)
        return True

    def run(self, announce: Callable[[str, int, list[int]], None]) -> int:
        """Serve until signalled and drained; 0 when every child drained and exited 0."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            self.children = [self._start_child(index) for index in range(self.options.workers)]
            if not self._wait_until_ready():
                # Asked to stop while starting: drain what started. A child that died or
                # a start that took too long: stop the others and fail.
                asked_to_stop = bool(self.signals)
                if not asked_to_stop:
                    self.signals.append(signal.SIGTERM)
                self._handle_signals()
                self._join_all()
                return 0 if asked_to_stop and not self._any_failed() else EXIT_FAILED
            host, port = self.address
            announce(host, port, [child.pid or 0 for child in self.children])
            while not self.stopping:
                self.wake.wait(0.2)
                self.wake.clear()
                self._handle_signals()
                if not self.stopping:
                    self._replace_dead_children()
            self._join_all()
            return EXIT_FAILED if self._any_failed() else 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.listening.fileno() != -1:
                self.listening.close()
            self.wake.close()

    def _replace_dead_children(self) -> None:
        for index, child in enumerate(self.children):
            if child.exitcode is not None:
                replacement = self._start_child(index)
                self.children[index] = replacement

    def _any_failed(self) -> bool:
        return any(child.exitcode != 0 for child in self.children)

    def _join_all(self) -> None:
        """Wait for every child, forwarding further signals; kill any that outlive the
        bound (drain + shutdown timeout + the worker's email), so the parent always ends."""
        bound = self.options.drain_seconds + self.options.shutdown_timeout
        deadline = time.monotonic() + bound + WORKER_JOIN_TIMEOUT_S + 5
        while any(child.exitcode is None for child in self.children):
            if time.monotonic() > deadline:
                for child in self.children:
                    if child.exitcode is None:
                        child.kill()
                        child.join(timeout=5)
                return
            self.wake.wait(0.1)
            self.wake.clear()
            self._handle_signals()  # a second signal reaches the children too
