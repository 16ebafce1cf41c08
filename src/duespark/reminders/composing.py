"""A reminder's email: its wording, its headers and the outbox row that carries it.

One place for it, shared by the worker's planning, sending a step by hand, the demo and
the previews, so that what a freelancer previews is what the client receives, and so that
an email that could never be sent is found out where its reminder is decided rather than
hours later in the relay.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from duespark.clock import local_today
from duespark.config import Settings
from duespark.email.errors import InvalidEmail
from duespark.email.sender import from_address
from duespark.errors import InvalidInput
from duespark.models import Client, EmailTemplate, Invoice, User
from duespark.outbox.writer import compose_message, email_values
from duespark.reminders.default_templates import default_template
from duespark.reminders.policy import Tone
from duespark.reminders.rendering import (
    RenderedEmail,
    TemplateInvalid,
    build_context,
    check_structure,
    render,
)

logger = logging.getLogger("duespark.reminders")


class ReminderUnsendable(InvalidInput):
    """The reminder's email cannot be made from the invoice, client and account as they
    are stored (an address the sender refuses, a time zone, locale or currency it cannot
    read). The worker records the step as failed with this reason; a send by hand
    answers 422 with it."""


def ledger_key(invoice_id: int, offset_days: int) -> str:
    """The (invoice, step) key; it also names the email, so a resend is the same message."""
    return f"reminder-{invoice_id}-{offset_days:+d}"


def outbox_values(
    settings: Settings,
    invoice: Invoice,
    client: Client,
    user: User,
    *,
    offset_days: int,
    tone: Tone,
    templates: dict[tuple[int, str], EmailTemplate],
    now: datetime,
) -> dict[str, object]:
    """The outbox row of the step's email (its ``reminder_id`` still None), checked by the
    rules the relay sends by; :class:`ReminderUnsendable` when there can be none."""
    key = ledger_key(invoice.id, offset_days)
    try:
        email = render_reminder(invoice, client, user, tone=tone, templates=templates, now=now)
        values = email_values(
            user_id=user.id,
            reminder_id=None,
            dedup_key=key,
            recipient=client.email,
            subject=email.subject,
            text_body=email.text,
            html_body=email.html,
            headers=email_headers(settings, user, key),
            now=now,
        )
        compose_message(
            recipient=client.email,
            subject=email.subject,
            text_body=email.text,
            html_body=email.html,
            headers=values["headers"],
            dedup_key=key,
            default_from=from_address(settings),
            now=now,
        )
    except InvalidInput as exc:
        raise ReminderUnsendable(f"the email cannot be sent: {exc.message}", field="email") from exc
    except InvalidEmail as exc:
        raise ReminderUnsendable(f"the email cannot be sent: {exc}", field="email") from exc
    except Exception as exc:
        # Whatever else a stored row can hold that the rendering cannot read (a time zone,
        # a locale, a currency): it must fail this reminder, not the pass it is in.
        raise ReminderUnsendable(
            f"the email cannot be written: {type(exc).__name__}: {exc}"
        ) from exc
    return values


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


def email_headers(settings: Settings, user: User, key: str) -> dict[str, str]:
    domain = urlsplit(settings.base_url).hostname or "duespark.invalid"
    return {
        "from_name": user.business_name or user.name,
        "from_address": from_address(settings),
        "reply_to": user.email,
        "message_id": f"<{key}@{domain}>",
    }
