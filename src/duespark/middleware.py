"""ASGI middleware that protects every route the same way."""

from __future__ import annotations

import json

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
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
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
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay_then(body, receive), send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            error_body(
                "payload_too_large", f"The request body is larger than {self.max_bytes} bytes."
            ),
            separators=(",", ":"),
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
