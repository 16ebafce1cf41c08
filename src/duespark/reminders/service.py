"""Reminder use cases for people: policies, pauses, the timeline, cancelling, sending now.

Planning (what the worker does) is in ``planning.py``. Services flush, never commit, and
every lookup goes through the account (another account's ids are not found).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.clients import service as client_service
from duespark.clock import local_today
from duespark.config import Settings
from duespark.errors import Conflict, InvalidInput, NotFound
from duespark.invoices import service as invoice_service
from duespark.kit.pagination import PageParams
from duespark.kit.time_zones import is_time_zone
from duespark.models import Client, Invoice, InvoiceActivity, Reminder, User
from duespark.reminders import repository as reminder_repository
from duespark.reminders.composing import render_reminder
from duespark.reminders.planning import invoice_facts, queue_step
from duespark.reminders.policy import PolicySource, ReminderPolicy, Tone, resolve_policy
from duespark.reminders.repository import ReminderFilters
from duespark.reminders.schedule import (
    InvoiceFacts,
    PlannedStep,
    is_paused,
    next_opening,
    plan,
    step_instant,
)
from duespark.reminders.schemas import EmailPreview, Timeline, TimelineEntry

PAUSED_REASON = "reminders were paused"


def account_policy(user: User) -> tuple[ReminderPolicy, PolicySource]:
    return resolve_policy(user.reminder_policy)


def set_account_policy(
    session: Session, user: User, *, policy: ReminderPolicy, now: datetime
) -> ReminderPolicy:
    user.reminder_policy = policy.model_dump(mode="json")
    user.updated_at = now
    session.flush()
    return policy


def client_policy(
    session: Session, user: User, client_id: int
) -> tuple[ReminderPolicy, PolicySource]:
    client = client_service.get_client(session, user, client_id)
    return resolve_policy(user.reminder_policy, client.reminder_policy)


def set_client_policy(
    session: Session, user: User, client_id: int, *, policy: ReminderPolicy | None, now: datetime
) -> tuple[ReminderPolicy, PolicySource]:
    """Override the account's policy for one client, or (``None``) fall back to it."""
    client = client_service.get_client(session, user, client_id)
    client.reminder_policy = policy.model_dump(mode="json") if policy is not None else None
    client.updated_at = now
    session.flush()
    return resolve_policy(user.reminder_policy, client.reminder_policy)


def pause_account(session: Session, user: User, *, until: date | None, now: datetime) -> User:
    _check_until(user, until, now)
    _pause(user, until, now)
    reminder_repository.cancel_scheduled_for_user(
        session, user_id=user.id, reason=PAUSED_REASON, now=now
    )
    session.flush()
    return user


def pause_client(
    session: Session, user: User, client_id: int, *, until: date | None, now: datetime
) -> Client:
    client = client_service.get_client(session, user, client_id)
    _check_until(user, until, now)
    _pause(client, until, now)
    reminder_repository.cancel_scheduled_for_client(
        session, client_id=client.id, reason=PAUSED_REASON, now=now
    )
    session.flush()
    return client


def pause_invoice(
    session: Session, user: User, invoice_id: int, *, until: date | None, now: datetime
) -> Invoice:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    _check_until(user, until, now)
    _pause(invoice, until, now)
    reminder_repository.cancel_scheduled(
        session, invoice_id=invoice.id, reason=PAUSED_REASON, now=now
    )
    detail = f"until {until}" if until else "until resumed"
    reminder_repository.add_activity(
        session, user_id=user.id, invoice_id=invoice.id, kind="paused", detail=detail, now=now
    )
    session.flush()
    return invoice


def resume_account(session: Session, user: User, *, now: datetime) -> User:
    _resume(user, now)
    session.flush()
    return user


def resume_client(session: Session, user: User, client_id: int, *, now: datetime) -> Client:
    client = client_service.get_client(session, user, client_id)
    _resume(client, now)
    session.flush()
    return client


def resume_invoice(session: Session, user: User, invoice_id: int, *, now: datetime) -> Invoice:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    _resume(invoice, now)
    reminder_repository.add_activity(
        session, user_id=user.id, invoice_id=invoice.id, kind="resumed", detail="", now=now
    )
    session.flush()
    return invoice


def _check_until(user: User, until: date | None, now: datetime) -> None:
    """A pause that ended before today would pause nothing, yet cancel the scheduled
    reminders: refuse it rather than silently withdraw emails."""
    if until is not None and until < local_today(now, user.time_zone):
        raise InvalidInput("until cannot be in the past.", field="until")


def _pause(row: User | Client | Invoice, until: date | None, now: datetime) -> None:
    row.reminders_paused = until is None
    row.reminders_paused_until = until
    row.updated_at = now


def _resume(row: User | Client | Invoice, now: datetime) -> None:
    row.reminders_paused = False
    row.reminders_paused_until = None
    row.updated_at = now


def timeline(session: Session, user: User, invoice_id: int, *, now: datetime) -> Timeline:
    """The invoice's reminders: what the ledger recorded, then what planning expects next."""
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    client = client_service.get_client(session, user, invoice.client_id)
    policy, source = resolve_policy(user.reminder_policy, client.reminder_policy)
    recorded = reminder_repository.for_invoice(session, invoice.id)
    entries = [
        TimelineEntry(
            reminder_id=row.id,
            offset_days=row.offset_days,
            tone=row.tone,
            state=row.state,
            at=row.sent_at or row.scheduled_for,
            reason=row.reason,
        )
        for row in recorded
    ]
    facts = invoice_facts(invoice, client, user)
    if not is_time_zone(facts.time_zone):
        # Stored before time zones were checked, or dropped from the zone database since:
        # what was recorded is shown, and nothing is promised until the client is fixed.
        waiting = f"the client's time zone {facts.time_zone!r} is not one DueSpark knows"
        return Timeline(
            invoice_id=invoice.id, policy_source=source, waiting=waiting, entries=entries
        )
    done = frozenset(row.offset_days for row in recorded)
    result = plan(facts, policy, done_offsets=done, now=now)
    due = _due_next(facts, policy, done=done, upcoming=result.upcoming, now=now)
    for planned in [*([due] if due else []), *result.upcoming]:
        entries.append(
            TimelineEntry(
                reminder_id=None,
                offset_days=planned.step.offset_days,
                tone=planned.step.tone,
                state="upcoming",
                at=planned.send_at,
                reason="",
            )
        )
    entries.sort(key=lambda entry: (entry.offset_days, entry.at))
    return Timeline(
        invoice_id=invoice.id, policy_source=source, waiting=result.waiting, entries=entries
    )


def _due_next(
    facts: InvoiceFacts,
    policy: ReminderPolicy,
    *,
    done: frozenset[int],
    upcoming: list[PlannedStep],
    now: datetime,
) -> PlannedStep | None:
    """The step already due that the next planning pass will send, at the send window's
    next opening (``now`` when it is open). ``plan`` answers only "send it now" or "wait",
    so without this a step waiting for the window (an invoice entered overdue on a Saturday,
    say) would be missing from the timeline until it went out. Nothing while paused or for
    a closed invoice (``waiting`` says why), nor when a later step will be due by then."""
    if facts.status != "open":
        return None
    zone = ZoneInfo(facts.time_zone)
    window = policy.send_window
    if is_paused(facts, now.astimezone(zone).date()):
        return None
    reached = [
        PlannedStep(step, at)
        for step in policy.steps
        if step.offset_days not in done
        and (at := step_instant(facts.due_date, step, window, zone)) <= now
    ]
    if not reached or (done and max(done) > reached[-1].step.offset_days):
        return None
    opening = next_opening(now, window, zone)
    if any(planned.send_at <= opening for planned in upcoming):
        return None
    return PlannedStep(reached[-1].step, opening)


def list_reminders(
    session: Session, user: User, *, filters: ReminderFilters, page: PageParams
) -> tuple[list[Reminder], int]:
    return reminder_repository.list_page(session, user_id=user.id, filters=filters, page=page)


def get_reminder(session: Session, user: User, reminder_id: int) -> Reminder:
    reminder = reminder_repository.get(session, user_id=user.id, reminder_id=reminder_id)
    if reminder is None:
        raise NotFound("Reminder not found.")
    return reminder


def cancel_reminder(session: Session, user: User, reminder_id: int, *, now: datetime) -> Reminder:
    reminder = get_reminder(session, user, reminder_id)
    if reminder.state != "scheduled":
        raise Conflict(f"A {reminder.state} reminder cannot be cancelled.", field="state")
    reminder_repository.cancel_one(session, reminder, reason="cancelled by hand", now=now)
    reminder_repository.add_activity(
        session,
        user_id=user.id,
        invoice_id=reminder.invoice_id,
        kind="reminder_cancelled",
        detail=f"{reminder.tone} reminder ({reminder.offset_days:+d} days) cancelled by hand",
        now=now,
    )
    return reminder


def send_now(session: Session, user: User, reminder_id: int, *, now: datetime) -> Reminder:
    """Deliver a scheduled reminder at the next relay pass instead of waiting, or try a
    failed one again. A sent reminder is never sent twice."""
    reminder = get_reminder(session, user, reminder_id)
    if reminder.state not in {"scheduled", "failed"}:
        raise Conflict(f"A {reminder.state} reminder cannot be sent.", field="state")
    invoice = invoice_service.get_invoice(session, user, reminder.invoice_id)
    if invoice.status != "open":
        raise Conflict(f"The invoice is {invoice.status}; reminders are only sent for open ones.")
    message = reminder_repository.outbox_for(session, reminder.id)
    if message is None or message.status not in {"pending", "dead"}:
        # "sending" means a relay holds it right now; requeueing it could send it twice.
        raise Conflict("This reminder has no email waiting to be sent.")
    if message.status == "dead":
        message.attempts = 0
    message.status = "pending"
    message.next_attempt_at = now
    message.updated_at = now
    # A failed reminder is live again: its failure is history (kept in the activity), not
    # the reason shown for a reminder that is about to go out.
    reminder.state = "scheduled"
    reminder.reason = ""
    reminder.updated_at = now
    reminder_repository.add_activity(
        session,
        user_id=user.id,
        invoice_id=reminder.invoice_id,
        kind="reminder_send_now",
        detail=f"{reminder.tone} reminder ({reminder.offset_days:+d} days) sent now by hand",
        now=now,
    )
    session.flush()
    return reminder


def activity(session: Session, user: User, invoice_id: int) -> list[InvoiceActivity]:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    return reminder_repository.activity_for(session, invoice.id)


def preview(
    session: Session,
    user: User,
    invoice_id: int,
    *,
    offset_days: int | None,
    tone: Tone | None,
    now: datetime,
) -> EmailPreview:
    """The email exactly as the client would receive it today, for a step of the invoice's
    policy (its tone) or a tone; by default the next step still ahead, else the last."""
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    client = client_service.get_client(session, user, invoice.client_id)
    policy, _ = resolve_policy(user.reminder_policy, client.reminder_policy)
    steps = {step.offset_days: step for step in policy.steps}
    if offset_days is not None and offset_days not in steps:
        raise InvalidInput(
            f"The invoice's policy has no step at {offset_days:+d} days; "
            f"its steps are {sorted(steps)}.",
            field="offset_days",
        )
    if tone is None:
        if offset_days is not None:
            tone = steps[offset_days].tone
        else:
            tone = _next_tone(session, invoice, client, user, policy, now)
    templates = reminder_repository.own_templates(session, [user.id])
    email = render_reminder(invoice, client, user, tone=tone, templates=templates, now=now)
    return EmailPreview(to=client.email, subject=email.subject, text=email.text, html=email.html)


def _next_tone(
    session: Session,
    invoice: Invoice,
    client: Client,
    user: User,
    policy: ReminderPolicy,
    now: datetime,
) -> Tone:
    recorded = reminder_repository.for_invoice(session, invoice.id)
    decision = plan(
        invoice_facts(invoice, client, user),
        policy,
        done_offsets=frozenset(row.offset_days for row in recorded),
        now=now,
    )
    if decision.send is not None:
        return decision.send.step.tone
    if decision.upcoming:
        return decision.upcoming[0].step.tone
    return policy.steps[-1].tone if policy.steps else Tone.friendly


def send_step_now(
    session: Session,
    user: User,
    invoice_id: int,
    *,
    offset_days: int,
    settings: Settings,
    now: datetime,
) -> Reminder:
    """Send a step of the invoice's policy by hand, before its time: it is recorded in the
    ledger like any other, so it is never sent again (nor twice by a racing worker)."""
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    client = client_service.get_client(session, user, invoice.client_id)
    if invoice.status != "open":
        raise Conflict(f"The invoice is {invoice.status}; reminders are only sent for open ones.")
    facts = invoice_facts(invoice, client, user)
    if is_paused(facts, local_today(now, client.time_zone)):
        raise Conflict("Reminders are paused for this invoice; resume them first.")
    policy, _ = resolve_policy(user.reminder_policy, client.reminder_policy)
    steps = {step.offset_days: step for step in policy.steps}
    if offset_days not in steps:
        raise InvalidInput(
            f"The invoice's policy has no step at {offset_days:+d} days; "
            f"its steps are {sorted(steps)}.",
            field="offset_days",
        )
    recorded = {
        row.offset_days: row for row in reminder_repository.for_invoice(session, invoice.id)
    }
    if offset_days in recorded:
        raise Conflict(
            f"The {offset_days:+d} day step is already {recorded[offset_days].state}; "
            "a step is never sent twice."
        )
    templates = reminder_repository.own_templates(session, [user.id])
    planned = PlannedStep(steps[offset_days], now)
    try:
        with session.begin_nested():
            reminder = queue_step(session, settings, invoice, client, user, planned, templates, now)
    except IntegrityError:
        raise Conflict("A worker recorded this step a moment ago; it is not sent twice.") from None
    reminder_repository.add_activity(
        session,
        user_id=user.id,
        invoice_id=invoice.id,
        kind="reminder_send_now",
        detail=f"{reminder.tone} reminder ({offset_days:+d} days) sent by hand",
        now=now,
    )
    session.flush()
    return reminder
