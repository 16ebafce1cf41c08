"""Cheap questions about the running system, asked the same way by ``duespark status``,
``duespark incident snapshot`` and ``GET /metrics``.

Each is one indexed query (the outbox's ``(status, next_attempt_at)`` index, the tiny
heartbeat table), so a scrape every few seconds or a status check during an incident
adds no load worth mentioning. They read the database, not process memory, so every
server and worker process reports the same fleet-wide numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from duespark.models import OutboxMessage, Reminder, WorkerHeartbeat
from duespark.models.outbox_message import OUTBOX_STATUSES


@dataclass(frozen=True)
class OutboxFacts:
    """How much mail waits, and how late the latest of it is."""

    counts: dict[str, int]
    due: int
    oldest_due_at: datetime | None

    @property
    def pending(self) -> int:
        return self.counts.get("pending", 0)

    @property
    def dead(self) -> int:
        return self.counts.get("dead", 0)

    def oldest_due_age_seconds(self, now: datetime) -> float:
        """How long the longest-waiting due message has been due (0 when none is)."""
        if self.oldest_due_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_due_at).total_seconds())


@dataclass(frozen=True)
class HeartbeatFacts:
    """The freshest sign of life among all workers, and how many have ever reported."""

    workers: int
    last_seen_at: datetime | None
    last_worker_id: str | None

    def age_seconds(self, now: datetime) -> float | None:
        if self.last_seen_at is None:
            return None
        return max(0.0, (now - self.last_seen_at).total_seconds())


def outbox_facts(connection: Connection, now: datetime) -> OutboxFacts:
    """Counts per state, and the due pending mail (both from the status index)."""
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    rows = connection.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    for status, count in rows:
        counts[status] = int(count)
    due, oldest = connection.execute(
        select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
        )
    ).one()
    # min() keeps the column's type, so the value comes back as an aware UTC datetime.
    return OutboxFacts(counts=counts, due=int(due), oldest_due_at=oldest)


def heartbeat_facts(connection: Connection) -> HeartbeatFacts:
    row = connection.execute(
        select(WorkerHeartbeat.worker_id, WorkerHeartbeat.last_seen_at)
        .order_by(WorkerHeartbeat.last_seen_at.desc())
        .limit(1)
    ).first()
    workers = connection.execute(select(func.count()).select_from(WorkerHeartbeat)).scalar_one()
    if row is None:
        return HeartbeatFacts(workers=int(workers), last_seen_at=None, last_worker_id=None)
    return HeartbeatFacts(
        workers=int(workers), last_seen_at=row.last_seen_at, last_worker_id=row.worker_id
    )


def reminders_sent(connection: Connection) -> int:
    """Reminders the ledger records as sent, by every worker since the database began."""
    query = select(func.count()).select_from(Reminder).where(Reminder.state == "sent")
    return int(connection.execute(query).scalar_one())
