"""Failed login attempts, kept in the database so throttling holds across processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base


class LoginFailure(Base):
    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_email_attempted_at", "email", "attempted_at"),
        Index("ix_login_failure_address_attempted_at", "address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The address as typed (lower-cased), whether or not an account has it: throttling
    # must not reveal which accounts exist.
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(nullable=False)
