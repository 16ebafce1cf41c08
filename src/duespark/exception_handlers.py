"""The JSON edge: every error becomes ``{"error": {"code", "message", "field"?, "errors"?}}``.

One shape for domain errors, validation errors, unknown routes and unexpected failures, so
a client needs one parser. Unexpected exceptions are logged with their traceback and
answered with a bare 500 that leaks nothing; a database that cannot be reached is a 503.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from duespark.errors import Conflict, DueSparkError, ServiceUnavailable

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


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    if any(error.get("type") == "json_invalid" for error in raw):
        return JSONResponse(
            error_body("malformed_json", "The request body is not valid JSON."), status_code=400
        )
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


def install(app: FastAPI) -> None:
    @app.exception_handler(DueSparkError)
    async def _domain(_request: Request, exc: DueSparkError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        logger.info("integrity error turned into 409: %s", exc.orig)
        return error_response(Conflict("The change conflicts with existing data."))

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
