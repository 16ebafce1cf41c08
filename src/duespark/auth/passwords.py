"""Password hashing with Argon2id at OWASP's recommended minimum.

OWASP's minimum profile (19 MiB, 2 passes, 1 lane) rather than argon2-cffi's 64 MiB
default: it is the documented floor, costs about 55 ms on a small machine, and keeps
memory per concurrent login low enough that a burst of logins cannot exhaust a server.
Hashes made with other parameters are upgraded at the next successful login.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MEMORY_COST_KIB = 19_456
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
# Verified against when the account does not exist, so that an unknown address costs the
# same time as a wrong password.
_DUMMY_HASH = _hasher.hash("duespark-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always does a full Argon2 verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
