"""Planning: which reminder step is due for an invoice, and when, as pure functions.

Everything here takes ``now`` and plain facts, and reads no clock and no database, so the
rules can be tested with tables (weekends, window edges, DST, leap days, pauses).

The rules, each answering a failure seen in other products:

* A step becomes sendable at the start of the send window, in the *client's* time zone, on
  the step's day, or on the next allowed weekday. It is sent only while ``now`` is inside the
  window, so nobody is written to at 3 a.m. their time.
* Catch-up without bursts: when several steps have become sendable (an invoice entered
  late, or a worker that was down), only the most recent is sent; the others are skipped,
  with the reason recorded.
* A step older than one already sent or skipped is never sent.
* Nothing is planned for draft, paid or void invoices, or while reminders are paused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from duespark.reminders.policy import ReminderPolicy, SendWindow, Step

CATCH_UP_REASON = "catch-up: a later step was due too; only the most recent missed step is sent"
SUPERSEDED_REASON = "a later step was already sent or skipped"


@dataclass(frozen=True)
class InvoiceFacts:
    """What planning needs to know about one invoice and the people around it."""

    status: str
    due_date: date
    time_zone: str
    paused_indefinitely: bool = False
    paused_until: date | None = None


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    send_at: datetime


@dataclass(frozen=True)
class Plan:
    send: PlannedStep | None = None
    skip: list[tuple[PlannedStep, str]] = field(default_factory=list)
    upcoming: list[PlannedStep] = field(default_factory=list)
    waiting: str | None = None


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``zone``.

    A time that does not exist (skipped by a spring-forward change) moves to the first
    existing minute after the gap; a time that happens twice (fall back) takes the first.
    """
    wall = datetime.combine(day, at)
    for minutes in range(0, 4 * 60, 15):
        candidate = (wall + timedelta(minutes=minutes)).replace(tzinfo=zone)
        instant = candidate.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == candidate.replace(tzinfo=None):
            return instant
    raise ValueError(f"no valid local time near {wall} in {zone.key}")  # pragma: no cover


def first_window_day(day: date, window: SendWindow) -> date:
    """``day`` itself when the window is open on that weekday, else the next such day."""
    for ahead in range(7):
        candidate = day + timedelta(days=ahead)
        if candidate.weekday() in window.weekday_indexes:
            return candidate
    raise ValueError("a send window has at least one day")  # pragma: no cover


def step_instant(due_date: date, step: Step, window: SendWindow, zone: ZoneInfo) -> datetime:
    """When ``step`` becomes sendable: the window's opening on its day (or the next open day)."""
    day = first_window_day(due_date + timedelta(days=step.offset_days), window)
    return local_instant(day, window.start, zone)


def in_window(instant: datetime, window: SendWindow, zone: ZoneInfo) -> bool:
    local = instant.astimezone(zone)
    return local.weekday() in window.weekday_indexes and window.start <= local.time() < window.end


def next_opening(now: datetime, window: SendWindow, zone: ZoneInfo) -> datetime:
    """``now`` when inside the window, else the instant it next opens."""
    if in_window(now, window, zone):
        return now
    local = now.astimezone(zone)
    day = local.date()
    if local.time() >= window.start:
        day += timedelta(days=1)
    return local_instant(first_window_day(day, window), window.start, zone)


def is_paused(facts: InvoiceFacts, today: date) -> bool:
    if facts.paused_indefinitely:
        return True
    return facts.paused_until is not None and today <= facts.paused_until


def plan(
    facts: InvoiceFacts, policy: ReminderPolicy, *, done_offsets: frozenset[int], now: datetime
) -> Plan:
    """Decide, for one invoice at ``now``, which step to send, which to skip, what comes next.

    ``done_offsets`` are the steps already in the ledger (sent, skipped, cancelled or failed):
    they are never planned again.
    """
    if facts.status != "open":
        return Plan(waiting=f"the invoice is {facts.status}")
    zone = ZoneInfo(facts.time_zone)
    window = policy.send_window
    pending = [
        PlannedStep(step, step_instant(facts.due_date, step, window, zone))
        for step in policy.steps
        if step.offset_days not in done_offsets
    ]
    upcoming = [planned for planned in pending if planned.send_at > now]
    today = now.astimezone(zone).date()
    if is_paused(facts, today):
        until = f" until {facts.paused_until}" if not facts.paused_indefinitely else ""
        return Plan(upcoming=upcoming, waiting=f"reminders are paused{until}")
    reached = [planned for planned in pending if planned.send_at <= now]
    if not reached:
        return Plan(upcoming=upcoming)
    latest = reached[-1]
    if done_offsets and max(done_offsets) > latest.step.offset_days:
        return Plan(skip=[(planned, SUPERSEDED_REASON) for planned in reached], upcoming=upcoming)
    if not in_window(now, window, zone):
        opening = next_opening(now, window, zone)
        return Plan(
            upcoming=upcoming, waiting=f"outside the send window until {opening:%Y-%m-%d %H:%M} UTC"
        )
    return Plan(
        send=latest,
        skip=[(planned, CATCH_UP_REASON) for planned in reached[:-1]],
        upcoming=upcoming,
    )
