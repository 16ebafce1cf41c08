"""The reminder ledger: one row per (invoice, step), whatever happens to it.

The unique key on (invoice_id, offset_days) is what makes "never twice" true: however many
workers plan at once, and however often they crash and retry, a step of an invoice can be
recorded only once, and only a recorded step is ever sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps

REMINDER_STATES = ("scheduled", "sent", "skipped", "cancelled", "failed")


class Reminder(Timestamps, Base):
    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("invoice_id", "offset_days", name="uq_reminder_invoice_id_offset_days"),
        CheckConstraint(
            "state IN ('scheduled', 'sent', 'skipped', 'cancelled', 'failed')", name="state"
        ),
        Index("ix_reminder_user_id_state", "user_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False
    )
    offset_days: Mapped[int] = mapped_column(nullable=False)
    tone: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    scheduled_for: Mapped[datetime] = mapped_column(nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)
