"""Invoice actions, posted from an invoice's page: mark paid, void, reopen, pause and
resume its reminders.

Each calls the service the JSON routes call (``invoices.service`` for the state changes,
``reminders.service`` for pauses) with the API's schemas (``MarkPaid``, ``PauseRequest``).
A success is a 303 back to the invoice with a flash message; a refusal (a paid invoice
cannot be voided, a pause cannot end in the past) shows the invoice's page again with the
problem, its status, and nothing changed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from duespark.config import Settings
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.errors import DueSparkError
from duespark.invoices import service as invoice_service
from duespark.invoices.schemas import MarkPaid
from duespark.invoices.views import detail_response
from duespark.kit.pagination import ResourceId
from duespark.models import User
from duespark.reminders import service as reminder_service
from duespark.reminders.schemas import PauseRequest
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, savepoint, validate
from duespark.web.pages import page_router

router = page_router()


@router.post("/app/invoices/{invoice_id}/mark-paid")
def mark_paid(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    form = FormState.read(form_data, ("paid_at", "amount_paid"))
    data = validate(MarkPaid, form.payload(), form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: invoice_service.mark_paid(session, user, invoice_id, data=data, now=now),
        )
    if form.failed:
        return detail_response(
            request, session, user, invoice, now=now, paid_form=form, status_code=form.status_code
        )
    return _done(invoice_id, settings, f"Invoice {invoice.number} marked paid.")


@router.post("/app/invoices/{invoice_id}/void")
def void(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    _form: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    return _act(request, session, user, invoice_id, now, settings, "void")


@router.post("/app/invoices/{invoice_id}/reopen")
def reopen(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    _form: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    return _act(request, session, user, invoice_id, now, settings, "reopen")


@router.post("/app/invoices/{invoice_id}/pause")
def pause(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Stop reminders for this invoice, until a date (a promise to pay) or until resumed."""
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    form = FormState.read(form_data, ("until",))
    data = validate(PauseRequest, form.payload(), form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: reminder_service.pause_invoice(
                session, user, invoice_id, until=data.until, now=now
            ),
        )
    if form.failed:
        return detail_response(
            request, session, user, invoice, now=now, pause_form=form, status_code=form.status_code
        )
    until = f"until {data.until.isoformat()}" if data and data.until else "until resumed"
    return _done(invoice_id, settings, f"Reminders for invoice {invoice.number} paused {until}.")


@router.post("/app/invoices/{invoice_id}/resume")
def resume(
    invoice_id: ResourceId,
    user: PageUser,
    _form: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    invoice = reminder_service.resume_invoice(session, user, invoice_id, now=now)
    return _done(invoice_id, settings, f"Reminders for invoice {invoice.number} resumed.")


_ACTIONS = {
    "void": (invoice_service.void_invoice, "voided"),
    "reopen": (invoice_service.reopen_invoice, "reopened"),
}


def _act(
    request: Request,
    session: Session,
    user: User,
    invoice_id: int,
    now: datetime,
    settings: Settings,
    action: str,
) -> Response:
    """A state change without input: done and redirected, or refused on the invoice's page
    (a paid invoice cannot be voided; an open one cannot be reopened)."""
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    change, done = _ACTIONS[action]
    try:
        with savepoint(session):
            change(session, user, invoice_id, now=now)
    except DueSparkError as error:
        return detail_response(
            request,
            session,
            user,
            invoice,
            now=now,
            message=error.message,
            status_code=error.status_code,
        )
    return _done(invoice_id, settings, f"Invoice {invoice.number} {done}.")


def _done(invoice_id: int, settings: Settings, message: str) -> RedirectResponse:
    response = RedirectResponse(f"/app/invoices/{invoice_id}", status_code=303)
    set_flash(response, settings, message)
    return response
