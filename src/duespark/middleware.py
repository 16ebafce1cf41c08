"""ASGI middleware that protects every route the same way."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from duespark.exception_handlers import error_body

MAX_BODY_BYTES = 1_000_000


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with a 413, whether or not the client
    declared a Content-Length, before any of it reaches a parser.

    A huge body must not cost memory or a 500 in a JSON or form parser.

    * A declared ``Content-Length`` over the limit is refused before reading anything. A
      declared length within the limit is trusted: the HTTP server delivers no more bytes
      than it declares.
    * Without a valid ``Content-Length`` the body is read here, up to the limit, and
      replayed to the application. This covers HTTP/1.1 chunked bodies, and also servers
      that announce neither header (HTTP/2 has no ``Transfer-Encoding``), so the limit
      does not depend on how the length was (not) declared.

    ``path_limits`` gives some paths a larger limit (a file upload, which the multipart
    parser spools to disk). Buffering such a body here would hold it all in memory, so
    without a declared length it is passed on as it arrives and counted, and the read that
    goes over the limit raises a 413 ``HTTPException``, which FastAPI lets through its body
    parsing to the JSON error handler.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        *,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope.get("path", ""), self.max_bytes)
        declared = _declared_length(scope)
        if declared is not None:
            if declared > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        if limit > self.max_bytes:
            await self.app(scope, _counted(receive, limit), send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away mid-body: let the application see the disconnect.
                await self.app(scope, _replay_then(message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay_then(body, receive), send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(
            error_body("payload_too_large", _too_large(limit)), separators=(",", ":")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body was never read; do not reuse the connection.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


def _counted(receive: Receive, limit: int) -> Receive:
    """A ``receive`` that refuses, with a 413, to deliver more than ``limit`` bytes."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                # The rest of the body is not read; do not reuse the connection.
                raise HTTPException(413, _too_large(limit), headers={"Connection": "close"})
        return message

    return counted


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length the client declared, or None when absent or unreadable."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None


def _replay_then(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that answers ``first`` once, then defers to the real one."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return first
        return await receive()

    return replay
