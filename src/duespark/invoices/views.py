"""Invoice pages: the list with filters, an invoice's page (its reminder timeline and
activity), and the forms to create and edit an invoice. The actions posted from an
invoice's page (mark paid, void, reopen, pause) are in ``views_actions.py``, the CSV
import and export in ``views_csv.py``.

Each route calls the service the JSON routers call (``invoices.service``, and
``reminders.service`` for the timeline and activity) and validates forms with the API's
schemas (``InvoiceCreate``, ``InvoiceUpdate``); another account's invoice is a 404 page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from duespark.clients import service as client_service
from duespark.clock import local_today
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.invoices import service as invoice_service
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import (
    InvoiceCreate,
    InvoiceDate,
    InvoiceSort,
    InvoiceUpdate,
)
from duespark.invoices.status import InvoiceStatus, days_overdue
from duespark.kit.money import format_amount
from duespark.kit.pagination import DEFAULT_LIMIT, MAX_ID, PageParams, ResourceId
from duespark.kit.search import SearchText
from duespark.models import Invoice, User
from duespark.reminders import service as reminder_service
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, as_id, attempt, validate
from duespark.web.pages import page_router
from duespark.web.tables import client_choices, invoice_rows
from duespark.web.templating import render

router = page_router()

INVOICE_FIELDS = (
    "client_id",
    "number",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "status",
    "payment_url",
    "notes",
)
CLOSED_FIELDS = ("payment_url", "notes")  # all a paid or void invoice accepts
FILTER_FIELDS = ("q", "status", "client_id", "overdue", "due_after", "due_before", "sort", "offset")
SORT_LABELS = {
    InvoiceSort.due_date: "Due date, earliest first",
    InvoiceSort.due_date_desc: "Due date, latest first",
    InvoiceSort.issue_date: "Issue date, earliest first",
    InvoiceSort.issue_date_desc: "Issue date, latest first",
    InvoiceSort.number: "Number, A to Z",
    InvoiceSort.number_desc: "Number, Z to A",
    InvoiceSort.created_at: "Oldest first",
    InvoiceSort.created_at_desc: "Newest first",
}


class InvoiceListQuery(BaseModel):
    """The list's filter form: the same filters and limits as ``GET /invoices``."""

    model_config = ConfigDict(extra="ignore")

    q: SearchText | None = None
    status: InvoiceStatus | None = None
    client_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    overdue: bool | None = None
    due_after: InvoiceDate | None = None
    due_before: InvoiceDate | None = None
    sort: InvoiceSort = InvoiceSort.due_date
    offset: Annotated[int, Field(ge=0, le=10_000_000)] = 0


def list_filters(query: InvoiceListQuery) -> InvoiceFilters:
    """The list's filters as the service takes them (the CSV export takes the same)."""
    return InvoiceFilters(
        status=query.status.value if query.status else None,
        client_id=query.client_id,
        overdue=query.overdue,
        due_before=query.due_before,
        due_after=query.due_after,
        q=query.q,
    )


@router.get("/app/invoices")
def list_page(request: Request, user: PageUser, session: SessionDep, now: NowDep) -> HTMLResponse:
    search = FormState.read(request.query_params, FILTER_FIELDS)
    query = validate(InvoiceListQuery, search.payload(), search)
    choices = client_choices(session, user)
    rows: list[dict[str, Any]] = []
    total = 0
    if query is not None:
        page = PageParams(limit=DEFAULT_LIMIT, offset=query.offset)
        invoices, total = invoice_service.list_invoices(
            session, user, filters=list_filters(query), sort=query.sort, page=page, now=now
        )
        today = local_today(now, user.time_zone)
        rows = invoice_rows(session, user, invoices, today=today, names=dict(choices))
    return render(
        request,
        "invoices/list.html",
        {
            "active": "invoices",
            "title": "Invoices",
            "search": search,
            "rows": rows,
            "total": total,
            "offset": query.offset if query else 0,
            "limit": DEFAULT_LIMIT,
            "clients": choices,
            "statuses": [(status.value, status.value.capitalize()) for status in InvoiceStatus],
            "sorts": [(sort.value, label) for sort, label in SORT_LABELS.items()],
        },
        status_code=422 if query is None else 200,
    )


@router.get("/app/invoices/new")
def new_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    form = FormState(values=dict.fromkeys(INVOICE_FIELDS, ""))
    chosen = request.query_params.get("client_id", "")
    choices = client_choices(session, user)
    if chosen in {str(client_id) for client_id, _ in choices}:
        form.values["client_id"] = chosen
    form.values["status"] = "open"
    return _form_page(request, form, invoice=None, clients=choices)


@router.post("/app/invoices/new")
def create(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, INVOICE_FIELDS)
    payload = form.payload(required=("client_id", "number", "amount", "due_date"))
    data = validate(InvoiceCreate, _with_client_id(payload), form)
    if data is not None:
        invoice = attempt(
            session, form, lambda: invoice_service.create_invoice(session, user, data=data, now=now)
        )
    if form.failed:
        clients = client_choices(session, user)
        return _form_page(
            request, form, invoice=None, clients=clients, status_code=form.status_code
        )
    response = RedirectResponse(f"/app/invoices/{invoice.id}", status_code=303)
    set_flash(response, settings, f"Invoice {invoice.number} created.")
    return response


@router.get("/app/invoices/{invoice_id}")
def detail_page(
    request: Request, invoice_id: ResourceId, user: PageUser, session: SessionDep, now: NowDep
) -> HTMLResponse:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    return detail_response(request, session, user, invoice, now=now)


@router.get("/app/invoices/{invoice_id}/edit")
def edit_page(
    request: Request, invoice_id: ResourceId, user: PageUser, session: SessionDep
) -> HTMLResponse:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    values = {
        "client_id": str(invoice.client_id),
        "number": invoice.number,
        "amount": format_amount(invoice.amount_minor, invoice.currency),
        "currency": invoice.currency,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "status": invoice.status,
        "payment_url": invoice.payment_url or "",
        "notes": invoice.notes,
    }
    form = FormState(values={name: values[name] for name in _editable(invoice)})
    return _form_page(request, form, invoice=invoice, clients=client_choices(session, user))


@router.post("/app/invoices/{invoice_id}/edit")
def update(
    request: Request,
    invoice_id: ResourceId,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    invoice = invoice_service.get_invoice(session, user, invoice_id)
    form = FormState.read(form_data, _editable(invoice))
    required = set(INVOICE_FIELDS) - set(CLOSED_FIELDS)
    payload = form.payload(required=required, nullable=("payment_url",), keep_blank=("notes",))
    data = validate(InvoiceUpdate, _with_client_id(payload), form)
    if data is not None:
        attempt(
            session,
            form,
            lambda: invoice_service.update_invoice(session, user, invoice_id, data=data, now=now),
        )
    if form.failed:
        clients = client_choices(session, user)
        return _form_page(
            request, form, invoice=invoice, clients=clients, status_code=form.status_code
        )
    response = RedirectResponse(f"/app/invoices/{invoice_id}", status_code=303)
    set_flash(response, settings, f"Invoice {invoice.number} saved.")
    return response


def _editable(invoice: Invoice) -> tuple[str, ...]:
    return CLOSED_FIELDS if invoice.status in {"paid", "void"} else INVOICE_FIELDS


def _with_client_id(payload: dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload.get("client_id"), str):
        payload["client_id"] = as_id(payload["client_id"])
    return payload


def detail_response(
    request: Request,
    session: Session,
    user: User,
    invoice: Invoice,
    *,
    now: datetime,
    paid_form: FormState | None = None,
    pause_form: FormState | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The invoice's page; the actions (``views_actions.py``) show it again with their
    form's errors or a refusal's ``message``."""
    client = client_service.get_client(session, user, invoice.client_id)
    today = local_today(now, user.time_zone)
    if paid_form is None:
        amount = format_amount(invoice.amount_minor, invoice.currency)
        paid_form = FormState(values={"paid_at": today.isoformat(), "amount_paid": amount})
    return render(
        request,
        "invoices/detail.html",
        {
            "active": "invoices",
            "title": f"Invoice {invoice.number}",
            "invoice": invoice,
            "client": client,
            "days_overdue": days_overdue(
                status=InvoiceStatus(invoice.status), due_date=invoice.due_date, today=today
            ),
            "timeline": reminder_service.timeline(session, user, invoice.id, now=now),
            "activity": reminder_service.activity(session, user, invoice.id),
            "paid_form": paid_form,
            "pause_form": pause_form or FormState(values={"until": ""}),
            "message": message,
            "now": now,
        },
        status_code=status_code,
    )


def _form_page(
    request: Request,
    form: FormState,
    *,
    invoice: Invoice | None,
    clients: list[tuple[int, str]],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "invoices/form.html",
        {
            "active": "invoices",
            "title": f"Edit invoice {invoice.number}" if invoice else "New invoice",
            "form": form,
            "invoice": invoice,
            "clients": clients,
        },
        status_code=status_code,
    )
