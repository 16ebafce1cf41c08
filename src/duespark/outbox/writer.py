"""Adding an email to the outbox, inside the caller's transaction.

This is the "transactional" in transactional outbox: the row is written by the same
transaction as the change that causes the email (a reminder being recorded), so either both
happen or neither does. The writer flushes (to get the id) and never commits; the relay sends
the message once that transaction has committed.

The ``dedup_key`` is unique in the table; writing the same key twice returns the row
already there rather than failing the caller's transaction.

``headers`` holds what the relay needs besides the body, all optional:

* ``from_name``: the display name of the From line (the freelancer's business);
* ``from_address``: the From address (else the relay's configured one);
* ``reply_to``: where replies go (the freelancer's own address);
* ``message_id``: the Message-ID (else one derived from ``dedup_key``), stable across
  retries so a resend is recognisably the same mail;
* any other key is an extra header, by its real name (``List-Unsubscribe``, ``X-...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from duespark.email.errors import InvalidEmail
from duespark.email.message import (
    EmailMessage,
    domain_of,
    format_address,
    make_message_id,
    sendable_address,
)
from duespark.email.sender import DEVELOPMENT_FROM
from duespark.errors import InvalidInput
from duespark.models import OutboxMessage

FROM_NAME = "from_name"
FROM_ADDRESS = "from_address"
REPLY_TO = "reply_to"
MESSAGE_ID = "message_id"
ENVELOPE_KEYS = frozenset({FROM_NAME, FROM_ADDRESS, REPLY_TO, MESSAGE_ID})

# Column sizes of outbox_message; SQLite would store longer values, PostgreSQL would not.
MAX_DEDUP_KEY = 200
MAX_RECIPIENT = 254
MAX_SUBJECT = 300


def add_email(
    session: Session,
    *,
    user_id: int,
    reminder_id: int | None,
    dedup_key: str,
    recipient: str,
    subject: str,
    text_body: str,
    html_body: str,
    headers: Mapping[str, str] | None = None,
    now: datetime,
) -> OutboxMessage:
    """Queue one email, due at ``now``; return the (flushed) outbox row.

    Raises :class:`~duespark.errors.InvalidInput` for a recipient that is not one plain
    address or for values longer than their columns, so the mistake surfaces in the use
    case that made it, not hours later in the relay.
    """
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key))
    if existing is not None:
        return existing
    message = OutboxMessage(
        **email_values(
            user_id=user_id,
            reminder_id=reminder_id,
            dedup_key=dedup_key,
            recipient=recipient,
            subject=subject,
            text_body=text_body,
            html_body=html_body,
            headers=headers,
            now=now,
        )
    )
    session.add(message)
    session.flush()
    return message


def email_values(
    *,
    user_id: int,
    reminder_id: int | None,
    dedup_key: str,
    recipient: str,
    subject: str,
    text_body: str,
    html_body: str,
    headers: Mapping[str, str] | None = None,
    now: datetime,
) -> dict[str, object]:
    """The checked column values of a new outbox row, due at ``now``, for callers that
    insert many rows in one statement (a planning batch); checks as :func:`add_email`.
    Such a caller gets no "already queued" answer: a repeated ``dedup_key`` fails its
    statement on the unique key instead."""
    _check(dedup_key=dedup_key, recipient=recipient, subject=subject)
    return {
        "user_id": user_id,
        "reminder_id": reminder_id,
        "dedup_key": dedup_key,
        "recipient": recipient,
        "subject": subject,
        "text_body": text_body,
        "html_body": html_body,
        "headers": dict(headers or {}),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
        "updated_at": now,
    }


def _check(*, dedup_key: str, recipient: str, subject: str) -> None:
    if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
        raise InvalidInput(f"dedup_key must be 1 to {MAX_DEDUP_KEY} characters", field="dedup_key")
    if len(recipient) > MAX_RECIPIENT:
        raise InvalidInput("the recipient address is too long", field="recipient")
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(f"the subject is longer than {MAX_SUBJECT} characters", field="subject")
    problem = _recipient_problem(recipient)
    if problem is not None:
        raise InvalidInput(problem, field="recipient")


@lru_cache(maxsize=4096)
def _recipient_problem(recipient: str) -> str | None:
    """Why the sender could not send to ``recipient``, or None; remembered, since a
    planning pass queues many emails to the same clients."""
    try:
        sendable_address(recipient, what="recipient")
    except InvalidEmail as exc:
        return str(exc)
    return None


def compose_message(
    *,
    recipient: str,
    subject: str,
    text_body: str,
    html_body: str,
    headers: object,
    dedup_key: str,
    default_from: str = DEVELOPMENT_FROM,
    now: datetime,
) -> EmailMessage:
    """The email an outbox row's values make, exactly as the relay sends it; raises
    :class:`InvalidEmail` when they cannot make one (``headers`` is read as stored, so it
    may be anything). Planning calls it too, so that an email that could never be sent is
    refused where its reminder is decided, and recorded as failed there."""
    raw = headers or {}
    if not isinstance(raw, Mapping):
        raise InvalidEmail("the headers are not an object")
    extra = {str(name): value for name, value in raw.items() if name not in ENVELOPE_KEYS}
    address = raw.get(FROM_ADDRESS) or default_from
    name = raw.get(FROM_NAME)
    try:
        return EmailMessage(
            to=recipient,
            subject=subject,
            text=text_body,
            html=html_body,
            from_address=format_address(name, address) if name else address,
            reply_to=raw.get(REPLY_TO),
            message_id=raw.get(MESSAGE_ID) or make_message_id(dedup_key, domain_of(address)),
            headers=extra,
            date=now,
        )
    except TypeError as exc:  # a stored value of the wrong type
        raise InvalidEmail(str(exc)) from exc
