"""The invoice state machine and the overdue rule: pure functions, driven with explicit dates.

The expected transitions are written out here on purpose rather than read from
``TRANSITIONS``: a test that derives its expectations from the code under test cannot fail.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from duespark.clock import local_today
from duespark.invoices.status import (
    Action,
    InvoiceStatus,
    TransitionRefused,
    days_overdue,
    is_overdue,
    next_status,
)

S, A = InvoiceStatus, Action

ALLOWED: dict[tuple[InvoiceStatus, Action], InvoiceStatus] = {
    (S.draft, A.open): S.open,
    (S.draft, A.void): S.void,
    (S.open, A.draft): S.draft,
    (S.open, A.mark_paid): S.paid,
    (S.open, A.void): S.void,
    (S.paid, A.reopen): S.open,
    (S.void, A.reopen): S.open,
}
ALL_PAIRS = [(status, action) for status in InvoiceStatus for action in Action]
REFUSED = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def test_the_table_covers_every_pair() -> None:
    assert len(ALL_PAIRS) == 20
    assert len(REFUSED) == 13


@pytest.mark.parametrize(("status", "action"), list(ALLOWED), ids=lambda v: str(v))
def test_allowed_transition_gives_the_next_status(status: InvoiceStatus, action: Action) -> None:
    assert next_status(status, action) is ALLOWED[(status, action)]


@pytest.mark.parametrize(("status", "action"), REFUSED, ids=lambda v: str(v))
def test_refused_transition_names_the_status(status: InvoiceStatus, action: Action) -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_status(status, action)
    message = str(refused.value)
    assert message.startswith(f"A {status.value} invoice cannot be ")


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (S.draft, "open, void"),
        (S.open, "draft, mark_paid, void"),
        (S.paid, "reopen"),
        (S.void, "reopen"),
    ],
)
def test_refusal_lists_what_is_allowed(status: InvoiceStatus, allowed: str) -> None:
    """The message tells the caller the way forward, not only that the way is shut."""
    refused_action = next(action for (s, action) in REFUSED if s is status)
    with pytest.raises(TransitionRefused, match=f"allowed: {allowed}\\.$"):
        next_status(status, refused_action)


def test_a_paid_invoice_must_be_reopened_before_anything_else() -> None:
    for action in Action:
        if action is not A.reopen:
            with pytest.raises(TransitionRefused, match="A paid invoice cannot be"):
                next_status(S.paid, action)


# ── days_overdue / is_overdue ─────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("due", "today", "expected"),
    [
        (date(2026, 10, 31), date(2026, 10, 1), 0),  # due in the future
        (date(2026, 10, 31), date(2026, 10, 31), 0),  # due today: not yet overdue
        (date(2026, 10, 31), date(2026, 11, 1), 1),
        (date(2026, 12, 31), date(2027, 1, 1), 1),  # across a year
        (date(2026, 10, 31), date(2027, 10, 31), 365),
        # Leap years: February 29 counts as a day, and can itself be the due date.
        (date(2028, 2, 28), date(2028, 3, 1), 2),
        (date(2027, 2, 28), date(2027, 3, 1), 1),
        (date(2028, 2, 29), date(2028, 3, 1), 1),
        (date(2028, 2, 29), date(2029, 2, 28), 365),
        (date(2024, 2, 29), date(2025, 3, 1), 366),
        (date(2027, 3, 1), date(2028, 3, 1), 366),
    ],
)
def test_days_overdue_of_an_open_invoice(due: date, today: date, expected: int) -> None:
    assert days_overdue(status=S.open, due_date=due, today=today) == expected
    assert is_overdue(status=S.open, due_date=due, today=today) is (expected > 0)


@pytest.mark.parametrize("status", [S.draft, S.paid, S.void])
def test_only_open_invoices_are_ever_overdue(status: InvoiceStatus) -> None:
    long_ago, today = date(2001, 1, 31), date(2026, 11, 28)
    assert days_overdue(status=status, due_date=long_ago, today=today) == 0
    assert is_overdue(status=status, due_date=long_ago, today=today) is False


# ── "today" depends on the account's time zone ───────────────────────────────────────────


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "zone", "today"),
    [
        # 2026-10-25 ends British Summer Time: at 23:30 UTC on the 31st London is on GMT.
        (_utc(2026, 10, 31, 23, 30), "Europe/London", date(2026, 10, 31)),
        (_utc(2026, 10, 31, 23, 30), "Europe/Berlin", date(2026, 11, 1)),
        (_utc(2026, 10, 31, 23, 30), "America/New_York", date(2026, 10, 31)),
        # 2026-03-29 starts BST: 23:30 UTC is already 00:30 the next day in London.
        (_utc(2026, 3, 29, 23, 30), "Europe/London", date(2026, 3, 30)),
        (_utc(2026, 3, 29, 23, 30), "UTC", date(2026, 3, 29)),
        # Half-hour offset (UTC+5:30): the date turns at 18:30 UTC.
        (_utc(2026, 10, 31, 18, 29), "Asia/Kolkata", date(2026, 10, 31)),
        (_utc(2026, 10, 31, 18, 30), "Asia/Kolkata", date(2026, 11, 1)),
        # The extremes: UTC+14 and UTC-11 are two calendar days apart at 10:00 UTC.
        (_utc(2026, 10, 31, 10, 0), "Pacific/Kiritimati", date(2026, 11, 1)),
        (_utc(2026, 10, 31, 10, 0), "Pacific/Pago_Pago", date(2026, 10, 30)),
        # A leap day that exists only east of Greenwich at this instant.
        (_utc(2028, 2, 28, 23, 30), "Asia/Tokyo", date(2028, 2, 29)),
        (_utc(2028, 2, 28, 23, 30), "America/Los_Angeles", date(2028, 2, 28)),
        # An aware instant that is not in UTC is the same instant.
        (
            datetime(2026, 11, 1, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            "Europe/London",
            date(2026, 10, 31),
        ),
    ],
)
def test_local_today(now: datetime, zone: str, today: date) -> None:
    assert local_today(now, zone) == today


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Pacific/Kiritimati", 1),
        ("Europe/Berlin", 0),
        ("UTC", 0),
        ("Pacific/Pago_Pago", 0),
    ],
)
def test_the_same_instant_is_overdue_in_one_zone_and_not_another(zone: str, expected: int) -> None:
    """Due 2026-10-31, asked at 10:00 UTC that day: only where it is already November 1."""
    today = local_today(_utc(2026, 10, 31, 10, 0), zone)
    assert days_overdue(status=S.open, due_date=date(2026, 10, 31), today=today) == expected


def test_leap_day_across_a_time_zone_boundary() -> None:
    """Due on the leap day; at 23:30 UTC on March 1 Tokyo is on March 2, two days late."""
    due = date(2028, 2, 29)
    now = _utc(2028, 3, 1, 23, 30)
    assert days_overdue(status=S.open, due_date=due, today=local_today(now, "UTC")) == 1
    assert days_overdue(status=S.open, due_date=due, today=local_today(now, "Asia/Tokyo")) == 2
