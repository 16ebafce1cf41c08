"""The API benchmark's baseline: a bare ASGI application that answers ``GET /invoices``
and ``POST /invoices`` with the same SQL DueSpark runs, through the same driver (psycopg 3),
and nothing else: no framework, no validation, no ORM, no middleware, no logging.

It still authenticates (the same HS256 bearer token, checked with PyJWT) and keeps each
request in one transaction, as DueSpark does, because a benchmark against an endpoint
that skipped them would measure a different service. The SQL is what SQLAlchemy emits for
DueSpark's queries (read from its echo log): the account by id, then for the list the
count and the page, and for the create the client, the number check, the insert and its
activity row.

Served by uvicorn with the same number of worker processes as ``duespark serve
--workers N``: ``uvicorn baseline_app:app --workers N`` with ``DATABASE_URL`` and
``SECRET_KEY`` in the environment.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs

import jwt
import psycopg
from psycopg.rows import tuple_row

POOL_SIZE = 8

USER_SQL = """SELECT user_account.id, user_account.email, user_account.password_hash,
user_account.name, user_account.business_name, user_account.time_zone,
user_account.token_version, user_account.reminder_policy, user_account.reminders_paused,
user_account.reminders_paused_until, user_account.created_at, user_account.updated_at
FROM user_account WHERE user_account.id = %s::INTEGER"""
COUNT_SQL = "SELECT count(*) AS count_1 FROM invoice WHERE invoice.user_id = %s::INTEGER"
PAGE_SQL = """SELECT invoice.id, invoice.user_id, invoice.client_id, invoice.number,
invoice.amount_minor, invoice.currency, invoice.issue_date, invoice.due_date, invoice.status,
invoice.paid_at, invoice.amount_paid_minor, invoice.payment_url, invoice.notes,
invoice.reminders_paused, invoice.reminders_paused_until, invoice.created_at,
invoice.updated_at
FROM invoice WHERE invoice.user_id = %s::INTEGER
ORDER BY invoice.due_date ASC, invoice.id ASC LIMIT %s::INTEGER OFFSET %s::INTEGER"""
CLIENT_SQL = """SELECT client.id, client.user_id, client.name, client.email,
client.contact_name, client.time_zone, client.locale, client.default_currency, client.notes,
client.reminders_paused_until, client.reminders_paused, client.reminder_policy,
client.created_at, client.updated_at
FROM client WHERE client.id = %s::INTEGER AND client.user_id = %s::INTEGER"""
NUMBER_SQL = """SELECT invoice.id FROM invoice
WHERE invoice.user_id = %s::INTEGER AND invoice.number = %s::VARCHAR LIMIT %s::INTEGER"""
INSERT_SQL = """INSERT INTO invoice (user_id, client_id, number, amount_minor, currency,
issue_date, due_date, status, paid_at, amount_paid_minor, payment_url, notes,
reminders_paused, reminders_paused_until, created_at, updated_at)
VALUES (%s::INTEGER, %s::INTEGER, %s::VARCHAR, %s::BIGINT, %s::VARCHAR, %s::DATE, %s::DATE,
%s::VARCHAR, %s::TIMESTAMP WITH TIME ZONE, %s::BIGINT, %s::VARCHAR, %s::VARCHAR, %s,
%s::DATE, %s::TIMESTAMP WITH TIME ZONE, %s::TIMESTAMP WITH TIME ZONE) RETURNING invoice.id"""
ACTIVITY_SQL = """INSERT INTO invoice_activity (user_id, invoice_id, kind, detail, created_at)
VALUES (%s::INTEGER, %s::INTEGER, %s::VARCHAR, %s::VARCHAR,
%s::TIMESTAMP WITH TIME ZONE) RETURNING invoice_activity.id"""

COLUMNS = [
    "id",
    "client_id",
    "number",
    "amount_minor",
    "currency",
    "issue_date",
    "due_date",
    "status",
    "paid_at",
    "amount_paid_minor",
    "payment_url",
    "notes",
    "reminders_paused",
    "reminders_paused_until",
    "created_at",
    "updated_at",
]


class Pool:
    """A fixed set of async connections, opened on first use in this process's loop."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size = url, size
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] | None = None

    async def take(self) -> psycopg.AsyncConnection[Any]:
        if self.idle is None:
            self.idle = asyncio.Queue()
            for _ in range(self.size):
                self.idle.put_nowait(
                    await psycopg.AsyncConnection.connect(self.url, row_factory=tuple_row)
                )
        return await self.idle.get()

    def give(self, connection: psycopg.AsyncConnection[Any]) -> None:
        assert self.idle is not None
        self.idle.put_nowait(connection)


POOL = Pool(os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://"), POOL_SIZE)
KEY = os.environ["SECRET_KEY"]


def _amount(minor: int) -> str:
    units, cents = divmod(minor, 100)
    return f"{units}.{cents:02d}"


def _invoice(row: tuple[Any, ...], today: date) -> dict[str, Any]:
    item = dict(zip(COLUMNS, (row[0], *row[2:]), strict=True))
    overdue = (today - item["due_date"]).days if item["status"] == "open" else 0
    item["amount"] = _amount(item.pop("amount_minor"))
    paid = item.pop("amount_paid_minor")
    item["amount_paid"] = None if paid is None else _amount(paid)
    item["is_overdue"] = overdue > 0
    item["days_overdue"] = max(overdue, 0)
    return item


def _default(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value))


async def _answer(send: Any, status: int, body: object) -> None:
    payload = json.dumps(body, default=_default).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _user_id(scope: dict[str, Any]) -> int | None:
    for name, value in scope["headers"]:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            try:
                claims = jwt.decode(
                    value[7:].decode(),
                    KEY,
                    algorithms=["HS256"],
                    audience="duespark-api",
                    issuer="duespark",
                )
            except jwt.PyJWTError:
                return None
            return int(claims["sub"])
    return None


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["path"] != "/invoices" or scope["method"] not in ("GET", "POST"):
        await _answer(send, 404, {"error": {"code": "not_found", "message": "Not found."}})
        return
    user_id = _user_id(scope)
    if user_id is None:
        await _answer(send, 401, {"error": {"code": "not_authenticated", "message": "No."}})
        return
    now = datetime.now(UTC)
    body = await _body(receive) if scope["method"] == "POST" else b""
    connection = await POOL.take()
    try:
        async with connection.transaction():
            user = await (await connection.execute(USER_SQL, (user_id,))).fetchone()
            if user is None:
                status, answer = 401, {"error": {"code": "not_authenticated", "message": "No."}}
            elif scope["method"] == "GET":
                status, answer = 200, await _list(connection, user_id, scope, now.date())
            else:
                status, answer = await _create(connection, user_id, json.loads(body), now)
    finally:
        POOL.give(connection)
    await _answer(send, status, answer)


async def _list(
    connection: psycopg.AsyncConnection[Any], user_id: int, scope: dict[str, Any], today: date
) -> dict[str, Any]:
    query = parse_qs(scope["query_string"].decode())
    limit = int(query.get("limit", ["50"])[0])
    offset = int(query.get("offset", ["0"])[0])
    total = (await (await connection.execute(COUNT_SQL, (user_id,))).fetchone())[0]  # type: ignore[index]
    rows = await (await connection.execute(PAGE_SQL, (user_id, limit, offset))).fetchall()
    items = [_invoice(row, today) for row in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


async def _create(
    connection: psycopg.AsyncConnection[Any], user_id: int, data: dict[str, Any], now: datetime
) -> tuple[int, dict[str, Any]]:
    client = await (await connection.execute(CLIENT_SQL, (data["client_id"], user_id))).fetchone()
    if client is None:
        return 422, {"error": {"code": "invalid_input", "message": "No such client."}}
    taken = await (await connection.execute(NUMBER_SQL, (user_id, data["number"], 1))).fetchone()
    if taken is not None:
        return 409, {"error": {"code": "conflict", "message": "Number used."}}
    units, _, cents = data["amount"].partition(".")
    minor = int(units) * 100 + int(cents or 0)
    due = date.fromisoformat(data["due_date"])
    row = (
        user_id,
        client[0],
        data["number"],
        minor,
        client[7],
        now.date(),
        due,
        "open",
        None,
        None,
        None,
        data.get("notes", ""),
        False,
        None,
        now,
        now,
    )
    new_id = (await (await connection.execute(INSERT_SQL, row)).fetchone())[0]  # type: ignore[index]
    await connection.execute(ACTIVITY_SQL, (user_id, new_id, "created", f"open, due {due}", now))
    return 201, _invoice((new_id, user_id, *row[1:]), now.date())
