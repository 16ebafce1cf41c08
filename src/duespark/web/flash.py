"""One-time messages shown on the page after a redirect ("Invoice INV-7 marked paid").

The message travels in a short-lived cookie, signed so that only this site can write
one: a forged cookie is ignored. It is shown (escaped like any text) on the next page
rendered, and that page deletes it.
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response

from duespark.config import Settings
from duespark.web import signing
from duespark.web.cookies import FLASH_COOKIE, set_cookie

PURPOSE = "flash"
MAX_LENGTH = 300
MAX_AGE_SECONDS = 120


def set_flash(response: Response, settings: Settings, message: str) -> None:
    payload = base64.urlsafe_b64encode(message[:MAX_LENGTH].encode()).decode().rstrip("=")
    value = f"{payload}.{signing.sign(settings, PURPOSE, payload)}"
    set_cookie(response, settings, FLASH_COOKIE, value, max_age=MAX_AGE_SECONDS)


def read_flash(request: Request, settings: Settings) -> str | None:
    """The flash message, when the cookie holds one this site signed."""
    value = request.cookies.get(FLASH_COOKIE)
    if not value or len(value) > 2 * MAX_LENGTH + 100 or "." not in value:
        return None
    payload, _, signature = value.rpartition(".")
    if not signing.verify(settings, PURPOSE, payload, signature):
        return None
    try:
        return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
