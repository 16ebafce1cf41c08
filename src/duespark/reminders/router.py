"""JSON endpoints for reminders: policies, pauses, the ledger, timelines, previews."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query

from duespark.auth.dependencies import CurrentUser
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.kit.pagination import MAX_ID, Page, PageParams, ResourceId, page_params
from duespark.models import Reminder
from duespark.reminders import service as reminder_service
from duespark.reminders.policy import ReminderPolicy
from duespark.reminders.repository import ReminderFilters
from duespark.reminders.schemas import (
    AccountReminderSettings,
    ActivityRead,
    EmailPreview,
    PauseRequest,
    PauseState,
    PolicyRead,
    PreviewRequest,
    ReminderRead,
    SendStepNow,
    Timeline,
)

router = APIRouter(tags=["reminders"])

# Optional, as for mark-paid: a bare POST pauses until resumed.
PauseBody = Annotated[PauseRequest | None, Body()]

NOT_FOUND = {404: {"description": "Not found in this account"}}
REFUSED = {**NOT_FOUND, 409: {"description": "Not possible in the reminder's state"}}


def _settings(user: CurrentUser) -> AccountReminderSettings:
    policy, source = reminder_service.account_policy(user)
    return AccountReminderSettings(
        policy=policy,
        source=source,
        paused=user.reminders_paused,
        paused_until=user.reminders_paused_until,
    )


@router.get("/settings/reminders", response_model=AccountReminderSettings)
def read_account_settings(user: CurrentUser) -> AccountReminderSettings:
    """The account's reminder policy (the default until one is saved) and its pause."""
    return _settings(user)


@router.put("/settings/reminders", response_model=AccountReminderSettings)
def update_account_policy(
    policy: ReminderPolicy, user: CurrentUser, session: SessionDep, now: NowDep
) -> AccountReminderSettings:
    reminder_service.set_account_policy(session, user, policy=policy, now=now)
    return _settings(user)


@router.post("/settings/reminders/pause", response_model=AccountReminderSettings)
def pause_account(
    user: CurrentUser, session: SessionDep, now: NowDep, data: PauseBody = None
) -> AccountReminderSettings:
    """Stop all reminders of the account, until a date or until resumed (no body)."""
    until = data.until if data else None
    reminder_service.pause_account(session, user, until=until, now=now)
    return _settings(user)


@router.post("/settings/reminders/resume", response_model=AccountReminderSettings)
def resume_account(user: CurrentUser, session: SessionDep, now: NowDep) -> AccountReminderSettings:
    reminder_service.resume_account(session, user, now=now)
    return _settings(user)


@router.get("/clients/{client_id}/reminders", response_model=PolicyRead, responses=NOT_FOUND)
def read_client_policy(client_id: ResourceId, user: CurrentUser, session: SessionDep) -> PolicyRead:
    policy, source = reminder_service.client_policy(session, user, client_id)
    return PolicyRead(policy=policy, source=source)


@router.put("/clients/{client_id}/reminders", response_model=PolicyRead, responses=NOT_FOUND)
def update_client_policy(
    client_id: ResourceId,
    policy: ReminderPolicy,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
) -> PolicyRead:
    """Give this client its own policy, overriding the account's."""
    policy, source = reminder_service.set_client_policy(
        session, user, client_id, policy=policy, now=now
    )
    return PolicyRead(policy=policy, source=source)


@router.delete("/clients/{client_id}/reminders", response_model=PolicyRead, responses=NOT_FOUND)
def delete_client_policy(
    client_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> PolicyRead:
    """Drop the client's own policy; the account's applies again."""
    policy, source = reminder_service.set_client_policy(
        session, user, client_id, policy=None, now=now
    )
    return PolicyRead(policy=policy, source=source)


@router.post("/clients/{client_id}/pause", response_model=PauseState, responses=NOT_FOUND)
def pause_client(
    client_id: ResourceId,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    data: PauseBody = None,
) -> PauseState:
    """Stop reminders for every invoice of this client, until a date or until resumed."""
    until = data.until if data else None
    client = reminder_service.pause_client(session, user, client_id, until=until, now=now)
    return PauseState(paused=client.reminders_paused, paused_until=client.reminders_paused_until)


@router.post("/clients/{client_id}/resume", response_model=PauseState, responses=NOT_FOUND)
def resume_client(
    client_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> PauseState:
    client = reminder_service.resume_client(session, user, client_id, now=now)
    return PauseState(paused=client.reminders_paused, paused_until=client.reminders_paused_until)


@router.post("/invoices/{invoice_id}/pause", response_model=PauseState, responses=NOT_FOUND)
def pause_invoice(
    invoice_id: ResourceId,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    data: PauseBody = None,
) -> PauseState:
    """Stop reminders for this invoice (a promise to pay), until a date or until resumed."""
    until = data.until if data else None
    invoice = reminder_service.pause_invoice(session, user, invoice_id, until=until, now=now)
    return PauseState(paused=invoice.reminders_paused, paused_until=invoice.reminders_paused_until)


@router.post("/invoices/{invoice_id}/resume", response_model=PauseState, responses=NOT_FOUND)
def resume_invoice(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> PauseState:
    invoice = reminder_service.resume_invoice(session, user, invoice_id, now=now)
    return PauseState(paused=invoice.reminders_paused, paused_until=invoice.reminders_paused_until)


@router.get("/invoices/{invoice_id}/reminders", response_model=Timeline, responses=NOT_FOUND)
def read_timeline(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> Timeline:
    """Sent, scheduled, skipped (and why) and upcoming reminders of one invoice."""
    return reminder_service.timeline(session, user, invoice_id, now=now)


@router.post(
    "/invoices/{invoice_id}/reminders/preview",
    response_model=EmailPreview,
    responses={**NOT_FOUND, 422: {"description": "No such step in the policy"}},
)
def preview_reminder(
    invoice_id: ResourceId,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    data: Annotated[PreviewRequest | None, Body()] = None,
) -> EmailPreview:
    """The reminder email for a step (or a tone) exactly as the client would receive it."""
    data = data or PreviewRequest()
    return reminder_service.preview(
        session, user, invoice_id, offset_days=data.offset_days, tone=data.tone, now=now
    )


@router.post(
    "/invoices/{invoice_id}/reminders/send-now",
    status_code=201,
    response_model=ReminderRead,
    responses={**REFUSED, 422: {"description": "No such step in the policy"}},
)
def send_step_now(
    invoice_id: ResourceId,
    data: SendStepNow,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Reminder:
    """Send a step of the invoice's policy now, by hand, even before its day. It joins the
    ledger, so the worker will not send it again."""
    return reminder_service.send_step_now(
        session, user, invoice_id, offset_days=data.offset_days, settings=settings, now=now
    )


@router.get(
    "/invoices/{invoice_id}/activity", response_model=list[ActivityRead], responses=NOT_FOUND
)
def read_activity(invoice_id: ResourceId, user: CurrentUser, session: SessionDep) -> list:
    """What happened to the invoice, oldest first."""
    return reminder_service.activity(session, user, invoice_id)


def reminder_filters(
    state: Annotated[
        Literal["scheduled", "sent", "skipped", "cancelled", "failed"] | None, Query()
    ] = None,
    invoice_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    client_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> ReminderFilters:
    return ReminderFilters(state=state, invoice_id=invoice_id, client_id=client_id)


@router.get("/reminders", response_model=Page[ReminderRead])
def list_reminders(
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[ReminderFilters, Depends(reminder_filters)],
) -> Page[ReminderRead]:
    """The reminder ledger across invoices, newest first."""
    rows, total = reminder_service.list_reminders(session, user, filters=filters, page=page)
    return Page[ReminderRead](
        items=[ReminderRead.model_validate(row) for row in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/reminders/{reminder_id}", response_model=ReminderRead, responses=NOT_FOUND)
def read_reminder(reminder_id: ResourceId, user: CurrentUser, session: SessionDep) -> Reminder:
    return reminder_service.get_reminder(session, user, reminder_id)


@router.post("/reminders/{reminder_id}/send-now", response_model=ReminderRead, responses=REFUSED)
def send_now(
    reminder_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> Reminder:
    """Deliver a scheduled (or failed) reminder at the next relay pass."""
    return reminder_service.send_now(session, user, reminder_id, now=now)


@router.post("/reminders/{reminder_id}/cancel", response_model=ReminderRead, responses=REFUSED)
def cancel(
    reminder_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> Reminder:
    """Withdraw a scheduled reminder before it is sent."""
    return reminder_service.cancel_reminder(session, user, reminder_id, now=now)
