"""JSON endpoints under /templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from duespark.auth.dependencies import CurrentUser
from duespark.dependencies import NowDep, SessionDep
from duespark.reminders.policy import Tone
from duespark.templates import service as template_service
from duespark.templates.schemas import (
    RenderedEmailRead,
    TemplateDraft,
    TemplateList,
    TemplateRead,
    TemplateWrite,
)

router = APIRouter(prefix="/templates", tags=["templates"])

REFUSED = {422: {"description": "The template has a problem; the message names its line"}}


@router.get("", response_model=TemplateList)
def list_templates(user: CurrentUser, session: SessionDep) -> TemplateList:
    """The wording of all four tones, the account's own or DueSpark's default."""
    return TemplateList(items=template_service.list_templates(session, user))


# Declared before /{tone}: "variables" is not a tone.
@router.get("/variables", response_model=dict[str, str])
def list_variables(_user: CurrentUser) -> dict[str, str]:
    """The variables a template may use, name to description."""
    return template_service.describe_variables()


@router.get("/{tone}", response_model=TemplateRead)
def read_template(tone: Tone, user: CurrentUser, session: SessionDep) -> TemplateRead:
    return template_service.get_template(session, user, tone)


@router.put("/{tone}", response_model=TemplateRead, responses=REFUSED)
def save_template(
    tone: Tone, data: TemplateWrite, user: CurrentUser, session: SessionDep, now: NowDep
) -> TemplateRead:
    """Set the account's wording for a tone. Templates use ``{{ variable }}`` and
    ``{% if %}`` blocks only; they are checked whole before anything is saved."""
    return template_service.save_template(session, user, tone, data=data, now=now)


@router.delete("/{tone}", status_code=status.HTTP_204_NO_CONTENT)
def reset_template(tone: Tone, user: CurrentUser, session: SessionDep) -> Response:
    """Go back to DueSpark's default wording for a tone."""
    template_service.reset_template(session, user, tone)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{tone}/preview", response_model=RenderedEmailRead, responses=REFUSED)
def preview_template(
    tone: Tone,
    user: CurrentUser,
    session: SessionDep,
    draft: Annotated[TemplateDraft | None, Body()] = None,
) -> RenderedEmailRead:
    """Render a draft (or the saved template) against a sample reminder, without saving:
    the subject, the text part and the HTML part, as a client would receive them."""
    email = template_service.preview_template(session, user, tone, draft=draft)
    return RenderedEmailRead(subject=email.subject, text=email.text, html=email.html)
