"""Every query of the outbox: claiming, marking, listing and requeueing messages.

Claiming works the same way on both databases, with one function:

* the due ``pending`` rows are selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL: any number
  of workers each take different rows without waiting; SQLite ignores the clause, and its
  ``BEGIN IMMEDIATE`` transaction already holds the only write lock);
* each is then taken with ``UPDATE ... WHERE id = :id AND status = 'pending'`` and a row
  count check, so even without row locks a message can be taken only once.

Before taking a message linked to a reminder, the same transaction locks the reminder and
its invoice (``SKIP LOCKED`` again: an invoice being changed right now is simply left for
the next pass, so the claim never waits and cannot deadlock with a payment) and asks
:func:`duespark.outbox.recheck.reason_not_to_send`. A "no" withdraws the message and the
reminder instead of claiming them.

Delivery is at least once: a worker that dies mid-send leaves its messages ``sending``;
after :data:`CLAIM_LEASE` any relay releases them, counting the lost attempt. Functions here
flush, never commit.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from duespark.clock import local_today
from duespark.errors import Conflict, NotFound
from duespark.models import Client, Invoice, OutboxMessage, Reminder, User
from duespark.models.outbox_message import OUTBOX_STATUSES
from duespark.outbox import ledger, retry
from duespark.outbox.recheck import reason_not_to_send

CLAIM_LEASE = timedelta(minutes=10)
MAX_ERROR = 2000


@dataclass
class ClaimResult:
    """What one claim pass did: messages taken, withdrawn, and left for a later pass."""

    claimed: list[OutboxMessage] = field(default_factory=list)
    cancelled: list[OutboxMessage] = field(default_factory=list)
    deferred: int = 0


@dataclass(frozen=True)
class _Context:
    reminder: Reminder
    invoice: Invoice
    client: Client
    user: User


def claim(session: Session, *, now: datetime, limit: int, worker_id: str) -> ClaimResult:
    """Take up to ``limit`` due messages for ``worker_id`` (status ``sending``), oldest due
    first, withdrawing those whose reminder may no longer be sent (see module docstring)."""
    result = ClaimResult()
    due = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxMessage)
            .execution_options(populate_existing=True)
        )
    )
    contexts = _lock_contexts(session, [m.reminder_id for m in due if m.reminder_id is not None])
    sendable: list[OutboxMessage] = []
    for message in due:
        context = None
        if message.reminder_id is not None:
            context = contexts.get(message.reminder_id)
            if context is None:
                # Its invoice or reminder is being changed by another transaction right now;
                # judge it on the next pass, against the committed outcome.
                result.deferred += 1
                continue
            reason = reason_not_to_send(
                invoice=context.invoice,
                reminder=context.reminder,
                pauses=(context.client, context.user),
                today=local_today(now, context.client.time_zone),
            )
            if reason is not None:
                if _take(session, message, now=now, status="cancelled", last_error=reason):
                    ledger.record_cancelled(session, context.reminder, reason=reason, now=now)
                    result.cancelled.append(message)
                continue
        sendable.append(message)
    result.claimed = _take_all(session, sendable, now=now, worker_id=worker_id)
    session.flush()
    return result


def claim_due(
    session: Session, *, now: datetime, limit: int, worker_id: str
) -> list[OutboxMessage]:
    """The messages claimed by :func:`claim`, for callers that need nothing else."""
    return claim(session, now=now, limit=limit, worker_id=worker_id).claimed


def release_stale(
    session: Session, *, now: datetime, rng: random.Random, lease: timedelta = CLAIM_LEASE
) -> list[OutboxMessage]:
    """Give back messages whose worker has held them longer than ``lease`` (it died or
    hung mid-send). The lost attempt counts, so a message that kills every worker that
    touches it ends up dead instead of looping forever."""
    stale = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - lease)
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True, of=OutboxMessage)
            .execution_options(populate_existing=True)
        )
    )
    for message in stale:
        error = (
            f"claim by {message.claimed_by} expired after {lease}; "
            "the email may or may not have gone out"
        )
        _fail(session, message, now=now, error=error, rng=rng, permanent=False)
    session.flush()
    return stale


def renew_claims(
    session: Session, ids: Iterable[int], *, worker_id: str, now: datetime
) -> set[int]:
    """Confirm which of ``ids`` this worker still holds, and restart their lease; the
    ids returned are the ones it may still send. A batch that takes longer than the lease
    to send would otherwise see its tail released to another worker and sent twice; with
    this check the slow worker skips what it no longer holds, and the lease only runs out
    on a worker that stopped moving."""
    id_list = list(ids)
    if not id_list:
        return set()
    return set(
        session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(id_list),
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_by == worker_id,
            )
            .values(claimed_at=now, updated_at=now)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
    )


def release(session: Session, ids: Iterable[int], *, worker_id: str, now: datetime) -> int:
    """Hand back claimed messages this worker will not send (it is stopping), without
    counting an attempt."""
    id_list = list(ids)
    if not id_list:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(id_list),
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_by == worker_id,
        )
        .values(status="pending", claimed_at=None, claimed_by=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def mark_sent(session: Session, message_id: int, *, now: datetime) -> OutboxMessage | None:
    """Record one delivery (see :func:`mark_all_sent`); None if it was already recorded."""
    if not mark_all_sent(session, [message_id], now=now):
        return None
    return session.get(OutboxMessage, message_id)


def mark_all_sent(session: Session, ids: Iterable[int], *, now: datetime) -> list[int]:
    """Record deliveries; the ids newly recorded as sent (one already ``sent``, or gone,
    is left out).

    Accepted from any other state: the transport took the email, so "sent" is the truth
    even if the claim expired or the message was withdrawn while it was in flight. Three
    set-based statements whatever the number of messages: the relay records its emails a
    group at a time.
    """
    recorded = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status != "sent")
        .values(status="sent", sent_at=now, last_error="", updated_at=now)
        .returning(OutboxMessage.id, OutboxMessage.reminder_id, OutboxMessage.recipient)
    ).all()
    recipients = {row.reminder_id: row.recipient for row in recorded if row.reminder_id}
    ledger.record_all_sent(session, recipients, now=now)
    return [row.id for row in recorded]


def mark_failed(
    session: Session,
    message_id: int,
    *,
    worker_id: str,
    now: datetime,
    error: str,
    rng: random.Random,
    permanent: bool = False,
) -> OutboxMessage | None:
    """Record a failed attempt by ``worker_id``: back to ``pending`` after a backoff, or
    ``dead`` when it was the last attempt or ``permanent``. None when the message is no
    longer this worker's (its claim expired and was taken over), so a late report cannot
    undo another worker's delivery."""
    message = _locked(session, message_id)
    if message is None or message.status != "sending" or message.claimed_by != worker_id:
        return None
    _fail(session, message, now=now, error=error, rng=rng, permanent=permanent)
    session.flush()
    return message


def cancel(session: Session, message_id: int, *, now: datetime, reason: str) -> OutboxMessage:
    """Withdraw a message that is waiting (``pending``) or dead; a ``sending`` one is in
    a worker's hands and cannot be called back."""
    message = _locked(session, message_id)
    if message is None:
        raise NotFound(f"No outbox message {message_id}.")
    if message.status not in {"pending", "dead"}:
        raise Conflict(f"Outbox message {message_id} is {message.status}; it cannot be cancelled.")
    message.status = "cancelled"
    message.last_error = reason
    message.claimed_at = None
    message.claimed_by = None
    message.updated_at = now
    reminder = _reminder(session, message)
    if reminder is not None:
        ledger.record_cancelled(session, reminder, reason=reason, now=now)
    session.flush()
    return message


def requeue(session: Session, ids: Iterable[int], *, now: datetime) -> list[OutboxMessage]:
    """Try messages again now: a dead one starts over with no attempts counted; a pending
    one waiting out a backoff is made due at once. Anything else is refused (a sent message
    is never sent again), and nothing changes unless every id is acceptable."""
    messages = []
    for message_id in ids:
        message = _locked(session, message_id)
        if message is None:
            raise NotFound(f"No outbox message {message_id}.")
        if message.status not in {"dead", "pending"}:
            raise Conflict(
                f"Outbox message {message_id} is {message.status}; only dead or pending "
                "messages can be retried."
            )
        messages.append(message)
    for message in messages:
        if message.status == "dead":
            message.attempts = 0
            reminder = _reminder(session, message)
            if reminder is not None:
                ledger.record_requeued(session, reminder, now=now)
        message.status = "pending"
        message.next_attempt_at = now
        message.claimed_at = None
        message.claimed_by = None
        message.updated_at = now
    session.flush()
    return messages


def requeue_dead(session: Session, *, now: datetime) -> list[OutboxMessage]:
    """Requeue every dead message (``duespark outbox retry --all-dead``)."""
    ids = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.status == "dead").order_by(OutboxMessage.id)
    ).all()
    return requeue(session, ids, now=now)


def get(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id)


def list_messages(
    session: Session, *, status: str | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """Messages for an operator: waiting ones in the order they will be tried, the others
    most recent first."""
    query = select(OutboxMessage)
    if status is not None:
        if status not in OUTBOX_STATUSES:
            raise ValueError(f"unknown outbox status {status!r}")
        query = query.where(OutboxMessage.status == status)
    if status in {"pending", "sending"}:
        query = query.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    else:
        query = query.order_by(OutboxMessage.updated_at.desc(), OutboxMessage.id.desc())
    return list(session.scalars(query.limit(limit)))


def count_by_status(session: Session) -> dict[str, int]:
    """How many messages are in each state (zero included), for status and metrics."""
    counts = dict.fromkeys(OUTBOX_STATUSES, 0)
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def _lock_contexts(session: Session, reminder_ids: list[int]) -> dict[int, _Context]:
    if not reminder_ids:
        return {}
    rows = session.execute(
        select(Reminder, Invoice, Client, User)
        .join(Invoice, Invoice.id == Reminder.invoice_id)
        .join(Client, Client.id == Invoice.client_id)
        .join(User, User.id == Invoice.user_id)
        .where(Reminder.id.in_(reminder_ids))
        .with_for_update(key_share=True, skip_locked=True, of=[Reminder, Invoice])
        .execution_options(populate_existing=True)
    )
    return {row.Reminder.id: _Context(*row) for row in rows}


def _take(
    session: Session,
    message: OutboxMessage,
    *,
    now: datetime,
    status: str,
    claimed_by: str | None = None,
    last_error: str | None = None,
) -> bool:
    """Move a pending message to ``status`` if it is still pending: the row-count check
    is what makes a claim exclusive where row locks do not exist."""
    values: dict[str, object] = {"status": status, "updated_at": now}
    if claimed_by is not None:
        values |= {"claimed_at": now, "claimed_by": claimed_by}
    if last_error is not None:
        values["last_error"] = last_error
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.expunge(message)
        return False
    for name, value in values.items():
        set_committed_value(message, name, value)
    return True


def _take_all(
    session: Session, messages: list[OutboxMessage], *, now: datetime, worker_id: str
) -> list[OutboxMessage]:
    """:func:`_take` for a whole batch in one statement (a claim runs once per message
    sent): the ids it returns are the messages that were still pending, and so taken."""
    if not messages:
        return []
    values = {"status": "sending", "updated_at": now, "claimed_at": now, "claimed_by": worker_id}
    taken = set(
        session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([message.id for message in messages]),
                OutboxMessage.status == "pending",
            )
            .values(**values)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
    )
    claimed = []
    for message in messages:
        if message.id not in taken:
            session.expunge(message)
            continue
        for name, value in values.items():
            set_committed_value(message, name, value)
        claimed.append(message)
    return claimed


def _fail(
    session: Session,
    message: OutboxMessage,
    *,
    now: datetime,
    error: str,
    rng: random.Random,
    permanent: bool,
) -> None:
    message.attempts += 1
    message.last_error = error[:MAX_ERROR]
    message.claimed_at = None
    message.claimed_by = None
    message.updated_at = now
    if permanent or retry.gives_up(message.attempts):
        message.status = "dead"
        reminder = _reminder(session, message)
        if reminder is not None:
            why = "refused for good" if permanent else f"failed {message.attempts} times"
            ledger.record_failed(session, reminder, reason=f"email {why}: {error}", now=now)
    else:
        message.status = "pending"
        message.next_attempt_at = retry.next_attempt_at(now, message.attempts, rng)


def _locked(session: Session, message_id: int) -> OutboxMessage | None:
    return session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)


def _reminder(session: Session, message: OutboxMessage) -> Reminder | None:
    if message.reminder_id is None:
        return None
    return session.get(Reminder, message.reminder_id)
