"""Previewing an invoice's reminders (``/app/invoices/{id}/preview``), and sending a step
by hand.

The page lists the steps of the invoice's policy; the chosen one (by default the next
step still ahead, as ``POST /invoices/{id}/reminders/preview`` chooses) is shown in a
sandboxed frame (``web/email_frame.py``) exactly as the client would receive it today,
rendered by ``reminders.service.preview``, the worker's rendering. "Send this step now"
calls ``reminders.service.send_step_now``: the step joins the ledger, so it is never sent
twice, by hand or by the worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from duespark.clients import service as client_service
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.errors import DueSparkError
from duespark.invoices import service as invoice_service
from duespark.kit.pagination import ResourceId
from duespark.models import User
from duespark.reminders import service as reminder_service
from duespark.reminders.policy import MAX_OFFSET_DAYS, resolve_policy
from duespark.reminders.schemas import SendStepNow
from duespark.reminders.views import TONE_NAMES
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.email_frame import frame_response
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, validate
from duespark.web.pages import page_router
from duespark.web.templating import render

router = page_router()

StepChoice = Annotated[int | None, Query(ge=-MAX_OFFSET_DAYS, le=MAX_OFFSET_DAYS)]


@router.get("/app/invoices/{invoice_id}/preview")
def preview_page(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    session: SessionDep,
    now: NowDep,
    offset_days: StepChoice = None,
) -> HTMLResponse:
    return _page(request, session, user, invoice_id, offset_days=offset_days, now=now)


@router.get("/app/invoices/{invoice_id}/preview/email")
def preview_email(
    invoice_id: ResourceId,
    user: PageUser,
    session: SessionDep,
    now: NowDep,
    offset_days: StepChoice = None,
) -> HTMLResponse:
    """The frame: the email of the step (or the next one) as the client would receive it."""
    try:
        email = reminder_service.preview(
            session, user, invoice_id, offset_days=offset_days, tone=None, now=now
        )
    except DueSparkError as error:
        if error.status_code != 422:
            raise
        return frame_response(problem=error.message, status_code=422)
    return frame_response(subject=email.subject, to=email.to, text=email.text, html=email.html)


@router.post("/app/invoices/{invoice_id}/preview/send")
def send_now(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, ("offset_days",))
    data = validate(SendStepNow, form.payload(required=("offset_days",)), form)
    if data is not None:
        reminder = attempt(
            session,
            form,
            lambda: reminder_service.send_step_now(
                session,
                user,
                invoice_id,
                offset_days=data.offset_days,
                settings=settings,
                now=now,
            ),
        )
    if form.failed or data is None:
        return _page(
            request, session, user, invoice_id, offset_days=None, now=now,
            message=form.message or "; ".join(form.errors.values()),
            status_code=form.status_code,
        )  # fmt: skip
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    response = RedirectResponse(f"/app/invoices/{invoice_id}", status_code=303)
    set_flash(
        response,
        settings,
        f"The {reminder.tone} reminder for invoice {invoice.number} is on its way.",
    )
    return response


def _page(
    request: Request,
    session: Session,
    user: User,
    invoice_id: int,
    *,
    offset_days: int | None,
    now: datetime,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    client = client_service.get_client(session, user, invoice.client_id)
    policy, source = resolve_policy(user.reminder_policy, client.reminder_policy)
    timeline = reminder_service.timeline(session, user, invoice.id, now=now)
    states = {entry.offset_days: entry.state for entry in timeline.entries}
    if offset_days is not None and offset_days not in {s.offset_days for s in policy.steps}:
        message = message or (
            f"The invoice's schedule has no step {offset_days:+d} days from the due date; "
            "choose one of the list."
        )
        status_code = 422 if status_code == 200 else status_code
        offset_days = None
    frame_src = f"/app/invoices/{invoice.id}/preview/email"
    if offset_days is not None:
        frame_src += f"?offset_days={offset_days}"
    return render(
        request,
        "previews/invoice.html",
        {
            "active": "invoices",
            "title": f"Reminders of invoice {invoice.number}",
            "invoice": invoice,
            "client": client,
            "steps": [
                (step, TONE_NAMES[step.tone], states.get(step.offset_days, ""))
                for step in policy.steps
            ],
            "source": source.value,
            "chosen": offset_days,
            "frame_src": frame_src,
            "message": message,
        },
        status_code=status_code,
    )
