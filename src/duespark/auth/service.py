"""Account use cases: register, log in, refresh, log out, profile and password.

Services never commit. Where a refusal must still leave a trace (a failed login is
counted; a replayed refresh token revokes its family), the service returns a
:class:`Refusal` instead of raising, so the request's transaction commits the trace and the
route answers with the refusal's error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.auth import password_policy, passwords, throttle, tokens
from duespark.auth import repository as auth_repository
from duespark.auth.schemas import TokenPair, UserRegister, UserUpdate
from duespark.config import Settings
from duespark.errors import Conflict, DueSparkError, InvalidInput, NotAuthenticated, TooManyRequests
from duespark.models import LoginFailure, RefreshToken, User

LOGIN_REFUSED = "Incorrect email or password."


@dataclass(frozen=True)
class Refusal:
    """A refused request whose side effects (counters, revocations) must be kept."""

    error: DueSparkError


def register(session: Session, *, data: UserRegister, now: datetime) -> User:
    problems = password_policy.password_problems(data.password, email=data.email, name=data.name)
    if problems:
        raise InvalidInput("Password " + "; ".join(problems) + ".", field="password")
    if auth_repository.get_user_by_email(session, data.email) is not None:
        raise Conflict("An account with this email address already exists.", field="email")
    user = User(
        email=data.email,
        password_hash=passwords.hash_password(data.password),
        name=data.name,
        business_name=data.business_name,
        time_zone=data.time_zone,
        token_version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        auth_repository.add(session, user)
    except IntegrityError:
        raise Conflict(
            "An account with this email address already exists.", field="email"
        ) from None
    return user


def login(
    session: Session,
    *,
    email: str,
    password: str,
    address: str,
    settings: Settings,
    now: datetime,
) -> TokenPair | Refusal:
    """Check throttles, then the password; unknown addresses and wrong passwords are
    indistinguishable in answer, in timing and in how they count toward a lockout."""
    email = email.strip().lower()[:254]
    since = now - throttle.WINDOW
    locked = throttle.seconds_locked(
        auth_repository.failure_times_for_email(session, email, since=since),
        limit=throttle.ACCOUNT_LIMIT,
        now=now,
    ) or throttle.seconds_locked(
        auth_repository.failure_times_for_address(session, address, since=since),
        limit=throttle.ADDRESS_LIMIT,
        now=now,
    )
    if locked is not None:
        return Refusal(
            TooManyRequests(
                "Too many failed login attempts. Try again later.", retry_after_seconds=locked
            )
        )
    user = auth_repository.get_user_by_email(session, email)
    if not passwords.verify_password(user.password_hash if user else None, password):
        auth_repository.add(session, LoginFailure(email=email, address=address, attempted_at=now))
        return Refusal(NotAuthenticated(LOGIN_REFUSED))
    assert user is not None
    auth_repository.clear_failures_for_email(session, email)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return _start_session(session, user=user, settings=settings, now=now)


def refresh(
    session: Session, *, refresh_token: str, settings: Settings, now: datetime
) -> TokenPair | Refusal:
    """Rotate a refresh token. A token presented twice revokes its whole family: either the
    client or a thief holds a copy, and neither can be told apart."""
    row = auth_repository.get_refresh_token_by_hash(
        session, tokens.hash_refresh_token(refresh_token)
    )
    if row is None or row.expires_at <= now:
        return Refusal(NotAuthenticated("Refresh token is invalid or expired."))
    if row.revoked_at is not None or not auth_repository.mark_refresh_token_used(
        session, row.id, now=now
    ):
        auth_repository.revoke_family(session, row.family_id, now=now)
        return Refusal(NotAuthenticated("Refresh token was already used; please log in again."))
    user = auth_repository.get_user(session, row.user_id)
    if user is None:
        return Refusal(NotAuthenticated("Refresh token is invalid or expired."))
    return _issue_pair(session, user=user, family_id=row.family_id, settings=settings, now=now)


def logout(session: Session, *, refresh_token: str, now: datetime) -> None:
    """Revoke the session the refresh token belongs to. Unknown tokens are ignored, so
    logging out twice is harmless."""
    row = auth_repository.get_refresh_token_by_hash(
        session, tokens.hash_refresh_token(refresh_token)
    )
    if row is not None:
        auth_repository.revoke_family(session, row.family_id, now=now)


def update_profile(session: Session, user: User, *, data: UserUpdate, now: datetime) -> User:
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(user, field, value)
    user.updated_at = now
    session.flush()
    return user


def change_password(
    session: Session,
    user: User,
    *,
    current_password: str,
    new_password: str,
    settings: Settings,
    now: datetime,
) -> TokenPair:
    """Set a new password, end every other session, and start a fresh one for the caller."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise InvalidInput("Current password is incorrect.", field="current_password")
    problems = password_policy.password_problems(new_password, email=user.email, name=user.name)
    if problems:
        raise InvalidInput("Password " + "; ".join(problems) + ".", field="new_password")
    user.password_hash = passwords.hash_password(new_password)
    user.token_version += 1
    user.updated_at = now
    auth_repository.revoke_all_for_user(session, user.id, now=now)
    return _start_session(session, user=user, settings=settings, now=now)


def revoke_sessions(session: Session, user: User, *, now: datetime) -> int:
    """Log a user out everywhere: refresh tokens revoked, access tokens invalidated.

    Returns how many sessions were live (could still refresh) before the revocation."""
    live = auth_repository.count_live_sessions(session, now=now, user_id=user.id)
    user.token_version += 1
    user.updated_at = now
    auth_repository.revoke_all_for_user(session, user.id, now=now)
    return live


@dataclass(frozen=True)
class RevokedAll:
    users: int
    sessions: int


def revoke_all_sessions(session: Session, *, now: datetime) -> RevokedAll:
    """Log everybody out (after a key or database compromise): every refresh token
    revoked and every user's token_version raised, so no access token works either."""
    live = auth_repository.count_live_sessions(session, now=now)
    users = auth_repository.bump_all_token_versions(session, now=now)
    auth_repository.revoke_all(session, now=now)
    return RevokedAll(users=users, sessions=live)


def authenticate(session: Session, *, access_token: str, settings: Settings, now: datetime) -> User:
    """The user an access token speaks for, or NotAuthenticated."""
    try:
        claims = tokens.Keyring.from_settings(settings).verify_access_token(access_token, now=now)
    except tokens.InvalidToken:
        raise NotAuthenticated("Access token is invalid or expired.") from None
    user = auth_repository.get_user(session, claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise NotAuthenticated("Access token is invalid or expired.")
    return user


def _start_session(session: Session, *, user: User, settings: Settings, now: datetime) -> TokenPair:
    family_id = tokens.new_family_id()
    return _issue_pair(session, user=user, family_id=family_id, settings=settings, now=now)


def _issue_pair(
    session: Session, *, user: User, family_id: str, settings: Settings, now: datetime
) -> TokenPair:
    lifetime = timedelta(minutes=settings.access_token_minutes)
    access_token = tokens.Keyring.from_settings(settings).issue_access_token(
        user_id=user.id, token_version=user.token_version, now=now, lifetime=lifetime
    )
    refresh_token = tokens.new_refresh_token()
    auth_repository.add(
        session,
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=tokens.hash_refresh_token(refresh_token),
            created_at=now,
            expires_at=now + timedelta(days=settings.refresh_token_days),
        ),
    )
    return TokenPair(
        access_token=access_token,
        expires_in=int(lifetime.total_seconds()),
        refresh_token=refresh_token,
    )
