"""The worker loop: heartbeat, planning pass, outbox relay; again after a pause.

One pass is the unit of work: ``duespark worker --once`` runs one and exits (for cron and
tests), ``duespark worker`` repeats it, and ``duespark serve`` runs the same loop in a
background thread. Stopping (SIGTERM) is checked between messages, so the message in hand
is finished and marked before the process exits.

Several workers may run against one PostgreSQL database: planning is protected by the
ledger's unique key and relaying by row claims, so they share the work without sending
anything twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from duespark import clock
from duespark.auth import repository as auth_repository
from duespark.auth.throttle import WINDOW as THROTTLE_WINDOW
from duespark.config import Settings
from duespark.db import Database
from duespark.email.sender import EmailSender, from_address
from duespark.idempotency import repository as idempotency_repository
from duespark.idempotency.service import RETENTION as IDEMPOTENCY_RETENTION
from duespark.kit.signal_event import SignalEvent
from duespark.models import WorkerHeartbeat
from duespark.outbox.relay import relay_once
from duespark.reminders.planning import plan_batch, planning_horizon
from duespark.web import repository as web_sessions

logger = logging.getLogger("duespark.worker")

DEFAULT_INTERVAL_SECONDS = 30.0
MAX_RELAY_ROUNDS = 100
# Longer than the throttle window, so pruning never shortens a lockout.
FAILURE_RETENTION = THROTTLE_WINDOW * 4


@dataclass
class PassResult:
    planned_invoices: int = 0
    queued: int = 0
    skipped: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0


class Worker:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        sender: EmailSender,
        *,
        worker_id: str | None = None,
        now_fn: Callable[[], datetime] = clock.utc_now,
        stop_event: threading.Event | SignalEvent | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.sender = sender
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.now_fn = now_fn
        self.stop_event: threading.Event | SignalEvent = stop_event or threading.Event()
        self.started_at = now_fn()

    def run_once(self) -> PassResult:
        """One full pass: heartbeat, plan every open invoice, relay every due email."""
        result = PassResult()
        self.beat()
        self.plan_pass(result)
        self.relay_pass(result)
        self.beat()
        return result

    def plan_pass(self, result: PassResult | None = None) -> PassResult:
        """Plan every open invoice, a batch per transaction; counts go into ``result``."""
        result = result if result is not None else PassResult()
        after_id = 0
        with self.database.session_scope() as session:
            due_by = planning_horizon(session, now=self.now_fn())
        while not self.stop_event.is_set():
            with self.database.session_scope() as session:
                batch = plan_batch(
                    session,
                    settings=self.settings,
                    now=self.now_fn(),
                    after_id=after_id,
                    due_by=due_by,
                )
            result.planned_invoices += batch.invoices
            result.queued += batch.queued
            result.skipped += batch.skipped
            after_id = batch.last_invoice_id
            if batch.done:
                break
        return result

    def relay_pass(self, result: PassResult | None = None) -> PassResult:
        """Send every due email (up to ``MAX_RELAY_ROUNDS`` claims); counts go into
        ``result``."""
        result = result if result is not None else PassResult()
        for _ in range(MAX_RELAY_ROUNDS):
            if self.stop_event.is_set():
                break
            relayed = relay_once(
                self.database,
                self.sender,
                worker_id=self.worker_id,
                now_fn=self.now_fn,
                from_address=from_address(self.settings),
                lease=timedelta(seconds=self.settings.outbox_lease_seconds),
                should_stop=self.stop_event.is_set,
            )
            result.sent += relayed.sent
            result.failed += relayed.failed
            result.dead += relayed.dead
            result.cancelled += relayed.cancelled
            if relayed.sent + relayed.failed + relayed.dead + relayed.cancelled == 0:
                break
        return result

    def run_forever(self, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        logger.info("worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                result = self.run_once()
                if result.queued or result.sent or result.failed or result.dead:
                    logger.info("worker pass: %s", result)
            except Exception:
                # A failed pass (database away, say) must not kill the loop; the next one
                # retries, and nothing was committed half-way.
                logger.exception("worker pass failed; retrying in %.0f s", interval)
            self.stop_event.wait(interval)
        logger.info("worker %s stopped", self.worker_id)

    def beat(self) -> None:
        """Record that this worker is alive, and tidy what only grows: failed-login rows
        older than any throttle window, idempotency keys past their retention and web
        sessions that have ended are dropped here, once per pass."""
        now = self.now_fn()
        with self.database.session_scope() as session:
            auth_repository.prune_failures(session, before=now - FAILURE_RETENTION)
            idempotency_repository.prune(session, before=now - IDEMPOTENCY_RETENTION)
            web_sessions.prune(session, before=now)
            session.merge(
                WorkerHeartbeat(
                    worker_id=self.worker_id[:200],
                    hostname=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=self.started_at,
                    last_seen_at=now,
                )
            )
