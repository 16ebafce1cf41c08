"""Keeping a reminder and its invoice's history in step with its email.

When an outbox message linked to a reminder is sent, dies or is withdrawn, the reminder's
state and the invoice's activity change in the same transaction, so the timeline a user
sees never disagrees with what was (or was not) emailed. Flushes nothing itself: the
repository's caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from duespark.models import InvoiceActivity, Reminder

MAX_REASON = 500


def record_all_sent(session: Session, recipients: Mapping[int, str], *, now: datetime) -> None:
    """The emails went out (``recipients`` maps each reminder's id to the address its email
    went to). Recorded whatever each reminder's state: it is what happened. Two statements
    for any number of reminders."""
    if not recipients:
        return
    sent = session.execute(
        update(Reminder)
        .where(Reminder.id.in_(list(recipients)))
        .values(state="sent", sent_at=now, reason="", updated_at=now)
        .returning(
            Reminder.id, Reminder.user_id, Reminder.invoice_id, Reminder.tone, Reminder.offset_days
        )
    ).all()
    session.execute(
        insert(InvoiceActivity),
        [
            {
                "user_id": row.user_id,
                "invoice_id": row.invoice_id,
                "kind": "reminder_sent",
                "detail": f"{step_name(row.tone, row.offset_days)}: sent to {recipients[row.id]}",
                "created_at": now,
            }
            for row in sent
        ],
    )


def record_failed(session: Session, reminder: Reminder, *, reason: str, now: datetime) -> None:
    """The email is dead (every attempt failed, or the server refused it for good)."""
    reminder.state = "failed"
    reminder.reason = _short(reason)
    reminder.updated_at = now
    _activity(session, reminder, "reminder_failed", reminder.reason, now)


def record_cancelled(session: Session, reminder: Reminder, *, reason: str, now: datetime) -> None:
    """The email was withdrawn before sending. A reminder that something else already
    cancelled or skipped keeps its own reason; only a live one is changed."""
    if reminder.state in {"scheduled", "failed"}:
        reminder.state = "cancelled"
        reminder.reason = _short(reason)
        reminder.updated_at = now
    _activity(session, reminder, "reminder_cancelled", _short(reason), now)


def record_requeued(session: Session, reminder: Reminder, *, now: datetime) -> None:
    """An operator asked for a dead email to be tried again: the reminder is live again,
    so the claim-time re-check lets it through (unless the invoice changed meanwhile)."""
    if reminder.state == "failed":
        reminder.state = "scheduled"
        reminder.reason = ""
        reminder.updated_at = now
        _activity(session, reminder, "reminder_requeued", "requeued by an operator", now)


def describe(reminder: Reminder) -> str:
    """``friendly reminder (-3 days)``: how the timeline names a step."""
    return step_name(reminder.tone, reminder.offset_days)


def step_name(tone: str, offset_days: int) -> str:
    return f"{tone} reminder ({offset_days:+d} days)"


def _activity(session: Session, reminder: Reminder, kind: str, detail: str, now: datetime) -> None:
    session.add(
        InvoiceActivity(
            user_id=reminder.user_id,
            invoice_id=reminder.invoice_id,
            kind=kind,
            detail=f"{describe(reminder)}: {detail}" if detail else describe(reminder),
            created_at=now,
        )
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
