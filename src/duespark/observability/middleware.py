"""Request ids, timing, request metrics and the access log line, as one pure ASGI layer.

It is the outermost of DueSpark's own middleware, so it sees every answer, including a
413 from the body limit and a 500 from an unexpected exception:

* the request id is the client's ``X-Request-ID`` when it is a safe token (see
  :func:`duespark.observability.logging.safe_request_id`), else a new one; it is set in
  the logging context for the whole request and returned in ``X-Request-ID``;
* when the application raises, this layer answers the 500 itself (the same body as the
  exception handler), so even that response carries the id the client will quote, then
  re-raises so the error handler still logs the traceback, with the id, and the server
  still sees the failure;
* the route label is the matched route's template, read after routing has run;
  anything unmatched is ``<unmatched>``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duespark.exception_handlers import error_body
from duespark.observability.logging import REQUEST_ID, new_request_id, safe_request_id
from duespark.observability.metrics import UNMATCHED, AppMetrics

access_logger = logging.getLogger("duespark.access")
REQUEST_ID_HEADER = b"x-request-id"
# Probed every few seconds by load balancers and Prometheus: logged at DEBUG only.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestObservability:
    def __init__(self, app: ASGIApp, metrics: AppMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self._templates: dict[Any, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = safe_request_id(_header(scope, REQUEST_ID_HEADER)) or new_request_id()
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not response_started:
                # Best effort: if the client is gone, the error handler still runs.
                with contextlib.suppress(Exception):
                    await _internal_error(send_with_id)
            self._finish(scope, status, started)
            # The id stays set: the error handler outside this layer logs the traceback
            # next, and its line must carry the id too. The request's task ends after it.
            raise
        self._finish(scope, status, started)
        REQUEST_ID.reset(token)

    def _finish(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = self._route_template(scope)
        method = str(scope.get("method", ""))
        if self.metrics is not None:
            self.metrics.observe(method, route, status, elapsed)
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        if status >= 500:
            level = logging.WARNING
        access_logger.log(
            level,
            "%s %s %d %.1f ms",
            method,
            route,
            status,
            elapsed * 1000,
            extra={
                "method": method,
                "route": route,
                "path": scope.get("path", ""),
                "status": status,
                "duration_s": round(elapsed, 6),
            },
        )

    def _route_template(self, scope: Scope) -> str:
        """The template of the route that answered (FastAPI routes record themselves in
        ``scope["route"]``; Starlette ones, like /docs, only their endpoint)."""
        route = scope.get("route")
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if isinstance(template, str) and template:
            return template
        endpoint = scope.get("endpoint")
        app = scope.get("app")
        if endpoint is None or app is None:
            return UNMATCHED
        if endpoint not in self._templates:
            self._templates[endpoint] = _template_of(app.routes, endpoint)
        return self._templates[endpoint]


def _template_of(routes: list[BaseRoute], endpoint: Any) -> str:
    for route in routes:
        if getattr(route, "endpoint", None) is endpoint:
            path = getattr(route, "path", None)
            if isinstance(path, str):
                return path
    return UNMATCHED


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                return None
    return None


async def _internal_error(send: Send) -> None:
    body = json.dumps(
        error_body("internal_error", "Something went wrong on our side."), separators=(",", ":")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
