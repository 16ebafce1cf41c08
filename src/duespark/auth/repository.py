"""Every query about users, refresh tokens and login failures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from duespark.models import LoginFailure, RefreshToken, User


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def add(session: Session, row: User | RefreshToken | LoginFailure) -> None:
    session.add(row)
    session.flush()


def failure_times_for_email(session: Session, email: str, *, since: datetime) -> list[datetime]:
    query = select(LoginFailure.attempted_at).where(
        LoginFailure.email == email, LoginFailure.attempted_at > since
    )
    return list(session.scalars(query))


def failure_times_for_address(session: Session, address: str, *, since: datetime) -> list[datetime]:
    query = select(LoginFailure.attempted_at).where(
        LoginFailure.address == address, LoginFailure.attempted_at > since
    )
    return list(session.scalars(query))


def clear_failures_for_email(session: Session, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))


def get_refresh_token_by_hash(session: Session, token_hash: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


def mark_refresh_token_used(session: Session, token_id: int, *, now: datetime) -> bool:
    """Claim a refresh token for rotation; False when another request claimed it first."""
    result = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


def revoke_family(session: Session, family_id: str, *, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def revoke_all_for_user(session: Session, user_id: int, *, now: datetime) -> int:
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def count_live_sessions(session: Session, *, now: datetime, user_id: int | None = None) -> int:
    """Sessions that could still refresh: each live family has exactly one unused,
    unrevoked, unexpired token (rotated tokens are marked used), so count those."""
    query = select(func.count()).where(
        RefreshToken.used_at.is_(None),
        RefreshToken.revoked_at.is_(None),
        RefreshToken.expires_at > now,
    )
    if user_id is not None:
        query = query.where(RefreshToken.user_id == user_id)
    return session.scalar(query) or 0


def revoke_all(session: Session, *, now: datetime) -> int:
    result = session.execute(
        update(RefreshToken).where(RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
    )
    return result.rowcount


def bump_all_token_versions(session: Session, *, now: datetime) -> int:
    """Invalidate every access token of every user at once, in one statement."""
    result = session.execute(
        update(User).values(token_version=User.token_version + 1, updated_at=now)
    )
    return result.rowcount


def prune_failures(session: Session, *, before: datetime) -> int:
    """Forget failed logins too old to count toward any throttle."""
    result = session.execute(delete(LoginFailure).where(LoginFailure.attempted_at < before))
    return result.rowcount
