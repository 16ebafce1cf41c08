"""The few SQL expressions analytics needs that SQLite and PostgreSQL spell differently.

Queries are written once against these constructs; each compiles to its dialect's form, so
the same query gives the same figures on both databases:

* ``days_between(later, earlier)``: whole days from one date to another. PostgreSQL
  subtracts dates; SQLite, which stores dates as ``YYYY-MM-DD`` text, subtracts Julian day
  numbers (exact for dates: both end in ``.5``).
* ``local_date(instant, zone)``: the calendar date of a UTC timestamp in an IANA zone.
  PostgreSQL knows time zones (``timezone(zone, ts)``); SQLite does not, so it calls a
  function registered on the connection by :func:`prepare` that uses Python's zoneinfo.
* :func:`integer_pairs`: a small table of (key, value) integers sent as one JSON parameter
  (``jsonb_array_elements`` on PostgreSQL, ``json_each`` on SQLite), so a statement stays
  the same size, and its plan cacheable, whatever the number of pairs.

:func:`prepare` also switches PostgreSQL's JIT compiler off for the transaction: compiling
these aggregates costs more (a quarter of a second per query) than it saves on one account's
rows, and ``SET LOCAL`` ends with the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Integer, String, Subquery, column, literal, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_LOCAL_DATE = "duespark_local_date"


class days_between(FunctionElement[int]):
    """``later - earlier`` in whole days (negative when ``later`` is earlier)."""

    type = Integer()
    name = "days_between"
    inherit_cache = True


class local_date(FunctionElement[Any]):
    """The date, in the IANA zone given as the second argument, of a UTC timestamp."""

    type = Date()
    name = "local_date"
    inherit_cache = True


def date_value(value: Any) -> ColumnElement[Any]:
    """A date as a bound SQL value (a parameter, not text pasted into the statement)."""
    return literal(value, Date())


def zone_value(name: str) -> ColumnElement[str]:
    return literal(name, String())


def integer_pairs(
    session: Session, pairs: Mapping[int, int], *, name: str, key: str, value: str
) -> Subquery:
    """``pairs`` as a table ``name(key, value)`` of integers, for joining."""
    document = json.dumps([[int(k), int(v)] for k, v in pairs.items()])
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            f"SELECT CAST(pair ->> 0 AS INTEGER) AS {key}, CAST(pair ->> 1 AS INTEGER) AS {value} "
            "FROM jsonb_array_elements(CAST(:pairs AS JSONB)) AS pair"
        )
    else:
        sql = (
            f"SELECT CAST(json_extract(value, '$[0]') AS INTEGER) AS {key}, "
            f"CAST(json_extract(value, '$[1]') AS INTEGER) AS {value} FROM json_each(:pairs)"
        )
    return (
        text(sql)
        .bindparams(pairs=document)
        .columns(column(key, Integer), column(value, Integer))
        .subquery(name)
    )


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(argument, **kw) for argument in element.clauses]


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _arguments(element, compiler, **kw)
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = _arguments(element, compiler, **kw)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    instant, zone = _arguments(element, compiler, **kw)
    return f"CAST(timezone(CAST({zone} AS TEXT), {instant}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    instant, zone = _arguments(element, compiler, **kw)
    return f"{SQLITE_LOCAL_DATE}({instant}, {zone})"


def prepare(session: Session) -> None:
    """Ready the session's connection for analytics queries: on SQLite, register the
    function behind :class:`local_date` (idempotent, microseconds); on PostgreSQL, no JIT
    for the rest of this transaction."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        driver.create_function(SQLITE_LOCAL_DATE, 2, _sqlite_local_date, deterministic=True)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL jit = off")


def _sqlite_local_date(stored: str | None, zone: str | None) -> str | None:
    """SQLite stores a UTC timestamp as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` without an offset."""
    if stored is None or zone is None:
        return None
    instant = datetime.fromisoformat(stored)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(_zone(zone)).date().isoformat()


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)
