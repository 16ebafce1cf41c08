"""The dialect helpers give the same answers on SQLite and PostgreSQL as Python does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, literal, select

from duespark.analytics.sql_dialect import (
    date_value,
    days_between,
    integer_pairs,
    local_date,
    prepare,
    zone_value,
)
from duespark.db import Database
from duespark.models.base import UTCDateTime

DATE_PAIRS = [
    (date(2026, 6, 30), date(2026, 6, 30)),
    (date(2026, 3, 1), date(2026, 2, 28)),
    (date(2024, 3, 1), date(2024, 2, 28)),  # a leap day between
    (date(2026, 3, 29), date(2026, 3, 28)),  # a clock change between, in Europe
    (date(2026, 1, 1), date(2025, 12, 31)),
    (date(1970, 1, 1), date(2199, 12, 31)),  # far apart, negative
    (date(2199, 12, 31), date(1970, 1, 1)),
]


def test_days_between(database: Database) -> None:
    with database.session_scope() as session:
        for later, earlier in DATE_PAIRS:
            got = session.scalar(select(days_between(date_value(later), date_value(earlier))))
            assert got == (later - earlier).days, (later, earlier)


INSTANTS = [
    datetime(2026, 6, 29, 21, 59, 59, tzinfo=UTC),
    datetime(2026, 6, 29, 22, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # Berlin's spring change (01:00 UTC)
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # and the autumn one
    datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
    datetime(2026, 6, 30, 11, 15, tzinfo=UTC),
    datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC),
]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Chatham", "Asia/Kolkata"]


@pytest.mark.parametrize("zone", ZONES)
def test_local_date(database: Database, zone: str) -> None:
    """A timestamp bound as the columns store it (SQLite: UTC text without an offset)."""
    with database.session_scope() as session:
        prepare(session)
        for instant in INSTANTS:
            stored = literal(instant, UTCDateTime())
            got = session.scalar(select(local_date(stored, zone_value(zone))))
            expected = instant.astimezone(ZoneInfo(zone)).date()
            assert got == expected, (instant, zone)
            # And as a date SQL can do arithmetic with.
            difference = days_between(
                date_value(expected + timedelta(days=3)), local_date(stored, zone_value(zone))
            )
            assert session.scalar(select(difference)) == 3


def test_integer_pairs(database: Database) -> None:
    pairs = {client_id: (client_id % 11) - 5 for client_id in range(1, 5001)}
    with database.session_scope() as session:
        table = integer_pairs(session, pairs, name="shifts", key="client_id", value="shift")
        rows = session.execute(select(table.c.client_id, table.c.shift)).all()
        assert dict(rows) == pairs
        total = session.scalar(select(func.sum(table.c.shift)).where(table.c.client_id <= 11))
        assert total == sum(pairs[k] for k in range(1, 12))
