"""Browser sessions of the web pages: an opaque random token in a cookie, stored here only
as its SHA-256 hash, so a copy of the database cannot be replayed as a cookie.

A session ends when it is revoked (logout), when it expires, when it has been idle too
long, or when the account's ``token_version`` moves past the one it was started with: a
password change or "log out everywhere" (``auth.service.revoke_sessions``) raises that
version, which ends every web session of the account as it ends every access token.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from duespark.models.base import Base


class WebSession(Base):
    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # The account's token_version when the session started; a raised version ends it.
    token_version: Mapped[int] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False)
    expires_at: Mapped[datetime] = mapped_column(nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
