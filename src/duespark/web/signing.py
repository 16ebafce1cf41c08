"""HMAC-SHA256 signatures keyed with the app's ``SECRET_KEY``, for CSRF tokens and flash
cookies.

New values are signed with the current key; any key of the ring (``SECRET_KEY`` and
``SECRET_KEY_FALLBACKS``) verifies, so a key rotation does not break the forms open in
people's browsers. Each use names its ``purpose``, so a signature made for one purpose is
never accepted for another.
"""

from __future__ import annotations

import hashlib
import hmac

from duespark.config import Settings


def sign(settings: Settings, purpose: str, value: str) -> str:
    return _signature(settings.signing_key, purpose, value)


def verify(settings: Settings, purpose: str, value: str, signature: str) -> bool:
    """Constant-time comparison against each key of the ring."""
    valid = False
    for key in [settings.signing_key, *settings.secret_key_fallbacks]:
        # No early return: the time taken does not tell which key matched.
        valid |= hmac.compare_digest(_signature(key, purpose, value), signature)
    return valid


def _signature(key: str, purpose: str, value: str) -> str:
    message = f"duespark.web.{purpose}\x00{value}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
