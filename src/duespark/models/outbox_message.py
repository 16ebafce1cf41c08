"""The transactional outbox: an email written in the same transaction as the change that
causes it, sent later by the relay.

A message is ``pending`` until a relay claims it (``sending``), then ``sent``; a failed
attempt returns it to ``pending`` with a later ``next_attempt_at``, and after the last
allowed attempt it is ``dead`` until an operator requeues it. ``cancelled`` messages were
withdrawn before sending (the invoice was paid in between).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps

OUTBOX_STATUSES = ("pending", "sending", "sent", "dead", "cancelled")


class OutboxMessage(Timestamps, Base):
    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'dead', 'cancelled')", name="status"
        ),
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    reminder_id: Mapped[int | None] = mapped_column(
        ForeignKey("reminder.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    # Stable across retries; becomes the Message-ID, so a resend is recognisably the same mail.
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    recipient: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(nullable=False)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
