"""An invoice: an amount a client owes by a due date.

Amounts are integer minor units of ``currency`` (cents for EUR, yen for JPY), never floats.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps


class Invoice(Timestamps, Base):
    __tablename__ = "invoice"
    __table_args__ = (
        UniqueConstraint("user_id", "number", name="uq_invoice_user_id_number"),
        CheckConstraint("status IN ('draft', 'open', 'paid', 'void')", name="status"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        Index("ix_invoice_user_id_status_due_date", "user_id", "status", "due_date"),
        # The list's default order (due date, then id), so a page is read, not sorted.
        Index("ix_invoice_user_id_due_date_id", "user_id", "due_date", "id"),
        Index("ix_invoice_client_id", "client_id"),
        # Analytics reads an account's payments of a window and its sales of a window.
        Index("ix_invoice_user_id_paid_on", "user_id", "paid_on"),
        Index("ix_invoice_user_id_issue_date", "user_id", "issue_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), nullable=False)
    number: Mapped[str] = mapped_column(String(64), nullable=False)
    amount_minor: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    issue_date: Mapped[date] = mapped_column(nullable=False)
    due_date: Mapped[date] = mapped_column(nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The payment's calendar date in the account's time zone, kept beside ``paid_at`` so
    # that analytics can do date arithmetic in SQL; set and cleared together with it.
    paid_on: Mapped[date | None] = mapped_column(nullable=True)
    amount_paid_minor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    payment_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reminders_paused: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=false()
    )
    reminders_paused_until: Mapped[date | None] = mapped_column(nullable=True)
