"""The front door: ``/`` sends people to the pages, and any path under ``/app`` that no
page claims is an HTML 404 page. The home page itself, ``/app``, is the dashboard
(``analytics/views.py``)."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, RedirectResponse

from duespark.errors import NotFound
from duespark.web.dependencies import OptionalUser
from duespark.web.pages import HOME_PATH, page_router

router = page_router()
fallback_router = page_router()


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(HOME_PATH, status_code=302)


@fallback_router.get(HOME_PATH + "/{path:path}")
def not_found(path: str, _user: OptionalUser) -> HTMLResponse:
    """Declared last, so it answers only paths no page claims."""
    raise NotFound(f"No page at /app/{path}.")
