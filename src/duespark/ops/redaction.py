"""Removing secrets from anything an operator might paste into a ticket or a chat.

An incident folder travels: it is attached to tickets, uploaded, read by people who must
not see production keys. Two layers, because each misses what the other catches:

* **by value**: every secret the configuration holds (``SECRET_KEY`` and its fallbacks,
  the passwords in ``DATABASE_URL`` and ``DUESPARK_EMAIL_URL``, the metrics token) is
  replaced wherever it appears, also percent-encoded, whatever text it was embedded in
  (an SMTP error that echoes the URL, a query in ``pg_stat_activity``);
* **by shape**: passwords in URLs, ``password=...`` pairs, SQL ``PASSWORD '...'``
  literals and bearer tokens are masked even when the secret is not one we know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit, urlunsplit

from duespark.config import Settings

MASK = "[REDACTED]"
# Shorter values are not replaced by value: replacing every "abc" would mangle the text
# and say which three letters the secret is. The shape rules still mask them in URLs.
MIN_SECRET_LENGTH = 6

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]+@")
_KEY_VALUE = re.compile(
    r"(?i)\b(?P<key>password|passwd|pwd|secret|secret_key|token|api_key|apikey)"
    r"(?P<sep>\s*[=:]\s*)(?P<quote>['\"]?)[^\s'\",;&]+(?P=quote)"
)
_SQL_PASSWORD = re.compile(r"(?i)\b(?P<key>password)\s+(?P<quote>['\"]).*?(?P=quote)")
_BEARER = re.compile(r"(?i)\b(?P<key>bearer)\s+[A-Za-z0-9\-._~+/]+=*")


def secret_values(settings: Settings) -> list[str]:
    """Every secret the configuration holds, longest first (so a secret that contains
    another is replaced whole)."""
    candidates: list[str | None] = [
        settings.secret_key,
        *settings.secret_key_fallbacks,
        settings.metrics_token,
        _url_password(settings.database_url),
        _url_password(settings.email_url),
    ]
    values = {value for value in candidates if value and len(value) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secret values and anything shaped like a credential masked."""
    for secret in secrets:
        for form in _forms(secret):
            text = text.replace(form, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _SQL_PASSWORD.sub(lambda m: f"{m['key']} {m['quote']}{MASK}{m['quote']}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{m['quote']}{MASK}{m['quote']}", text)
    return _BEARER.sub(lambda m: f"{m['key']} {MASK}", text)


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """:func:`redact_text` applied to every string in a JSON-like structure, before it is
    serialised (a secret with a quote or a backslash would be escaped in the JSON text and
    slip past a search for its plain form)."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: redact_data(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(item, secrets) for item in value]
    return value


def redact_url(url: str | None) -> str | None:
    """A URL with its password masked (the user name stays: it helps and is not secret)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:{MASK}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redacted_settings(settings: Settings) -> dict[str, str]:
    """The configuration as an operator may share it: secrets reduced to "set" or "unset",
    URLs without passwords, everything else as is."""

    def presence(value: object) -> str:
        return f"set ({MASK})" if value else "unset"

    return {
        "DUESPARK_ENV": settings.env.value,
        "DATABASE_URL": redact_url(settings.database_url) or "",
        "SECRET_KEY": presence(settings.secret_key),
        "SECRET_KEY_FALLBACKS": f"{len(settings.secret_key_fallbacks)} key(s) ({MASK})"
        if settings.secret_key_fallbacks
        else "none",
        "DUESPARK_EMAIL_URL": redact_url(settings.email_url) or "unset",
        "DUESPARK_EMAIL_FROM": settings.email_from or "unset",
        "DUESPARK_BASE_URL": settings.base_url,
        "DUESPARK_METRICS_TOKEN": presence(settings.metrics_token),
        "DUESPARK_ACCESS_TOKEN_MINUTES": str(settings.access_token_minutes),
        "DUESPARK_REFRESH_TOKEN_DAYS": str(settings.refresh_token_days),
        "DUESPARK_OUTBOX_LEASE_SECONDS": str(settings.outbox_lease_seconds),
    }


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _forms(secret: str) -> list[str]:
    """The secret as written, and as it would appear percent-encoded in a URL or a form."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    return sorted(forms, key=len, reverse=True)
