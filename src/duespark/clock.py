"""The only module that reads the wall clock.

Everything else receives ``now`` as an argument, so rules about time (is this invoice
overdue, when does a lockout end) are pure functions that tests can drive with any instant.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def local_today(now: datetime, time_zone: str) -> date:
    """The calendar date at instant ``now`` in the IANA zone ``time_zone``."""
    return now.astimezone(ZoneInfo(time_zone)).date()
