"""The planning pass: turn due reminder steps into ledger rows and outbox emails.

Run by the worker, a batch at a time, each batch in its own transaction. For every open
invoice it asks ``schedule.plan`` what to do at ``now`` and records the answer:

* the step to send gets a ``scheduled`` ledger row and, in the same transaction, its email
  in the outbox (rendered now, so what the client receives is what the timeline showed);
* skipped steps get a ``skipped`` row with the reason.

Each invoice's rows are written inside a savepoint: if another worker recorded the same
step first, the unique (invoice, step) key refuses ours and this invoice is left to the
other worker. So running the pass twice, or on several workers at once, adds nothing.

Most open invoices have nothing due on a given pass: they are due weeks from now. Loading
each of them to learn that dominated a pass over a million invoices (the planning
benchmark), so a pass first computes its *horizon* (:func:`planning_horizon`), the latest
due date at which any step of any policy in use can have been reached, and the database
leaves every invoice due after it out. Which invoices lie inside the horizon is decided by
the same ``schedule.plan`` as before; the horizon only skips invoices for which it could
only answer "nothing yet".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.clock import local_today
from duespark.config import Settings
from duespark.kit.time_zones import is_time_zone
from duespark.models import (
    Client,
    EmailTemplate,
    Invoice,
    InvoiceActivity,
    OutboxMessage,
    Reminder,
    User,
)
from duespark.reminders import repository as reminder_repository
from duespark.reminders.composing import ReminderUnsendable, outbox_values
from duespark.reminders.policy import DEFAULT_POLICY, ReminderPolicy, resolve_policy
from duespark.reminders.schedule import InvoiceFacts, Plan, PlannedStep, plan

DEFAULT_BATCH_SIZE = 500
logger = logging.getLogger("duespark.reminders")


@dataclass
class PlanningResult:
    invoices: int = 0
    queued: int = 0
    skipped: int = 0
    failed: int = 0
    last_invoice_id: int = 0
    done: bool = False


def plan_batch(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    after_id: int = 0,
    limit: int = DEFAULT_BATCH_SIZE,
    due_by: date | None = None,
) -> PlanningResult:
    """Plan the next ``limit`` open invoices after ``after_id`` (only those due by
    ``due_by``, when given: see :func:`planning_horizon`); the caller commits."""
    if due_by is None:
        rows = reminder_repository.open_invoices_after(session, after_id=after_id, limit=limit)
    else:
        rows = reminder_repository.open_invoices_due_by(
            session, after_id=after_id, limit=limit, due_by=due_by
        )
    result = PlanningResult(last_invoice_id=after_id, done=len(rows) < limit)
    if not rows:
        return result
    invoice_ids = [invoice.id for invoice, _, _ in rows]
    recorded = reminder_repository.recorded_offsets(session, invoice_ids)
    templates = reminder_repository.own_templates(session, {user.id for _, _, user in rows})
    decided: list[_Decided] = []
    # Within a batch, a policy is validated once per account (or client with its own), and
    # ``plan`` runs once per distinct input: invoices due the same day, in the same zone,
    # with the same steps done, get the same answer (often most of a batch).
    policies: dict[tuple[int, int | None], ReminderPolicy | None] = {}
    plans: dict[tuple[InvoiceFacts, int, frozenset[int]], _Decision] = {}
    for invoice, client, user in rows:
        result.invoices += 1
        result.last_invoice_id = invoice.id
        policy = _policy(policies, user, client)
        if policy is None:
            # A stored policy that no longer validates must not stop every other account's
            # reminders; this invoice waits until the policy is saved again.
            logger.error(
                "invalid reminder policy for account %s; invoice %s skipped", user.id, invoice.id
            )
            continue
        facts = invoice_facts(invoice, client, user)
        key = (facts, id(policy), recorded[invoice.id])
        decision = plans.get(key)
        if decision is None:
            decision = plans[key] = _plan_or_fail(facts, policy, key[2], now)
        item = _decide(settings, invoice, client, user, decision, templates, now)
        if item.steps:
            decided.append(item)
    if not decided:
        return result
    try:
        with session.begin_nested():
            _write(session, decided, now)
    except IntegrityError:
        # Another worker planned some of these invoices at the same moment: one savepoint
        # per invoice then, so each invoice's rows land whole or are left to that worker.
        decided = [item for item in decided if _write_alone(session, item, now)]
    for item in decided:
        result.skipped += sum(state == "skipped" for _, state, _ in item.steps)
        result.queued += item.email is not None
        result.failed += sum(state == "failed" for _, state, _ in item.steps)
    return result


def _policy(
    policies: dict[tuple[int, int | None], ReminderPolicy | None], user: User, client: Client
) -> ReminderPolicy | None:
    """The policy in force for the client's invoices, None when the stored one is invalid;
    kept in ``policies`` (which also keeps it alive, so its ``id`` stays its own)."""
    key = (user.id, client.id if client.reminder_policy is not None else None)
    if key not in policies:
        try:
            policies[key] = resolve_policy(user.reminder_policy, client.reminder_policy)[0]
        except ValidationError:
            policies[key] = None
    return policies[key]


@dataclass(frozen=True)
class _Decided:
    """One invoice's rows to write: its ledger steps as (step, state, reason), and the
    outbox values of the email of its ``scheduled`` step, if it has one."""

    invoice: Invoice
    steps: list[tuple[PlannedStep, str, str]]
    email: dict[str, object] | None = None


@dataclass(frozen=True)
class _Decision:
    """``plan``'s answer for an invoice, or, when its stored facts make ``plan`` raise (a
    client's time zone that no longer exists, say), the step a UTC clock finds due as
    ``plan.send``, to be recorded as failed with ``unplannable`` as the reason: the
    freelancer then sees it, and the pass goes on."""

    plan: Plan
    unplannable: str | None = None


def _plan_or_fail(
    facts: InvoiceFacts, policy: ReminderPolicy, done: frozenset[int], now: datetime
) -> _Decision:
    try:
        return _Decision(plan(facts, policy, done_offsets=done, now=now))
    except Exception as exc:
        if not is_time_zone(facts.time_zone):
            reason = f"the client's time zone {facts.time_zone!r} is not one DueSpark knows"
        else:
            reason = f"the reminder cannot be planned: {type(exc).__name__}: {exc}"
        try:
            guess = plan(replace(facts, time_zone="UTC"), policy, done_offsets=done, now=now)
        except Exception:
            guess = Plan()
        return _Decision(Plan(send=guess.send), reason)


def _decide(
    settings: Settings,
    invoice: Invoice,
    client: Client,
    user: User,
    decision: _Decision,
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> _Decided:
    """The rows ``decision`` means for this invoice. A step whose email cannot be made
    (:class:`ReminderUnsendable`) is recorded as failed with the reason, and the invoice
    asks for nothing more of the relay."""
    steps = [(planned, "skipped", reason) for planned, reason in decision.plan.skip]
    send = decision.plan.send
    if send is None:
        return _Decided(invoice, steps)
    if decision.unplannable is not None:
        logger.error("invoice %s: %s", invoice.id, decision.unplannable)
        return _Decided(invoice, [*steps, (send, "failed", decision.unplannable)])
    try:
        email = outbox_values(
            settings,
            invoice,
            client,
            user,
            offset_days=send.step.offset_days,
            tone=send.step.tone,
            templates=templates,
            now=now,
        )
    except ReminderUnsendable as exc:
        logger.error("invoice %s: %s", invoice.id, exc.message)
        return _Decided(invoice, [*steps, (send, "failed", exc.message)])
    return _Decided(invoice, [*steps, (send, "scheduled", "")], email)


_ACTIVITY_KINDS = {
    "skipped": "reminder_skipped",
    "scheduled": "reminder_scheduled",
    "failed": "reminder_failed",
}


def _write_alone(session: Session, item: _Decided, now: datetime) -> bool:
    """One invoice's rows in a savepoint of their own; False when another worker recorded
    its steps first (it owns this invoice's sends then)."""
    try:
        with session.begin_nested():
            _write(session, [item], now)
    except IntegrityError:
        return False
    return True


def _write(session: Session, decided: list[_Decided], now: datetime) -> None:
    """Every decided invoice's ledger rows, activity and emails, in three multi-row
    inserts, rather than two savepoints and five statements per invoice (which dominated
    a large pass). Raises IntegrityError when any row is already there; the caller's
    savepoint undoes it all."""
    steps = [
        (item, planned, state, reason) for item in decided for planned, state, reason in item.steps
    ]
    rows = session.execute(
        insert(Reminder).returning(Reminder.id, Reminder.invoice_id, Reminder.offset_days),
        [
            {
                "user_id": item.invoice.user_id,
                "invoice_id": item.invoice.id,
                "offset_days": planned.step.offset_days,
                "tone": planned.step.tone.value,
                "state": state,
                "reason": reason,
                "scheduled_for": planned.send_at,
                "created_at": now,
                "updated_at": now,
            }
            for item, planned, state, reason in steps
        ],
    ).all()
    ids = {(invoice_id, offset): reminder_id for reminder_id, invoice_id, offset in rows}
    reminder_repository.insert_many(
        session,
        InvoiceActivity,
        [
            {
                "user_id": item.invoice.user_id,
                "invoice_id": item.invoice.id,
                "kind": _ACTIVITY_KINDS[state],
                "detail": _detail(planned, reason),
                "created_at": now,
            }
            for item, planned, state, reason in steps
        ],
    )
    emails = [
        {**item.email, "reminder_id": ids[(item.invoice.id, planned.step.offset_days)]}
        for item, planned, state, _ in steps
        if state == "scheduled" and item.email is not None
    ]
    reminder_repository.insert_many(session, OutboxMessage, emails)


def planning_horizon(session: Session, *, now: datetime) -> date:
    """The latest due date for which a step can have been reached at ``now``.

    A step is reached once its day (due date + offset, pushed later to an open weekday)
    has come in the client's time zone. So with ``lead`` the most days any policy in use
    sends before a due date, an invoice due after the latest date any client's zone has
    reached + ``lead`` has nothing to plan. Policies that no longer validate are ignored
    here, as planning skips their invoices anyway.
    """
    lead = _lead_days(DEFAULT_POLICY)
    for stored in _stored_policies(session):
        try:
            policy = ReminderPolicy.model_validate(stored)
        except ValidationError:
            continue
        lead = max(lead, _lead_days(policy))
    return _latest_local_date(session, now) + timedelta(days=lead)


def _latest_local_date(session: Session, now: datetime) -> date:
    """The latest calendar date at ``now`` in any client's zone (no zone is more than a
    day ahead of UTC, which stands in for a zone that cannot be read)."""
    latest = now.date()
    for zone in session.scalars(select(Client.time_zone).distinct()):
        try:
            latest = max(latest, local_today(now, zone))
        except (ValueError, KeyError):
            return now.date() + timedelta(days=1)
    return latest


def _lead_days(policy: ReminderPolicy) -> int:
    return max(0, -min(step.offset_days for step in policy.steps))


def _stored_policies(session: Session) -> list[object]:
    """Every account's and client's own policy (most have none: the default applies)."""
    found: list[object] = []
    for column in (User.reminder_policy, Client.reminder_policy):
        found += [value for value in session.scalars(select(column)) if value is not None]
    return found


def _record(
    session: Session,
    invoice: Invoice,
    planned: PlannedStep,
    *,
    state: str,
    reason: str,
    now: datetime,
) -> Reminder:
    reminder = Reminder(
        user_id=invoice.user_id,
        invoice_id=invoice.id,
        offset_days=planned.step.offset_days,
        tone=planned.step.tone.value,
        state=state,
        reason=reason,
        scheduled_for=planned.send_at,
        created_at=now,
        updated_at=now,
    )
    session.add(reminder)
    session.flush()
    kind = "reminder_skipped" if state == "skipped" else "reminder_scheduled"
    reminder_repository.add_activity(
        session,
        user_id=invoice.user_id,
        invoice_id=invoice.id,
        kind=kind,
        detail=_detail(planned, reason),
        now=now,
    )
    return reminder


def _detail(planned: PlannedStep, reason: str) -> str:
    detail = f"{planned.step.tone.value} reminder ({planned.step.offset_days:+d} days)"
    return f"{detail}: {reason}" if reason else detail


def queue_step(
    session: Session,
    settings: Settings,
    invoice: Invoice,
    client: Client,
    user: User,
    planned: PlannedStep,
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> Reminder:
    """Record ``planned`` as scheduled and put its rendered email in the outbox, due at
    once: the two rows are written together or not at all. Raises
    :class:`ReminderUnsendable` (422) when the email cannot be made."""
    values = outbox_values(
        settings,
        invoice,
        client,
        user,
        offset_days=planned.step.offset_days,
        tone=planned.step.tone,
        templates=templates,
        now=now,
    )
    reminder = _record(session, invoice, planned, state="scheduled", reason="", now=now)
    session.add(OutboxMessage(**{**values, "reminder_id": reminder.id}))
    session.flush()
    return reminder


def invoice_facts(invoice: Invoice, client: Client, user: User) -> InvoiceFacts:
    """Combine the three levels of pausing: any indefinite pause, or the latest date."""
    untils = [
        row.reminders_paused_until
        for row in (user, client, invoice)
        if row.reminders_paused_until is not None
    ]
    return InvoiceFacts(
        status=invoice.status,
        due_date=invoice.due_date,
        time_zone=client.time_zone,
        paused_indefinitely=user.reminders_paused
        or client.reminders_paused
        or invoice.reminders_paused,
        paused_until=max(untils) if untils else None,
    )
