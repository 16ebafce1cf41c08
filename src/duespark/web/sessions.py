"""Browser sessions: log in, find the account a cookie speaks for, log out.

The cookie holds a random token (256 bits); the database holds only its SHA-256 hash. A
session is valid while it is not revoked, not expired (``refresh_token_days`` after login,
the same lifetime as an API login), not idle for longer than ``IDLE_TIMEOUT``, and started
under the account's current ``token_version`` (see ``models/web_session.py``).

Logging in reuses ``auth.service.login`` whole (throttling, the password check, counting
failures), then retires the API token pair it issues: the browser holds a web session
instead, and a refresh token nobody holds must not stay live. Services never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from duespark.auth import repository as auth_repository
from duespark.auth import service as auth_service
from duespark.config import Settings
from duespark.models import User, WebSession
from duespark.web import repository as web_repository

IDLE_TIMEOUT = timedelta(days=7)
# last_seen_at is written at most this often, so reading pages is not a write per request.
TOUCH_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``token`` goes into the cookie and nowhere else."""

    user: User
    token: str
    max_age_seconds: int


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def log_in(
    session: Session,
    *,
    email: str,
    password: str,
    address: str,
    settings: Settings,
    now: datetime,
) -> SignedIn | auth_service.Refusal:
    """The same checks and throttles as ``POST /auth/login``; a refusal is returned (not
    raised) so the failure it counted is committed with the request."""
    outcome = auth_service.login(
        session, email=email, password=password, address=address, settings=settings, now=now
    )
    if isinstance(outcome, auth_service.Refusal):
        return outcome
    user = auth_service.authenticate(
        session, access_token=outcome.access_token, settings=settings, now=now
    )
    auth_service.logout(session, refresh_token=outcome.refresh_token, now=now)
    return start(session, user, settings=settings, now=now)


def start(session: Session, user: User, *, settings: Settings, now: datetime) -> SignedIn:
    """A fresh session for ``user`` (after sign-up or login: never reuse a token)."""
    token = new_token()
    lifetime = timedelta(days=settings.refresh_token_days)
    web_repository.add(
        session,
        WebSession(
            user_id=user.id,
            token_hash=hash_token(token),
            token_version=user.token_version,
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
        ),
    )
    return SignedIn(user=user, token=token, max_age_seconds=int(lifetime.total_seconds()))


def resolve(session: Session, token: str | None, *, now: datetime) -> User | None:
    """The account a session cookie speaks for, or None when the session is unknown,
    revoked, expired, idle too long, or older than the account's last "log out
    everywhere"."""
    if not token or len(token) > 200:
        return None
    row = web_repository.get_by_hash(session, hash_token(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + IDLE_TIMEOUT <= now:
        return None
    user = auth_repository.get_user(session, row.user_id)
    if user is None or user.token_version != row.token_version:
        return None
    if row.last_seen_at + TOUCH_INTERVAL <= now:
        row.last_seen_at = now
        session.flush()
    return user


def count_live(session: Session, *, now: datetime, user_id: int | None = None) -> int:
    """How many browser sessions :func:`resolve` would still accept (of one account)."""
    return web_repository.count_live(session, now=now, idle_timeout=IDLE_TIMEOUT, user_id=user_id)


def log_out(session: Session, token: str | None, *, now: datetime) -> None:
    """Revoke the session server-side: the cookie, replayed later, finds nothing. Unknown
    tokens are ignored, so logging out twice is harmless."""
    if token and len(token) <= 200:
        web_repository.revoke_by_hash(session, hash_token(token), now=now)
