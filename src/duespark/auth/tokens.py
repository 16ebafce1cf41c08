"""Access tokens (short-lived JWTs) and refresh tokens (opaque, stored hashed).

Access tokens are HS256 JWTs whose header names the signing key in ``kid``. Verification
looks the ``kid`` up in the keyring built from ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``
and never tries keys at random, never trusts the token's ``alg``, and requires ``exp``,
``iat``, ``iss``, ``aud`` and ``sub``. Signing always uses ``SECRET_KEY``. So a rotation
that moves the old key into the fallbacks logs nobody out.

A ``kid`` is derived from the key (a truncated SHA-256), so every process holding the same
key names it the same way without coordination, and the id reveals nothing of the key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from duespark.config import Settings

ALGORITHM = "HS256"
ISSUER = "duespark"
AUDIENCE = "duespark-api"
TOKEN_TYPE = "at+jwt"
KID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
LEEWAY = timedelta(seconds=30)
# Ids and token versions are INTEGER columns: 32-bit signed on PostgreSQL.
LARGEST_ID = 2**31 - 1


class InvalidToken(Exception):
    """The token is not one this server issued, or no longer valid. Say no more to clients."""


def key_id(key: str) -> str:
    return hashlib.sha256(b"duespark-kid\x00" + key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    token_version: int
    key_id: str


class Keyring:
    """The key that signs and every key that verifies, by id."""

    def __init__(self, signing_key: str, fallback_keys: list[str]) -> None:
        self.signing_key_id = key_id(signing_key)
        self._keys = {key_id(key): key for key in [*fallback_keys, signing_key]}

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(settings.signing_key, settings.secret_key_fallbacks)

    @property
    def verifying_key_ids(self) -> list[str]:
        return sorted(self._keys)

    def issue_access_token(
        self, *, user_id: int, token_version: int, now: datetime, lifetime: timedelta
    ) -> str:
        claims = {
            "sub": str(user_id),
            "ver": token_version,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": secrets.token_urlsafe(12),
        }
        headers = {"kid": self.signing_key_id, "typ": TOKEN_TYPE}
        return jwt.encode(
            claims, self._keys[self.signing_key_id], algorithm=ALGORITHM, headers=headers
        )

    def verify_access_token(self, token: str, *, now: datetime) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        kid = header.get("kid")
        if not isinstance(kid, str) or not KID_PATTERN.match(kid) or kid not in self._keys:
            raise InvalidToken("unknown key id")
        if header.get("typ") != TOKEN_TYPE or header.get("alg") != ALGORITHM:
            raise InvalidToken("wrong token type")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys[kid],
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Time claims are checked below against the caller's `now`, not the wall clock.
                options={
                    "require": ["exp", "iat", "nbf", "iss", "aud", "sub", "ver"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        _check_times(claims, now)
        sub, version = claims["sub"], claims["ver"]
        if not (_is_id_text(sub) and type(version) is int and 0 <= version <= LARGEST_ID):
            raise InvalidToken("malformed claims")
        return AccessClaims(user_id=int(sub), token_version=version, key_id=kid)


def _is_id_text(value: object) -> bool:
    """Whether ``value`` is the decimal text of an id a table can hold. Checked before
    ``int()``: a signed token whose ``sub`` runs past Python's digit limit, or past the
    database's integer range, is a bad token (401), not a failed query (500)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= len(str(LARGEST_ID))
        and value.isascii()
        and value.isdigit()
        and int(value) <= LARGEST_ID
    )


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    leeway = LEEWAY.total_seconds()
    moment = now.timestamp()
    times = [claims["exp"], claims["iat"], claims["nbf"]]
    if not all(type(value) is int for value in times):
        raise InvalidToken("malformed time claims")
    if claims["exp"] + leeway <= moment:
        raise InvalidToken("expired")
    if claims["iat"] - leeway > moment or claims["nbf"] - leeway > moment:
        raise InvalidToken("not valid yet")


def new_refresh_token() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """A fast hash is enough: the token is random, not a password."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_family_id() -> str:
    return secrets.token_hex(16)
