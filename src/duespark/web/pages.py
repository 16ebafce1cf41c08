"""Page routes, and the HTML edge: every error of a page route becomes an HTML page.

The JSON API renders errors once, in ``duespark.exception_handlers``; pages render the same
errors once, here, as a page with the layout and a way back. ``PageRoute`` wraps each page
route's handler, so the choice between JSON and HTML is made by the route that answered,
not guessed from headers:

* ``LoginRequired`` (no valid session) redirects to the login page, which returns the
  visitor to where they were going;
* a ``DueSparkError`` shows its message with its status (404 for another account's ids,
  403 for a refused form, 409, 429 with ``Retry-After``, ...);
* a path that fails validation (``/app/clients/abc``) is a 404 page, a bad query a 422;
* database refusals become 409, 422 or 503 pages, as in the JSON edge;
* anything else is logged with its traceback and shown as a 500 page that leaks nothing.

By the time an error is rendered the request's transaction has been rolled back, so a
refused request has changed nothing. Views that want to show a refusal *inside* a form
catch the error themselves (see ``forms.savepoint``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from duespark.errors import DueSparkError
from duespark.web.templating import render

logger = logging.getLogger("duespark.web")

LOGIN_PATH = "/app/login"
HOME_PATH = "/app"

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Not possible",
    413: "Too large",
    422: "Not accepted",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Unavailable",
}
NOT_FOUND_MESSAGE = "There is no such page in your account."


class LoginRequired(Exception):
    """The page needs a signed-in visitor; ``next_path`` is where to return after login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def page_router() -> APIRouter:
    """A router for pages: HTML answers, errors as pages, absent from the OpenAPI document."""
    return APIRouter(
        route_class=PageRoute, include_in_schema=False, default_response_class=HTMLResponse
    )


def login_redirect(next_path: str) -> RedirectResponse:
    target = LOGIN_PATH
    if next_path and next_path != HOME_PATH:
        target += "?next=" + quote(next_path, safe="/")
    return RedirectResponse(target, status_code=303)


def safe_next(value: object) -> str:
    """Where to go after login: a path under /app on this site, never another site
    (``//evil.example``, ``/\\evil.example``, ``https://...``)."""
    if (
        isinstance(value, str)
        and len(value) <= 2000
        and (value == HOME_PATH or value.startswith(HOME_PATH + "/") or value.startswith("/app?"))
        and "\\" not in value
        and not any(ord(character) < 0x20 or ord(character) == 0x7F for character in value)
    ):
        return value
    return HOME_PATH


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as required:
                return login_redirect(required.next_path)
            except Exception as exc:  # every failure of a page becomes a page
                return error_page(request, exc)

        return page_handler


def error_page(request: Request, exc: Exception) -> HTMLResponse:
    status, message, headers = _describe(request, exc)
    return render(
        request,
        "error.html",
        {"title": _TITLES.get(status, "Error"), "message": message, "status": status},
        status_code=status,
        headers=headers,
    )


def _describe(request: Request, exc: Exception) -> tuple[int, str, dict[str, str]]:
    if isinstance(exc, DueSparkError):
        if exc.status_code == 404:
            return 404, NOT_FOUND_MESSAGE, {}
        if exc.status_code >= 500:
            logger.error("page %s failed: %s", request.url.path, exc.message)
        return exc.status_code, exc.message, dict(exc.headers)
    if isinstance(exc, RequestValidationError):
        errors = exc.errors()
        if any((error.get("loc") or ("",))[0] == "path" for error in errors):
            return 404, NOT_FOUND_MESSAGE, {}
        return 422, "The address of this page holds a value that is not accepted.", {}
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 404:
            return 404, NOT_FOUND_MESSAGE, {}
        return exc.status_code, str(exc.detail), dict(exc.headers or {})
    if isinstance(exc, IntegrityError):
        logger.info("integrity error on a page turned into 409: %s", exc.orig)
        return 409, "The change conflicts with existing data; nothing was saved.", {}
    if isinstance(exc, DataError):
        logger.warning("database refused a value on a page, turned into 422: %s", exc.orig)
        return 422, "A value cannot be stored (for example, a NUL character).", {}
    if isinstance(exc, OperationalError | PoolTimeoutError):
        logger.error("database unavailable on a page: %s", exc)
        return 503, "The service is busy or unavailable; try again in a moment.", {}
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return 500, "Something went wrong on our side; nothing was saved.", {}
