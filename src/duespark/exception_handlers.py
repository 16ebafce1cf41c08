"""The JSON edge: every error becomes ``{"error": {"code", "message", "field"?, "errors"?}}``.

One shape for domain errors, validation errors, unknown routes and unexpected failures, so
a client needs one parser. Unexpected exceptions are logged with their traceback and
answered with a bare 500 that leaks nothing; a database that cannot be reached is a 503.

Two safety nets turn database refusals caused by input into client errors rather than
500s: a unique or foreign key violation is a 409, and a value the database cannot store
(PostgreSQL refuses text containing NUL, for example) is a 422. The request's transaction
has been rolled back by the time either is rendered, so nothing was written.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from duespark.errors import Conflict, DueSparkError, InvalidInput, ServiceUnavailable

logger = logging.getLogger("duespark.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_body(
    code: str, message: str, *, field: str | None = None, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if errors:
        error["errors"] = errors
    return {"error": error}


def error_response(exc: DueSparkError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.code, exc.message, field=exc.field),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts)


MALFORMED_JSON = "The request body is not valid JSON."


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if any(error.get("type") == "json_invalid" for error in raw):
        return JSONResponse(error_body("malformed_json", MALFORMED_JSON), status_code=400)
    errors = [
        {"field": _field_name(tuple(error["loc"])), "message": _message(error)} for error in raw
    ]
    first = errors[0] if errors else {"field": "", "message": "invalid input"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return JSONResponse(
        error_body("invalid_input", message, field=first["field"] or None, errors=errors),
        status_code=422,
    )


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "missing":
        return "required"
    return message.removeprefix("Value error, ")


def _is_json_request(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type in {"", "application/json"} or media_type.endswith("+json")


def _unparseable_json(request: Request, exc: StarletteHTTPException) -> JSONResponse | None:
    """FastAPI reports only ``JSONDecodeError`` as invalid JSON; a body that is not UTF-8,
    nests too deeply (RecursionError) or holds a number too long to convert (ValueError)
    arrives as a bare 400 "error parsing the body". Those are malformed JSON too."""
    cause = exc.__cause__
    if exc.status_code != 400 or not isinstance(cause, ValueError | RecursionError):
        return None
    if not _is_json_request(request):
        return None
    message = (
        "The request body is nested too deeply to parse."
        if isinstance(cause, RecursionError)
        else MALFORMED_JSON
    )
    return JSONResponse(error_body("malformed_json", message), status_code=400)


def _allowed_methods(request: Request) -> str:
    """Every method some route accepts at this path. Starlette's own ``Allow`` names only
    the first route whose path matched, so ``PUT /clients`` would claim only GET is allowed
    when POST is too."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE and route.methods:
            methods |= route.methods
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(DueSparkError)
    async def _domain(_request: Request, exc: DueSparkError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        malformed = _unparseable_json(request, exc)
        if malformed is not None:
            return malformed
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        logger.info("integrity error turned into 409: %s", exc.orig)
        return error_response(Conflict("The change conflicts with existing data."))

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError) -> JSONResponse:
        logger.warning("database refused a value, turned into 422: %s", exc.orig)
        return error_response(
            InvalidInput("A value in the request cannot be stored (for example, a NUL character).")
        )

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError) -> JSONResponse:
        logger.error("database unavailable: %s", exc.orig)
        return error_response(ServiceUnavailable("The database is unavailable; try again soon."))

    @app.exception_handler(PoolTimeoutError)
    async def _pool(_request: Request, _exc: PoolTimeoutError) -> JSONResponse:
        logger.error("database connection pool exhausted")
        return error_response(ServiceUnavailable("The server is busy; try again soon."))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side."), status_code=500
        )
