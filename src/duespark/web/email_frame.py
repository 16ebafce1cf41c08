"""Email previews, shown in a frame of their own: the subject, the recipient, the text
part and the HTML part exactly as the worker renders them.

A reminder's HTML part carries inline styles (email clients need them), which the pages'
Content-Security-Policy refuses, and which an ``<iframe srcdoc>`` on a page would inherit.
So a preview is a separate document, served with a policy of its own and shown in an
``<iframe sandbox>``:

* ``sandbox`` (as a policy directive and on the ``<iframe>``): no scripts, no forms, no
  popups, no top navigation, and an opaque origin that reads no cookie of this site;
* ``default-src 'none'`` with inline styles only: nothing is fetched, nothing runs;
* ``frame-ancestors 'self'`` and ``X-Frame-Options: SAMEORIGIN``: only these pages frame it.

Inside it the HTML part sits in a nested ``<iframe sandbox srcdoc>``, so it is laid out as
a client's mail program would, whole, without touching the frame's own text. Every value
is escaped by the template (a subject holding ``<script>`` is shown as text), and
``srcdoc`` receives the HTML part escaped as an attribute, as the standard requires.

The template editor posts its draft straight into the frame (a form with ``formtarget``),
so the preview works without JavaScript; ``static/duespark.js`` only re-posts it as the
user types.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse

from duespark.web.templating import ENVIRONMENT

FRAME_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'"
)
FRAME_HEADERS = {"Content-Security-Policy": FRAME_POLICY, "X-Frame-Options": "SAMEORIGIN"}
FRAME_NAME = "email-preview"


def frame_response(
    *,
    subject: str = "",
    to: str = "",
    text: str = "",
    html: str = "",
    problem: str | None = None,
    note: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    """The preview document; ``problem`` (a template that cannot be rendered) replaces it."""
    context: dict[str, Any] = {
        "subject": subject,
        "to": to,
        "text": text,
        "html": html,
        "problem": problem,
        "note": note,
    }
    body = ENVIRONMENT.get_template("previews/email_frame.html").render(context)
    return HTMLResponse(body, status_code=status_code, headers=FRAME_HEADERS)
