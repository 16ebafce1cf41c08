"""A client: someone the account invoices and DueSpark reminds."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps


class Client(Timestamps, Base):
    __tablename__ = "client"
    __table_args__ = (Index("ix_client_user_id_name", "user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    contact_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    locale: Mapped[str] = mapped_column(String(35), nullable=False, default="en")
    default_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    reminders_paused_until: Mapped[date | None] = mapped_column(nullable=True)
    reminders_paused: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=false()
    )
    # Overrides the account's reminder policy for this client; None means "use the account's".
    reminder_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
