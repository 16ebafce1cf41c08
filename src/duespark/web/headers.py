"""Security headers, added to every response as it leaves.

Everywhere: no MIME sniffing, no referrer to other sites, no framing. On the pages under
``/app`` also a strict Content-Security-Policy (scripts, styles and forms from this origin
only, no inline script or style at all, so an injected ``<script>`` or ``style=`` would
not run even if escaping failed) and ``Cache-Control: no-store`` on the pages themselves
(they show account data; static files stay cacheable). ``/docs`` keeps working: Swagger
UI loads its scripts from a CDN, so the strict policy is not applied there. The email
preview frame brings its own, stricter policy (``web/email_frame.py``) and keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGES_PREFIX = "/app"
STATIC_PREFIX = "/app/static/"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"


def is_page_path(path: str) -> bool:
    return path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")


class SecurityHeaders:
    """Pure ASGI, so streaming responses and the body limit's 413 pass through intact.
    ``hsts``: also send Strict-Transport-Security (production behind HTTPS)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERYWHERE.items():
                    headers.setdefault(name, value)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if is_page_path(path):
                    # A response that sets its own policy keeps it: only the email preview
                    # frame does (``web/email_frame.py``: sandboxed, nothing fetched).
                    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                    if not path.startswith(STATIC_PREFIX):
                        headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
