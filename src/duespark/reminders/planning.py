"""The planning pass: turn due reminder steps into ledger rows and outbox emails.

Run by the worker, a batch at a time, each batch in its own transaction. For every open
invoice it asks ``schedule.plan`` what to do at ``now`` and records the answer:

* the step to send gets a ``scheduled`` ledger row and, in the same transaction, its email
  in the outbox (rendered now, so what the client receives is what the timeline showed);
* skipped steps get a ``skipped`` row with the reason.

Each invoice's rows are written inside a savepoint: if another worker recorded the same
step first, the unique (invoice, step) key refuses ours and this invoice is left to the
other worker. So running the pass twice, or on several workers at once, adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.clock import local_today
from duespark.config import Settings
from duespark.email.sender import from_address
from duespark.models import Client, EmailTemplate, Invoice, Reminder, User
from duespark.outbox.writer import add_email
from duespark.reminders import repository as reminder_repository
from duespark.reminders.default_templates import default_template
from duespark.reminders.policy import Tone, resolve_policy
from duespark.reminders.rendering import RenderedEmail, TemplateInvalid, build_context, render
from duespark.reminders.schedule import InvoiceFacts, PlannedStep, plan

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
) -> PlanningResult:
    """Plan the next ``limit`` open invoices after ``after_id``; the caller commits."""
    rows = reminder_repository.open_invoices_after(session, after_id=after_id, limit=limit)
    result = PlanningResult(last_invoice_id=after_id, done=len(rows) < limit)
    if not rows:
        return result
    invoice_ids = [invoice.id for invoice, _, _ in rows]
    recorded = reminder_repository.recorded_offsets(session, invoice_ids)
    templates = reminder_repository.own_templates(session, {user.id for _, _, user in rows})
    for invoice, client, user in rows:
        result.invoices += 1
        result.last_invoice_id = invoice.id
        try:
            policy, _ = resolve_policy(user.reminder_policy, client.reminder_policy)
        except ValidationError:
            # A stored policy that no longer validates must not stop every other account's
            # reminders; this invoice waits until the policy is saved again.
            logger.error(
                "invalid reminder policy for account %s; invoice %s skipped", user.id, invoice.id
            )
            continue
        decision = plan(
            invoice_facts(invoice, client, user),
            policy,
            done_offsets=recorded[invoice.id],
            now=now,
        )
        if decision.send is None and not decision.skip:
            continue
        try:
            with session.begin_nested():
                for planned, reason in decision.skip:
                    _record(session, invoice, planned, state="skipped", reason=reason, now=now)
                    result.skipped += 1
                if decision.send is not None:
                    queue_step(
                        session, settings, invoice, client, user, decision.send, templates, now
                    )
                    result.queued += 1
        except IntegrityError:
            # Another worker recorded these steps first; it owns this invoice's sends.
            continue
    return result


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
    detail = f"{planned.step.tone.value} reminder ({planned.step.offset_days:+d} days)"
    if reason:
        detail += f": {reason}"
    reminder_repository.add_activity(
        session, user_id=invoice.user_id, invoice_id=invoice.id, kind=kind, detail=detail, now=now
    )
    return reminder


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
        return render(subject, body, context)
    except TemplateInvalid:
        # A saved template that no longer passes the rules (they may have tightened since
        # it was saved) must not stop the reminder: the default wording goes instead.
        logger.warning("template for %s of account %s refused; using the default", tone, user.id)
        return render(*default_template(tone), context, checked=True)


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
