"""Cross-site request forgery protection for every form that changes something.

A form carries a token that only this site can compute: HMAC-SHA256, keyed with the app's
``SECRET_KEY``, of the browser's session token (after login) or of a random pre-session
cookie (the login and sign-up forms: double-submit). Another site can make a browser post
a form, but cannot read the cookie or the page, so it cannot know the token. A missing or
wrong token, one made for another session, or an ``Origin`` header naming another site is
refused with a 403 before the view runs, so nothing changes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from duespark.config import Settings
from duespark.errors import DueSparkError
from duespark.web import signing

CSRF_FIELD = "csrf_token"
SESSION = "csrf.session"
PRESESSION = "csrf.presession"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Sec-Fetch-Site values a same-site form post can carry ("none": typed or bookmarked).
_OWN_FETCH_SITES = {"same-origin", "none"}


class CsrfRefused(DueSparkError):
    status_code = 403
    code = "forbidden"

    def __init__(self) -> None:
        super().__init__(
            "This form could not be accepted: it expired or did not come from this site. "
            "Go back, reload the page and try again."
        )


def token(settings: Settings, purpose: str, binding: str) -> str:
    """The token forms bound to ``binding`` (a session or pre-session token) carry."""
    return signing.sign(settings, purpose, binding)


def check(
    request: Request,
    settings: Settings,
    *,
    submitted: object,
    purpose: str,
    binding: str | None,
) -> None:
    """Raise CsrfRefused unless the request comes from this site with the right token."""
    if not same_origin(request, settings):
        raise CsrfRefused()
    if not binding or not isinstance(submitted, str) or len(submitted) > 128:
        raise CsrfRefused()
    if not signing.verify(settings, purpose, binding, submitted):
        raise CsrfRefused()


def same_origin(request: Request, settings: Settings) -> bool:
    """False when the browser says the request comes from another site. Browsers send
    ``Origin`` with every form post; a request without it (an old browser, a script) is
    left to the token."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _OWN_FETCH_SITES:
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {_origin_of(settings.base_url), _origin_of(str(request.base_url))}
    parsed = _origin_of(origin)
    return parsed is not None and parsed in own


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]
