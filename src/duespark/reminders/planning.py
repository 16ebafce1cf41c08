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

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

import psycopg
from psycopg import sql as psycopg_sql
from pydantic import ValidationError
from sqlalchemy import JSON, Row, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.clock import local_today
from duespark.config import Settings
from duespark.email.sender import from_address
from duespark.models import (
    Base,
    Client,
    EmailTemplate,
    Invoice,
    InvoiceActivity,
    OutboxMessage,
    Reminder,
    User,
)
from duespark.outbox.writer import add_email, email_values
from duespark.reminders import repository as reminder_repository
from duespark.reminders.default_templates import default_template
from duespark.reminders.policy import DEFAULT_POLICY, ReminderPolicy, Tone, resolve_policy
from duespark.reminders.rendering import (
    RenderedEmail,
    TemplateInvalid,
    build_context,
    check_structure,
    render,
)
from duespark.reminders.schedule import InvoiceFacts, Plan, PlannedStep, plan

DEFAULT_BATCH_SIZE = 500
logger = logging.getLogger("duespark.reminders")


@dataclass
class PlanningResult:
    invoices: int = 0
    queued: int = 0
    skipped: int = 0
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
        rows = _open_invoices_due_by(session, after_id=after_id, limit=limit, due_by=due_by)
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
    plans: dict[tuple[InvoiceFacts, int, frozenset[int]], Plan] = {}
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
            decision = plans[key] = plan(facts, policy, done_offsets=key[2], now=now)
        if decision.send is not None or decision.skip:
            decided.append(_Decided(invoice, client, user, decision))
    if not decided:
        return result
    try:
        with session.begin_nested():
            _write_together(session, settings, decided, templates, now)
        result.skipped += sum(len(item.decision.skip) for item in decided)
        result.queued += sum(item.decision.send is not None for item in decided)
    except IntegrityError:
        # Another worker planned some of these invoices at the same moment: one savepoint
        # per invoice then, so each invoice's rows land whole or are left to that worker.
        for item in decided:
            _write_one(session, settings, item, templates, now, result)
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
    invoice: Invoice
    client: Client
    user: User
    decision: Plan


def _write_one(
    session: Session,
    settings: Settings,
    item: _Decided,
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
    result: PlanningResult,
) -> None:
    invoice, decision = item.invoice, item.decision
    try:
        with session.begin_nested():
            for planned, reason in decision.skip:
                _record(session, invoice, planned, state="skipped", reason=reason, now=now)
            if decision.send is not None:
                queue_step(
                    session, settings, invoice, item.client, item.user, decision.send,
                    templates, now,
                )  # fmt: skip
    except IntegrityError:
        # Another worker recorded these steps first; it owns this invoice's sends.
        return
    result.skipped += len(decision.skip)
    result.queued += decision.send is not None


def _write_together(
    session: Session,
    settings: Settings,
    decided: list[_Decided],
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> None:
    """Every decided invoice's ledger rows, activity and emails, in three multi-row
    inserts: the same rows as :func:`_write_one` writes invoice by invoice, without two
    savepoints and five statements per invoice (which dominated a large pass). Raises
    IntegrityError when any row is already there; the caller's savepoint undoes it all."""
    steps = [
        (item, planned, state, reason)
        for item in decided
        for planned, state, reason in [
            *((planned, "skipped", reason) for planned, reason in item.decision.skip),
            *([(item.decision.send, "scheduled", "")] if item.decision.send else []),
        ]
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
    _insert_many(
        session,
        InvoiceActivity,
        [
            {
                "user_id": item.invoice.user_id,
                "invoice_id": item.invoice.id,
                "kind": "reminder_skipped" if state == "skipped" else "reminder_scheduled",
                "detail": _detail(planned, reason),
                "created_at": now,
            }
            for item, planned, state, reason in steps
        ],
    )
    emails = [
        _email_row(session, settings, item, ids, templates, now)
        for item in decided
        if item.decision.send is not None
    ]
    _insert_many(session, OutboxMessage, emails)


def _insert_many(session: Session, model: type[Base], rows: list[dict[str, object]]) -> None:
    """Rows of one table, in the session's transaction. On PostgreSQL through ``COPY``:
    a multi-row ``INSERT`` spent most of a large pass having its parameters parsed, by
    psycopg and then by the server. Elsewhere (SQLite) a multi-row ``INSERT``. A unique
    key that refuses a row raises IntegrityError either way."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table = model.__table__
    names = list(rows[0])
    copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg_sql.Identifier(table.name),
        psycopg_sql.SQL(", ").join(psycopg_sql.Identifier(name) for name in names),
    )
    json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in json_columns else row[n] for n in names])
    except psycopg.IntegrityError as exc:
        raise IntegrityError(str(copy_sql), None, exc) from exc
    finally:
        cursor.close()


def _email_row(
    session: Session,
    settings: Settings,
    item: _Decided,
    ids: dict[tuple[int, int], int],
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> dict[str, object]:
    send = item.decision.send
    assert send is not None
    invoice, user = item.invoice, item.user
    email = render_reminder(
        invoice, item.client, user, tone=send.step.tone, templates=templates, now=now
    )
    key = ledger_key(invoice.id, send.step.offset_days)
    return email_values(
        user_id=user.id,
        reminder_id=ids[(invoice.id, send.step.offset_days)],
        dedup_key=key,
        recipient=item.client.email,
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        headers=email_headers(settings, user, key),
        now=now,
    )


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


def _open_invoices_due_by(
    session: Session, *, after_id: int, limit: int, due_by: date
) -> Sequence[Row[tuple[Invoice, Client, User]]]:
    """Like ``open_invoices_after``, without the invoices due after ``due_by``: the database
    skips them, in the same id order, so a pass still reads each invoice at most once."""
    query = (
        select(Invoice, Client, User)
        .join(Client, Client.id == Invoice.client_id)
        .join(User, User.id == Invoice.user_id)
        .where(Invoice.status == "open", Invoice.id > after_id, Invoice.due_date <= due_by)
        .order_by(Invoice.id)
        .limit(limit)
    )
    return session.execute(query).all()


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
    once: the two rows are written together or not at all."""
    reminder = _record(session, invoice, planned, state="scheduled", reason="", now=now)
    email = render_reminder(
        invoice, client, user, tone=planned.step.tone, templates=templates, now=now
    )
    key = ledger_key(invoice.id, planned.step.offset_days)
    add_email(
        session,
        user_id=user.id,
        reminder_id=reminder.id,
        dedup_key=key,
        recipient=client.email,
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        headers=email_headers(settings, user, key),
        now=now,
    )
    return reminder


def render_reminder(
    invoice: Invoice,
    client: Client,
    user: User,
    *,
    tone: Tone,
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> RenderedEmail:
    """The email as the client will receive it, from the account's template for the tone."""
    own = templates.get((user.id, tone.value))
    subject, body = (own.subject, own.body) if own else default_template(tone)
    context = build_context(
        client_name=client.name,
        contact_name=client.contact_name,
        locale=client.locale,
        invoice_number=invoice.number,
        amount_minor=invoice.amount_minor,
        currency=invoice.currency,
        due_date=invoice.due_date,
        today=local_today(now, client.time_zone),
        pay_link=invoice.payment_url or "",
        business_name=user.business_name or user.name,
        sender_name=user.name,
        tone=tone.value,
    )
    try:
        if not _passes_checks(subject, body):
            raise TemplateInvalid(check_structure(subject, body))
        return render(subject, body, context, checked=True)
    except TemplateInvalid:
        # A saved template that no longer passes the rules (they may have tightened since
        # it was saved) must not stop the reminder: the default wording goes instead.
        logger.warning("template for %s of account %s refused; using the default", tone, user.id)
        return render(*default_template(tone), context, checked=True)


@lru_cache(maxsize=1024)
def _passes_checks(subject: str, body: str) -> bool:
    """The rules a stored template must pass, checked once per distinct text and process
    rather than once per email: parsing the template dominated rendering a reminder, and
    the rules only change with the code."""
    return not check_structure(subject, body)


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


def ledger_key(invoice_id: int, offset_days: int) -> str:
    """The (invoice, step) key; it also names the email, so a resend is the same message."""
    return f"reminder-{invoice_id}-{offset_days:+d}"


def email_headers(settings: Settings, user: User, key: str) -> dict[str, str]:
    domain = urlsplit(settings.base_url).hostname or "duespark.invalid"
    return {
        "from_name": user.business_name or user.name,
        "from_address": from_address(settings),
        "reply_to": user.email,
        "message_id": f"<{key}@{domain}>",
    }
