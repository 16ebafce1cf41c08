"""One JSON object per log line, each carrying the id of the request it belongs to.

The seed's incident runbook reads ``flyctl logs | tail -100``: free text, nothing linking
the lines of one request, nothing a log tool can filter on. Here every line is a JSON
object (``ts`` in UTC, ``level``, ``logger``, ``msg``, ``request_id`` and, for the
access line, ``method``, ``route``, ``path``, ``status``, ``duration_s``), and the request
id is the one returned to the client in ``X-Request-ID``: a user's complaint that quotes
it leads straight to the lines.

The id travels in a context variable, so it reaches code that knows nothing about
requests (repositories, the email sender) and the threads that run sync endpoints
(Starlette copies the context into them).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("duespark_request_id", default=None)

# What a client may send as X-Request-ID: an opaque token, no spaces, quotes or control
# characters (they would forge log fields or headers), and short.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")

# Attributes passed with ``extra=`` that become JSON fields.
EXTRA_FIELDS = ("method", "route", "path", "status", "duration_s", "worker_id")


def new_request_id() -> str:
    return uuid.uuid4().hex


def safe_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable request id, else None (the caller makes one)."""
    if value is not None and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return None


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on records, for handlers other than ours (pytest's
    capture, an operator's own logging configuration)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON (newlines in messages and tracebacks escaped, so
    a message can never forge a second line)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            payload["request_id"] = request_id
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                payload[name] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (like logging's last resort), so
    a replaced stderr (a test runner's capture) never leaves it writing to a closed file."""

    def __init__(self) -> None:
        super().__init__(stream=sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


_HANDLER_NAME = "duespark-json"


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send the ``duespark.*`` loggers' records to stderr (or ``stream``) as JSON.

    Idempotent: the server calls it at start-up, and several apps in one process (tests)
    share one handler. Records still propagate to the root logger, so an operator's (or a
    test runner's) own handlers keep receiving them.
    """
    logger = logging.getLogger("duespark")
    for existing in logger.handlers:
        if existing.get_name() == _HANDLER_NAME:
            return existing
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    return handler
