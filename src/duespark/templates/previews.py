"""Previewing a tone's wording on one of the account's own invoices, saved or not.

Read-only. The email is rendered by ``reminders.composing.render_reminder``, the function
the worker renders every reminder with, so the preview is what the invoice's client would
receive if the wording were saved and the step sent today: the client's name, language
and time zone, the invoice's amount, dates and pay link. A draft is checked first, in full,
as saving would check it (``rendering.validate_template``); one with a problem is refused
with the field and line, and never silently replaced by the default wording.

Without any invoice in the account, the sample reminder of ``templates.service`` is used.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from duespark.clients import service as client_service
from duespark.invoices import service as invoice_service
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import InvoiceSort
from duespark.kit.money import format_amount
from duespark.kit.pagination import MAX_LIMIT, PageParams
from duespark.models import EmailTemplate, Invoice, User
from duespark.reminders.composing import render_reminder
from duespark.reminders.policy import Tone
from duespark.reminders.rendering import TemplateInvalid, validate_template
from duespark.reminders.schemas import EmailPreview
from duespark.templates import service as template_service
from duespark.templates.schemas import TemplateDraft

SAMPLE_RECIPIENT = "jane.doe@acme.example"


def preview_invoices(session: Session, user: User, *, now: datetime) -> list[Invoice]:
    """Invoices worth previewing on: open ones (the overdue first, by due date), then the
    most recent others, at most ``MAX_LIMIT`` in all."""
    page = PageParams(limit=MAX_LIMIT, offset=0)
    open_ones, _ = invoice_service.list_invoices(
        session, user, filters=InvoiceFilters(status="open"), sort=InvoiceSort.due_date,
        page=page, now=now,
    )  # fmt: skip
    if len(open_ones) >= MAX_LIMIT:
        return open_ones
    others, _ = invoice_service.list_invoices(
        session, user, filters=InvoiceFilters(), sort=InvoiceSort.due_date_desc,
        page=page, now=now,
    )  # fmt: skip
    seen = {invoice.id for invoice in open_ones}
    return [*open_ones, *(i for i in others if i.id not in seen)][:MAX_LIMIT]


def invoice_label(invoice: Invoice, client_name: str) -> str:
    amount = format_amount(invoice.amount_minor, invoice.currency)
    return (
        f"{invoice.number}, {client_name}: {amount} {invoice.currency}, "
        f"due {invoice.due_date.isoformat()} ({invoice.status})"
    )


def preview(
    session: Session,
    user: User,
    tone: Tone,
    *,
    invoice_id: int | None,
    draft: TemplateDraft | None,
    now: datetime,
) -> EmailPreview:
    """The email for ``tone`` on the invoice (or the sample), with the draft's wording
    where it gives some and the account's current wording elsewhere."""
    subject, body = template_service.template_for(session, user, tone)
    if draft is not None:
        subject = draft.subject if draft.subject is not None else subject
        body = draft.body if draft.body is not None else body
    problems = validate_template(subject, body)
    if problems:
        raise TemplateInvalid(problems)
    if invoice_id is None:
        email = template_service.preview_template(
            session, user, tone, draft=TemplateDraft(subject=subject, body=body)
        )
        return EmailPreview(
            to=SAMPLE_RECIPIENT, subject=email.subject, text=email.text, html=email.html
        )
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    client = client_service.get_client(session, user, invoice.client_id)
    # A wording as the worker would hold it once saved; never added to the session.
    wording = EmailTemplate(user_id=user.id, tone=tone.value, subject=subject, body=body)
    email = render_reminder(
        invoice, client, user, tone=tone, templates={(user.id, tone.value): wording}, now=now
    )
    return EmailPreview(to=client.email, subject=email.subject, text=email.text, html=email.html)
