"""What the worker will send next for one account: the dashboard's "next to send".

Read-only. Two sources, merged soonest first:

* reminders recorded as ``scheduled``: planning has put their email in the outbox and the
  relay will deliver it on its next pass;
* for each open invoice, the next step planning will reach, by the same rules as the
  invoice's timeline (``reminders.service.timeline``): a step already due waits for the
  send window's next opening in the client's time zone, an older step than one already
  recorded is never sent, and paused invoices send nothing.

Only invoices whose steps can fall inside the horizon are read: with ``lead`` the most
days any policy of the account sends before a due date and ``lag`` the most it sends
after, an invoice due before ``today - lag - 8`` (a step's day moves at most 6 days to an
open weekday, and zones are a day apart at most) or after ``horizon + lead + 1`` has no
step in the horizon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from duespark.kit.time_zones import is_time_zone
from duespark.models import User
from duespark.reminders import repository as reminder_repository
from duespark.reminders.planning import invoice_facts
from duespark.reminders.policy import ReminderPolicy, Tone, resolve_policy
from duespark.reminders.schedule import (
    InvoiceFacts,
    PlannedStep,
    is_paused,
    next_opening,
    step_instant,
)

HORIZON_DAYS = 30
LIMIT = 8
# Open invoices read at most; an account with more in the window sees the earliest due.
MAX_CANDIDATES = 2000
logger = logging.getLogger("duespark.reminders")


@dataclass(frozen=True)
class NextReminder:
    invoice_id: int
    invoice_number: str
    client_name: str
    offset_days: int
    tone: Tone
    at: datetime
    queued: bool  # its email is in the outbox already


def next_step(
    facts: InvoiceFacts, policy: ReminderPolicy, *, done: frozenset[int], now: datetime
) -> PlannedStep | None:
    """The next step planning will send for an invoice, and when; None when nothing will
    be sent (not open, paused, or every step recorded)."""
    if facts.status != "open" or not is_time_zone(facts.time_zone):
        return None  # an unreadable zone: planning records that step as failed instead
    zone = ZoneInfo(facts.time_zone)
    if is_paused(facts, now.astimezone(zone).date()):
        return None
    window = policy.send_window
    pending = [
        PlannedStep(step, step_instant(facts.due_date, step, window, zone))
        for step in policy.steps
        if step.offset_days not in done
    ]
    reached = [planned for planned in pending if planned.send_at <= now]
    upcoming = [planned for planned in pending if planned.send_at > now]
    if reached and not (done and max(done) > reached[-1].step.offset_days):
        opening = next_opening(now, window, zone)
        if not any(planned.send_at <= opening for planned in upcoming):
            return PlannedStep(reached[-1].step, opening)
    return upcoming[0] if upcoming else None


def next_to_send(
    session: Session,
    user: User,
    *,
    now: datetime,
    limit: int = LIMIT,
    horizon_days: int = HORIZON_DAYS,
) -> list[NextReminder]:
    """The next ``limit`` reminders the account's invoices will send within
    ``horizon_days`` of ``now``, soonest first."""
    until = now + timedelta(days=horizon_days)
    found = [
        NextReminder(
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            client_name=client.name,
            offset_days=reminder.offset_days,
            tone=Tone(reminder.tone),
            at=reminder.scheduled_for,
            queued=True,
        )
        for reminder, invoice, client in reminder_repository.scheduled_with_invoices(
            session, user_id=user.id, limit=limit
        )
    ]
    lead, lag = _reach(session, user)
    today = now.date()
    rows = reminder_repository.open_invoices_due_between(
        session,
        user_id=user.id,
        first=today - timedelta(days=lag + 8),
        last=until.date() + timedelta(days=lead + 1),
        limit=MAX_CANDIDATES,
    )
    recorded = reminder_repository.recorded_offsets(session, [invoice.id for invoice, _ in rows])
    for invoice, client in rows:
        try:
            policy, _ = resolve_policy(user.reminder_policy, client.reminder_policy)
        except ValidationError:
            logger.error("invalid reminder policy for client %s; left out", client.id)
            continue
        facts = invoice_facts(invoice, client, user)
        planned = next_step(facts, policy, done=recorded[invoice.id], now=now)
        if planned is None or planned.send_at > until:
            continue
        found.append(
            NextReminder(
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                client_name=client.name,
                offset_days=planned.step.offset_days,
                tone=planned.step.tone,
                at=planned.send_at,
                queued=False,
            )
        )
    found.sort(key=lambda item: (item.at, item.invoice_id, item.offset_days))
    return found[:limit]


def _reach(session: Session, user: User) -> tuple[int, int]:
    """(lead, lag): the most days before and after a due date that any policy of the
    account sends a step."""
    try:
        policies = [resolve_policy(user.reminder_policy)[0]]
    except ValidationError:
        policies = []  # planning skips such an account's invoices, so does the dashboard
    for stored in reminder_repository.client_policies(session, user_id=user.id):
        try:
            policies.append(ReminderPolicy.model_validate(stored))
        except ValidationError:
            continue
    offsets = [step.offset_days for policy in policies for step in policy.steps] or [0]
    return max(0, -min(offsets)), max(0, max(offsets))
