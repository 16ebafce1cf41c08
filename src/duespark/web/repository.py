"""Every query about web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from duespark.models import WebSession


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
