"""Login throttling: when a lockout starts and exactly when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from duespark.auth.throttle import ACCOUNT_LIMIT, WINDOW, seconds_locked

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def minutes_ago(*minutes: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        ([], None),
        (minutes_ago(1, 2, 3, 4), None),  # four failures: still allowed
        (minutes_ago(1, 2, 3, 4, 5), 10 * 60),  # fifth: locked until the oldest is 15 min old
        (minutes_ago(1, 2, 3, 4, 14), 60),
        (minutes_ago(1, 2, 3, 4, 16), None),  # one of them has left the window
        (minutes_ago(0, 0, 0, 0, 0, 0, 0), 15 * 60),
        (minutes_ago(1, 2, 3, 4, 5, 6, 7), 10 * 60),  # the 5th most recent decides
    ],
)
def test_account_lockout(failures: list[datetime], expected: int | None) -> None:
    assert seconds_locked(failures, limit=ACCOUNT_LIMIT, now=NOW) == expected


def test_lockout_ends_exactly_when_the_window_passes() -> None:
    failures = minutes_ago(0, 0, 0, 0, 0)
    assert seconds_locked(failures, limit=5, now=NOW + WINDOW - timedelta(seconds=1)) == 1
    assert seconds_locked(failures, limit=5, now=NOW + WINDOW) is None


def test_retry_after_is_never_zero() -> None:
    failures = [NOW - WINDOW + timedelta(milliseconds=10)] * 5
    assert seconds_locked(failures, limit=5, now=NOW) == 1
