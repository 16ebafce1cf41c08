"""Template use cases. Services flush, never commit; every lookup is scoped to the account.

An account without its own template for a tone uses DueSpark's default wording; deleting
its own brings the default back. A template is checked in full (syntax, variables, the
sandbox's rules, a trial render) before it is stored, so a stored template always rendered
once; the planner still re-checks it when it sends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from duespark.models import EmailTemplate, User
from duespark.reminders.default_templates import default_template
from duespark.reminders.policy import Tone
from duespark.reminders.rendering import (
    VARIABLES,
    RenderedEmail,
    TemplateInvalid,
    render,
    sample_context,
    validate_template,
)
from duespark.templates import repository as template_repository
from duespark.templates.schemas import TemplateDraft, TemplateRead, TemplateWrite


def template_for(session: Session, user: User, tone: Tone) -> tuple[str, str]:
    """``(subject, body)`` for ``tone``: the account's own, or the default."""
    own = template_repository.get(session, user_id=user.id, tone=Tone(tone).value)
    return (own.subject, own.body) if own else default_template(tone)


def _read(tone: Tone, own: EmailTemplate | None) -> TemplateRead:
    subject, body = (own.subject, own.body) if own else default_template(tone)
    return TemplateRead(tone=tone, subject=subject, body=body, is_default=own is None)


def list_templates(session: Session, user: User) -> list[TemplateRead]:
    """All four tones, in escalation order."""
    own = {row.tone: row for row in template_repository.list_for_user(session, user_id=user.id)}
    return [_read(tone, own.get(tone.value)) for tone in Tone]


def get_template(session: Session, user: User, tone: Tone) -> TemplateRead:
    return _read(tone, template_repository.get(session, user_id=user.id, tone=tone.value))


def save_template(
    session: Session, user: User, tone: Tone, *, data: TemplateWrite, now: datetime
) -> TemplateRead:
    """Store the account's wording for ``tone``; a template with any problem is refused
    whole (422 naming the field and line) and nothing is written."""
    problems = validate_template(data.subject, data.body)
    if problems:
        raise TemplateInvalid(problems)
    own = template_repository.get(session, user_id=user.id, tone=tone.value)
    if own is None:
        own = EmailTemplate(
            user_id=user.id,
            tone=tone.value,
            subject=data.subject,
            body=data.body,
            created_at=now,
            updated_at=now,
        )
        template_repository.add(session, own)
    else:
        own.subject, own.body, own.updated_at = data.subject, data.body, now
        session.flush()
    return _read(tone, own)


def reset_template(session: Session, user: User, tone: Tone) -> None:
    """Back to the default wording; resetting a tone that has no own template is fine."""
    template_repository.delete_for_tone(session, user_id=user.id, tone=tone.value)


def preview_template(
    session: Session, user: User, tone: Tone, *, draft: TemplateDraft | None
) -> RenderedEmail:
    """Render a draft (or the current template, for fields the draft leaves out) against a
    sample reminder, exactly as a client would receive it, without saving anything."""
    subject, body = template_for(session, user, tone)
    if draft is not None:
        subject = draft.subject if draft.subject is not None else subject
        body = draft.body if draft.body is not None else body
    problems = validate_template(subject, body)
    if problems:
        raise TemplateInvalid(problems)
    context = sample_context(tone, business_name=user.business_name, sender_name=user.name)
    return render(subject, body, context, checked=True)


def describe_variables() -> dict[str, str]:
    """What a template may use, name to description."""
    return dict(VARIABLES)
