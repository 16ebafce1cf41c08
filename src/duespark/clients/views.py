"""Client pages: the list with search, a client's page (open invoices, payment record from
``analytics.service.client_stats``, pausing reminders until a date), and the forms to add
and edit a client.

Each route calls the service the JSON router calls, with the API's schemas
(``ClientCreate``, ``ClientUpdate``, ``PauseRequest``) validating the form, so the rules
and messages are the API's. Another account's client is a 404 page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from duespark.analytics import service as analytics_service
from duespark.clients import service as client_service
from duespark.clients.schemas import ClientCreate, ClientSort, ClientUpdate
from duespark.clock import local_today
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.invoices import service as invoice_service
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import InvoiceSort
from duespark.kit.pagination import DEFAULT_LIMIT, PageParams, ResourceId
from duespark.kit.search import SearchText
from duespark.models import Client, User
from duespark.reminders import service as reminder_service
from duespark.reminders.schemas import PauseRequest
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, validate
from duespark.web.pages import page_router
from duespark.web.tables import invoice_rows
from duespark.web.templating import render

router = page_router()

CLIENT_FIELDS = (
    "name",
    "email",
    "contact_name",
    "time_zone",
    "locale",
    "default_currency",
    "notes",
)
REQUIRED = ("name", "email", "time_zone", "default_currency")


class ClientListQuery(BaseModel):
    """The list's search form: the same limits as ``GET /clients``."""

    model_config = ConfigDict(extra="ignore")

    q: SearchText | None = None
    sort: ClientSort = ClientSort.name
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


@router.get("/app/clients")
def list_page(request: Request, user: PageUser, session: SessionDep, now: NowDep) -> HTMLResponse:
    search = FormState.read(request.query_params, ("q", "sort", "offset"))
    query = validate(ClientListQuery, search.payload(), search)
    clients: list[Client] = []
    total = 0
    if query is not None:
        page = PageParams(limit=DEFAULT_LIMIT, offset=query.offset)
        clients, total = client_service.list_clients(
            session, user, q=query.q, sort=query.sort, page=page
        )
    return render(
        request,
        "clients/list.html",
        {
            "active": "clients",
            "title": "Clients",
            "search": search,
            "clients": clients,
            "total": total,
            "offset": query.offset if query else 0,
            "limit": DEFAULT_LIMIT,
            "sorts": [(sort.value, _SORT_LABELS[sort]) for sort in ClientSort],
            "now": now,
        },
        status_code=422 if query is None else 200,
    )


_SORT_LABELS = {
    ClientSort.name: "Name, A to Z",
    ClientSort.name_desc: "Name, Z to A",
    ClientSort.created_at: "Oldest first",
    ClientSort.created_at_desc: "Newest first",
}


@router.get("/app/clients/new")
def new_page(request: Request, user: PageUser) -> HTMLResponse:
    form = FormState(values=dict.fromkeys(CLIENT_FIELDS, ""))
    form.values.update(time_zone=user.time_zone, locale="en")
    return _form_page(request, form, client=None)


@router.post("/app/clients/new")
def create(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, CLIENT_FIELDS)
    data = validate(ClientCreate, form.payload(required=REQUIRED), form)
    if data is None:
        return _form_page(request, form, client=None, status_code=422)
    client = attempt(
        session, form, lambda: client_service.create_client(session, user, data=data, now=now)
    )
    if client is None:
        return _form_page(request, form, client=None, status_code=form.status_code)
    response = RedirectResponse(f"/app/clients/{client.id}", status_code=303)
    set_flash(response, settings, f"Client {client.name} added.")
    return response


@router.get("/app/clients/{client_id}")
def detail_page(
    request: Request, client_id: ResourceId, user: PageUser, session: SessionDep, now: NowDep
) -> HTMLResponse:
    client = client_service.get_client(session, user, client_id)
    return _detail(request, session, user, client, now=now)


@router.get("/app/clients/{client_id}/edit")
def edit_page(
    request: Request, client_id: ResourceId, user: PageUser, session: SessionDep
) -> HTMLResponse:
    client = client_service.get_client(session, user, client_id)
    form = FormState(
        values={
            "name": client.name,
            "email": client.email,
            "contact_name": client.contact_name or "",
            "time_zone": client.time_zone,
            "locale": client.locale,
            "default_currency": client.default_currency,
            "notes": client.notes,
        }
    )
    return _form_page(request, form, client=client)


@router.post("/app/clients/{client_id}/edit")
def update(
    request: Request,
    client_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    client = client_service.get_client(session, user, client_id)
    form = FormState.read(form_data, CLIENT_FIELDS)
    payload = form.payload(
        required=(*REQUIRED, "locale"), nullable=("contact_name",), keep_blank=("notes",)
    )
    data = validate(ClientUpdate, payload, form)
    if data is None:
        return _form_page(request, form, client=client, status_code=422)
    updated = attempt(
        session,
        form,
        lambda: client_service.update_client(session, user, client_id, data=data, now=now),
    )
    if updated is None:
        return _form_page(request, form, client=client, status_code=form.status_code)
    response = RedirectResponse(f"/app/clients/{updated.id}", status_code=303)
    set_flash(response, settings, f"Client {updated.name} saved.")
    return response


@router.post("/app/clients/{client_id}/pause")
def pause(
    request: Request,
    client_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Stop reminders for every invoice of the client, until a date (a promise to pay)
    or, with no date, until resumed."""
    client = client_service.get_client(session, user, client_id)
    form = FormState.read(form_data, ("until",))
    data = validate(PauseRequest, form.payload(), form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: reminder_service.pause_client(
                session, user, client_id, until=data.until, now=now
            ),
        )
    if form.failed:
        return _detail(
            request, session, user, client, now=now, pause_form=form, status_code=form.status_code
        )
    response = RedirectResponse(f"/app/clients/{client_id}", status_code=303)
    until = f" until {data.until.isoformat()}" if data and data.until else " until resumed"
    set_flash(response, settings, f"Reminders to {client.name} paused{until}.")
    return response


@router.post("/app/clients/{client_id}/resume")
def resume(
    client_id: ResourceId,
    user: PageUser,
    _form: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    client = reminder_service.resume_client(session, user, client_id, now=now)
    response = RedirectResponse(f"/app/clients/{client_id}", status_code=303)
    set_flash(response, settings, f"Reminders to {client.name} resumed.")
    return response


def _detail(
    request: Request,
    session: Session,
    user: User,
    client: Client,
    *,
    now: datetime,
    pause_form: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    invoices, total = invoice_service.list_invoices(
        session,
        user,
        filters=InvoiceFilters(client_id=client.id, status="open"),
        sort=InvoiceSort.due_date,
        page=PageParams(limit=DEFAULT_LIMIT, offset=0),
        now=now,
    )
    today = local_today(now, user.time_zone)
    rows = invoice_rows(session, user, invoices, today=today, names={client.id: client.name})
    return render(
        request,
        "clients/detail.html",
        {
            "active": "clients",
            "title": client.name,
            "client": client,
            "rows": rows,
            "open_total": total,
            "stats": analytics_service.client_stats(session, user, client.id, as_of=None, now=now),
            "pause_form": pause_form or FormState(values={"until": ""}),
            "now": now,
        },
        status_code=status_code,
    )


def _form_page(
    request: Request, form: FormState, *, client: Client | None, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "clients/form.html",
        {
            "active": "clients",
            "title": f"Edit {client.name}" if client else "New client",
            "form": form,
            "client": client,
        },
        status_code=status_code,
    )
