"""Email wording pages (``/app/settings/templates``): the four tones, and for each an
editor with a live preview on one of the account's own invoices.

Saving calls ``templates.service.save_template`` with the API's ``TemplateWrite``: the
same checks as ``PUT /templates/{tone}``, a problem shown next to the subject or the body
with its line, nothing saved. "Back to the default" calls ``reset_template``.

The preview is a separate document in a sandboxed frame (``web/email_frame.py``): the
saved wording on a GET, a draft posted from the editor's "Preview" button on a POST (the
button targets the frame, so it works without JavaScript; ``duespark.js`` re-posts it as
the user types). Either way the email is rendered as the worker renders it
(``templates/previews.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.errors import InvalidInput
from duespark.kit.pagination import MAX_ID
from duespark.models import User
from duespark.reminders.policy import Tone
from duespark.reminders.views import TONE_NAMES
from duespark.templates import previews
from duespark.templates import service as template_service
from duespark.templates.schemas import MAX_BODY_LENGTH, TemplateDraft, TemplateWrite
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.email_frame import FRAME_NAME, frame_response
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, as_id, attempt, validate
from duespark.web.pages import page_router
from duespark.web.tables import client_choices
from duespark.web.templating import render

router = page_router()

TEMPLATES_PATH = "/app/settings/templates"
FIELDS = ("subject", "body", "invoice_id")
InvoiceChoice = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.get(TEMPLATES_PATH)
def list_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    return render(
        request,
        "settings/templates.html",
        {
            "active": "settings",
            "section": "templates",
            "title": "Email wording",
            "templates": template_service.list_templates(session, user),
            "tone_names": {tone.value: name for tone, name in TONE_NAMES.items()},
        },
    )


@router.get(TEMPLATES_PATH + "/{tone}")
def edit_page(
    request: Request,
    tone: Tone,
    user: PageUser,
    session: SessionDep,
    now: NowDep,
    invoice_id: InvoiceChoice = None,
) -> HTMLResponse:
    current = template_service.get_template(session, user, tone)
    form = FormState(values={"subject": current.subject, "body": current.body, "invoice_id": ""})
    return _editor(request, session, user, tone, form, now=now, chosen=invoice_id)


@router.post(TEMPLATES_PATH + "/{tone}")
def save(
    request: Request,
    tone: Tone,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, FIELDS)
    payload = form.payload(required=("subject", "body"))
    payload.pop("invoice_id", None)
    data = validate(TemplateWrite, payload, form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: template_service.save_template(session, user, tone, data=data, now=now),
        )
    chosen = as_id(form.values["invoice_id"])
    if form.failed:
        return _editor(
            request, session, user, tone, form, now=now,
            chosen=chosen if isinstance(chosen, int) else None, status_code=form.status_code,
        )  # fmt: skip
    target = f"{TEMPLATES_PATH}/{tone.value}"
    if isinstance(chosen, int):
        target += f"?invoice_id={chosen}"
    response = RedirectResponse(target, status_code=303)
    set_flash(response, settings, f"{TONE_NAMES[tone]} wording saved.")
    return response


@router.post(TEMPLATES_PATH + "/{tone}/reset")
def reset(
    tone: Tone, user: PageUser, _form: SignedInForm, session: SessionDep, settings: SettingsDep
) -> Response:
    template_service.reset_template(session, user, tone)
    response = RedirectResponse(f"{TEMPLATES_PATH}/{tone.value}", status_code=303)
    set_flash(response, settings, f"{TONE_NAMES[tone]} wording is DueSpark's default again.")
    return response


@router.get(TEMPLATES_PATH + "/{tone}/preview")
def saved_preview(
    tone: Tone,
    user: PageUser,
    session: SessionDep,
    now: NowDep,
    invoice_id: InvoiceChoice = None,
) -> HTMLResponse:
    """The frame: the saved wording on the invoice (or the sample reminder)."""
    return _frame(session, user, tone, invoice_id=invoice_id, draft=None, now=now)


@router.post(TEMPLATES_PATH + "/{tone}/preview")
def draft_preview(
    tone: Tone,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    now: NowDep,
) -> HTMLResponse:
    """The frame: the editor's unsaved draft on the chosen invoice. Nothing is saved."""
    form = FormState.read(form_data, FIELDS)
    payload = form.payload(required=("subject", "body"))
    payload.pop("invoice_id", None)
    draft = validate(TemplateDraft, payload, form)
    chosen = as_id(form.values["invoice_id"]) if form.values["invoice_id"] else None
    if draft is None or isinstance(chosen, str):
        problems = [f"{name}: {message}" for name, message in form.summary()]
        if isinstance(chosen, str):
            problems.append("invoice: choose one of the list.")
        return frame_response(problem=" ".join(problems), status_code=422)
    return _frame(session, user, tone, invoice_id=chosen, draft=draft, now=now)


def _frame(
    session: Session,
    user: User,
    tone: Tone,
    *,
    invoice_id: int | None,
    draft: TemplateDraft | None,
    now: datetime,
) -> HTMLResponse:
    try:
        email = previews.preview(session, user, tone, invoice_id=invoice_id, draft=draft, now=now)
    except InvalidInput as error:
        return frame_response(problem=error.message, status_code=error.status_code)
    note = "" if invoice_id is not None else "A sample reminder: add an invoice to preview on it."
    return frame_response(
        subject=email.subject, to=email.to, text=email.text, html=email.html, note=note
    )


def _editor(
    request: Request,
    session: Session,
    user: User,
    tone: Tone,
    form: FormState,
    *,
    now: datetime,
    chosen: int | None,
    status_code: int = 200,
) -> HTMLResponse:
    names = dict(client_choices(session, user))
    invoices = previews.preview_invoices(session, user, now=now)
    choices = [
        (invoice.id, previews.invoice_label(invoice, names.get(invoice.client_id, "")))
        for invoice in invoices
    ]
    if chosen not in {invoice.id for invoice in invoices}:
        chosen = invoices[0].id if invoices else None
    form.values["invoice_id"] = str(chosen) if chosen else ""
    current = template_service.get_template(session, user, tone)
    frame_src = f"{TEMPLATES_PATH}/{tone.value}/preview"
    if chosen:
        frame_src += f"?invoice_id={chosen}"
    return render(
        request,
        "settings/template_editor.html",
        {
            "active": "settings",
            "section": "templates",
            "title": f"{TONE_NAMES[tone]} wording",
            "tone": tone.value,
            "tones": [(item.value, TONE_NAMES[item]) for item in Tone],
            "form": form,
            "is_default": current.is_default,
            "invoices": choices,
            "variables": template_service.describe_variables(),
            "frame_src": frame_src,
            "frame_name": FRAME_NAME,
            "max_body": MAX_BODY_LENGTH,
        },
        status_code=status_code,
    )
