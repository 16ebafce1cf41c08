"""Run a create operation at most once per ``Idempotency-Key``.

The key is claimed by inserting its row *before* the operation runs, in the request's own
transaction. On PostgreSQL a concurrent request with the same key blocks on the unique
index until the first transaction ends: if it committed, the insert fails, the waiting
request rolls back and replays the stored answer; if it rolled back (the operation was
refused), the waiting request's claim succeeds and it runs the operation itself. On SQLite
transactions are serialised (``BEGIN IMMEDIATE``), so the second request simply finds the
committed row. Either way one resource is created and every request gets its answer.

Only answers of operations that succeeded are stored: a refused request changes nothing,
so retrying it with the same key runs it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.errors import InvalidInput
from duespark.idempotency import repository
from duespark.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Keys are kept at least this long; the worker forgets older ones.
RETENTION = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"


def request_hash(path: str, body: BaseModel | None) -> str:
    """What a reused key must match: the concrete path and the parsed body."""
    # warnings=False: a field typed "date or timestamp" serialises either correctly, but
    # pydantic warns that the value is not the first type of the union.
    dumped = body.model_dump(mode="json", warnings=False) if body else None
    document = {"path": path, "body": dumped}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_once(
    session: Session,
    *,
    user_id: int,
    key: str | None,
    scope: str,
    fingerprint: str,
    status_code: int,
    operation: Callable[[], BaseModel],
    now: datetime,
) -> Any:
    """The operation's answer, or with a key already used, the stored answer of its first run.

    Without a key this is just ``operation()``. With one, the answer is returned as a
    ``JSONResponse`` built from the stored JSON, so the first answer and its replays are
    byte-for-byte the same body."""
    if key is None:
        return operation()
    stored = repository.find(session, user_id=user_id, scope=scope, key=key)
    claim = None
    if stored is None:
        claim, stored = _claim(session, user_id, scope, key, fingerprint, now)
    if stored is not None:
        return _replay(stored, fingerprint)
    assert claim is not None
    body = operation().model_dump(mode="json")
    claim.status_code = status_code
    claim.response_body = json.dumps(body, separators=(",", ":"))
    session.flush()
    return JSONResponse(body, status_code=status_code)


def _claim(
    session: Session, user_id: int, scope: str, key: str, fingerprint: str, now: datetime
) -> tuple[IdempotencyKey | None, IdempotencyKey | None]:
    """(our claim, None), or (None, the winner's row) when another request got there first."""
    claim = IdempotencyKey(
        user_id=user_id, scope=scope, key=key, request_hash=fingerprint, created_at=now
    )
    session.add(claim)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        winner = repository.find(session, user_id=user_id, scope=scope, key=key)
        if winner is None:  # pragma: no cover - the unique key says it exists
            raise
        return None, winner
    return claim, None


def _replay(stored: IdempotencyKey, fingerprint: str) -> JSONResponse:
    if stored.request_hash != fingerprint:
        raise InvalidInput(
            f"This {HEADER} was already used with a different request; "
            "send a new key for a new request.",
            field=HEADER,
        )
    if stored.status_code is None or stored.response_body is None:  # pragma: no cover
        raise RuntimeError("an idempotency key is visible before its answer was stored")
    return JSONResponse(
        json.loads(stored.response_body),
        status_code=stored.status_code,
        headers={REPLAYED_HEADER: "true"},
    )
