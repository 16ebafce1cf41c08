"""An account: one freelancer or small business, owner of all its clients and invoices."""

from __future__ import annotations

from sqlalchemy import String
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
