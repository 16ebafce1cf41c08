"""The relay: claim due messages, send them over one connection, record the outcomes.

Three kinds of transaction, each as short as it can be:

1. one transaction releases expired claims and claims a batch (then commits, so other
   workers see the claims and skip those rows);
2. sending happens outside any transaction: a slow SMTP server never holds database locks;
3. deliveries are recorded in small groups: a group is recorded once it holds
   :data:`RECORD_AT_MOST` emails or has taken :data:`RECORD_WITHIN` to send, so with a
   slow SMTP server each email is recorded before the next goes out. A failure is
   recorded at once, in its own transaction.

The groups set the duplicate window. A worker that dies (SIGKILL, power loss) after its
SMTP server accepted emails and before recording them leaves them ``sending``; after the
lease they go again. That is at most one group: :data:`RECORD_AT_MOST` emails, fewer when
the server is slow; each carries the same Message-ID as its
first copy, which many receiving systems use to drop the second. One transaction per email
instead would cost several times the SMTP dialogue itself (``docs/benchmarks.md``).

``should_stop`` is asked before each message: a worker told to stop (SIGTERM) finishes the
message in hand, hands the rest of its batch back untouched, and returns.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from duespark.clock import utc_now
from duespark.db import Database
from duespark.email.errors import DeliveryFailed, InvalidEmail, TransportUnavailable
from duespark.email.message import EmailMessage, parse_address
from duespark.email.sender import DEVELOPMENT_FROM, EmailConnection, EmailSender
from duespark.models import OutboxMessage
from duespark.outbox import repository
from duespark.outbox.repository import CLAIM_LEASE
from duespark.outbox.writer import compose_message

log = logging.getLogger(__name__)

RECORD_AT_MOST = 20
RECORD_WITHIN = 0.25  # seconds
# Messages one pass claims and sends over one SMTP connection. Each pass pays for a
# connection, a release of stale claims and a claim transaction; at 100 those fixed costs
# were a sixth of the relay's time. The lease renewal keeps a long batch from going stale.
CLAIM_BATCH = 250


@dataclass(frozen=True)
class RelayResult:
    """Counts of one relay pass.

    ``failed`` messages will be retried after a backoff; ``dead`` ones will not (until an
    operator requeues them); ``cancelled`` were withdrawn by the claim-time re-check;
    ``released`` are other workers' expired claims given back; ``returned`` are messages
    this pass claimed but handed back unsent because ``should_stop`` said so; ``deferred``
    were due but left for the next pass because their invoice was being changed right then.
    """

    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    released: int = 0
    returned: int = 0
    deferred: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.dead + self.cancelled


@dataclass(frozen=True)
class _Outgoing:
    """What the relay needs of a claimed row, read before its session closes."""

    id: int
    email: EmailMessage | None
    problem: str


def relay_once(
    database: Database,
    sender: EmailSender,
    *,
    worker_id: str,
    now_fn: Callable[[], datetime] = utc_now,
    limit: int = CLAIM_BATCH,
    from_address: str | None = None,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lease: timedelta = CLAIM_LEASE,
) -> RelayResult:
    """One pass: claim up to ``limit`` due messages, send them, record what happened.

    ``from_address`` is the From of messages whose row names none (``DUESPARK_EMAIL_FROM``;
    a local development address when None). An unusable one raises :class:`InvalidEmail`
    before anything is claimed: a configuration error must not turn every message dead.
    """
    from_address = from_address or DEVELOPMENT_FROM
    parse_address(from_address, what="sender address")
    now = now_fn()
    batch = _Batch(
        database,
        worker_id=worker_id,
        now_fn=now_fn,
        rng=rng or random.Random(),
        lease=lease,
        held_since=now,
    )
    with database.session_scope() as session:
        released = repository.release_stale(session, now=now, rng=batch.rng, lease=lease)
        claimed = repository.claim(session, now=now, limit=limit, worker_id=worker_id)
        outgoing = deque(_outgoing(message, from_address, now) for message in claimed.claimed)
    batch.tally.cancelled = len(claimed.cancelled)
    batch.tally.released = len(released)
    batch.tally.deferred = claimed.deferred
    if outgoing:
        _send(sender, outgoing, batch, should_stop)
    result = RelayResult(**vars(batch.tally))
    if result.handled or result.released:
        log.info("outbox relay pass by %s: %s", worker_id, result)
    return result


def _send(
    sender: EmailSender,
    outgoing: deque[_Outgoing],
    batch: _Batch,
    should_stop: Callable[[], bool],
) -> None:
    unavailable: TransportUnavailable | None = None
    try:
        with sender.connect() as connection:
            while outgoing and not should_stop():
                batch.record_if_due()
                batch.keep_hold(outgoing)
                if not outgoing:
                    break  # the leases ran out and other workers hold the rest now
                item = outgoing.popleft()
                batch.sending()
                error = _deliver(connection, item)
                if error is None:
                    batch.sent(item)
                    continue
                batch.record_failed(item, error)
                if isinstance(error, TransportUnavailable):
                    unavailable = error
                    break
    except TransportUnavailable as exc:
        unavailable = exc
    finally:
        batch.record_sent()
    if unavailable is not None:
        # No connection: nothing else in the batch can go out either. Each message counts
        # a failed attempt and backs off, rather than sitting claimed until the lease ends.
        while outgoing:
            batch.record_failed(outgoing.popleft(), unavailable)
    batch.give_back(list(outgoing))


@dataclass
class _Tally:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    cancelled: int = 0
    released: int = 0
    returned: int = 0
    deferred: int = 0


class _Batch:
    """Records outcomes for one claimed batch: deliveries in small groups, anything else
    at once, and keeps the batch's claims alive while it is being sent."""

    def __init__(
        self,
        database: Database,
        *,
        worker_id: str,
        now_fn: Callable[[], datetime],
        rng: random.Random,
        lease: timedelta,
        held_since: datetime,
    ) -> None:
        self.database = database
        self.worker_id = worker_id
        self.now_fn = now_fn
        self.rng = rng
        self.lease = lease
        self.held_since = held_since
        self.tally = _Tally()
        self.unrecorded: list[_Outgoing] = []
        self.group_started = 0.0

    def keep_hold(self, outgoing: deque[_Outgoing]) -> None:
        """Once half the lease has passed since the claims were taken or last renewed,
        renew the rest of the batch, and drop what this worker no longer holds (its lease
        ran out while the worker was stalled, and another may be sending it)."""
        now = self.now_fn()
        if now - self.held_since < self.lease / 2:
            return
        self.record_sent()
        with self.database.session_scope() as session:
            held = repository.renew_claims(
                session, [item.id for item in outgoing], worker_id=self.worker_id, now=now
            )
        self.held_since = now
        kept = [item for item in outgoing if item.id in held]
        outgoing.clear()
        outgoing.extend(kept)

    def sending(self) -> None:
        """An email is about to go out; the first of a group starts the group's clock."""
        if not self.unrecorded:
            self.group_started = time.monotonic()

    def sent(self, item: _Outgoing) -> None:
        self.unrecorded.append(item)
        self.record_if_due()

    def record_if_due(self) -> None:
        """Record the group once it holds :data:`RECORD_AT_MOST` emails or has taken
        :data:`RECORD_WITHIN` to send: with a slow SMTP server, each email is recorded on
        its own before the next goes out."""
        if not self.unrecorded:
            return
        taken = time.monotonic() - self.group_started
        if len(self.unrecorded) >= RECORD_AT_MOST or taken >= RECORD_WITHIN:
            self.record_sent()

    def record_sent(self) -> None:
        if not self.unrecorded:
            return
        ids = [item.id for item in self.unrecorded]
        with self.database.session_scope() as session:
            self.tally.sent += len(repository.mark_all_sent(session, ids, now=self.now_fn()))
        self.unrecorded.clear()

    def record_failed(self, item: _Outgoing, error: Exception) -> None:
        with self.database.session_scope() as session:
            message = repository.mark_failed(
                session,
                item.id,
                worker_id=self.worker_id,
                now=self.now_fn(),
                error=str(error),
                rng=self.rng,
                permanent=_permanent(error),
            )
            status = None if message is None else message.status
        if status == "dead":
            self.tally.dead += 1
            log.warning("outbox message %s is dead: %s", item.id, error)
        elif status == "pending":
            self.tally.failed += 1

    def give_back(self, items: list[_Outgoing]) -> None:
        if not items:
            return
        with self.database.session_scope() as session:
            self.tally.returned += repository.release(
                session, [item.id for item in items], worker_id=self.worker_id, now=self.now_fn()
            )


def _deliver(connection: EmailConnection, item: _Outgoing) -> Exception | None:
    """Send one message; the error instead of raising it, so the batch goes on."""
    if item.email is None:
        return InvalidEmail(item.problem)
    try:
        connection.send(item.email)
    except (DeliveryFailed, InvalidEmail) as exc:
        return exc
    except Exception as exc:
        # A bug or an unexpected transport error must not strand the rest of the batch.
        log.exception("unexpected error sending outbox message %s", item.id)
        return DeliveryFailed(f"{type(exc).__name__}: {exc}")
    return None


def _permanent(error: Exception) -> bool:
    if isinstance(error, InvalidEmail):
        return True
    return isinstance(error, DeliveryFailed) and error.permanent


def _outgoing(message: OutboxMessage, default_from: str, now: datetime) -> _Outgoing:
    """The row as an email, or why it cannot be one: it will be dead at once, since
    retrying an unusable address cannot help. Never raises, so one bad row cannot block
    its batch (or, raising inside the claim transaction, every later claim)."""
    try:
        email = compose_message(
            recipient=message.recipient,
            subject=message.subject,
            text_body=message.text_body,
            html_body=message.html_body,
            headers=message.headers,
            dedup_key=message.dedup_key,
            default_from=default_from,
            now=now,
        )
    except InvalidEmail as exc:
        return _Outgoing(message.id, None, f"cannot build the email: {exc}")
    return _Outgoing(message.id, email, "")
