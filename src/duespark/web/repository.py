"""Every query about web sessions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from duespark.models import User, WebSession


def add(session: Session, row: WebSession) -> None:
    session.add(row)
    session.flush()


def get_by_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def revoke_by_hash(session: Session, token_hash: str, *, now: datetime) -> None:
    session.execute(
        update(WebSession)
        .where(WebSession.token_hash == token_hash, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def prune(session: Session, *, before: datetime) -> int:
    """Forget sessions that expired, or were revoked, before ``before`` (for a periodic
    worker task: rows of ended sessions serve no purpose once they have ended)."""
    result = session.execute(
        delete(WebSession).where(
            or_(WebSession.expires_at < before, WebSession.revoked_at < before)
        )
    )
    return result.rowcount


def count_live(
    session: Session, *, now: datetime, idle_timeout: timedelta, user_id: int | None = None
) -> int:
    """Sessions a cookie could still use: not revoked, expired or idle past
    ``idle_timeout``, and started under the account's current token version."""
    query = (
        select(func.count())
        .select_from(WebSession)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            WebSession.last_seen_at > now - idle_timeout,
            WebSession.token_version == User.token_version,
        )
    )
    if user_id is not None:
        query = query.where(WebSession.user_id == user_id)
    return session.scalar(query) or 0
