"""An account: one freelancer or small business, owner of all its clients and invoices."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, String, false
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base, Timestamps


class User(Timestamps, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so uniqueness does not depend on how the address was typed.
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    business_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    # Copied into access tokens; raising it invalidates every access token issued before
    # (password change, "log out everywhere").
    token_version: Mapped[int] = mapped_column(nullable=False, default=1)
    # The account's reminder policy (steps and send window); None means the default policy.
    reminder_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reminders_paused: Mapped[bool] = mapped_column(
        nullable=False, default=False, server_default=false()
    )
    reminders_paused_until: Mapped[date | None] = mapped_column(nullable=True)
