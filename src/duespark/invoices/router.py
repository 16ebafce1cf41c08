"""JSON endpoints under /invoices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import (
    APIRouter,
    Body,
    Depends,
    File,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import JSONResponse, StreamingResponse

from duespark.auth.dependencies import CurrentUser
from duespark.clock import local_today
from duespark.dependencies import DatabaseDep, NowDep, SessionDep
from duespark.exception_handlers import error_body
from duespark.idempotency import service as idempotency
from duespark.idempotency.dependencies import IdempotencyKeyHeader
from duespark.invoices import exporting, importing
from duespark.invoices import service as invoice_service
from duespark.invoices.importing import ImportRead, InvalidRows
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import (
    InvoiceCreate,
    InvoiceDate,
    InvoiceRead,
    InvoiceSort,
    InvoiceUpdate,
    MarkPaid,
)
from duespark.invoices.status import InvoiceStatus
from duespark.kit.pagination import MAX_ID, Page, PageParams, ResourceId, page_params
from duespark.kit.search import SearchText
from duespark.models import Invoice, User

router = APIRouter(prefix="/invoices", tags=["invoices"])

NOT_FOUND = {404: {"description": "No such invoice in this account"}}
REFUSED = {**NOT_FOUND, 409: {"description": "The state machine refuses this change"}}


def _read(invoice: Invoice, user: User, now: datetime) -> InvoiceRead:
    return InvoiceRead.from_invoice(invoice, today=local_today(now, user.time_zone))


def invoice_filters(
    status: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    client_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    overdue: Annotated[bool | None, Query(description="Only (or no) overdue invoices.")] = None,
    due_before: Annotated[InvoiceDate | None, Query(description="Due strictly before.")] = None,
    due_after: Annotated[InvoiceDate | None, Query(description="Due strictly after.")] = None,
    q: Annotated[SearchText | None, Query(description="Search number, notes, client name.")] = None,
) -> InvoiceFilters:
    return InvoiceFilters(
        status=status.value if status else None,
        client_id=client_id,
        overdue=overdue,
        due_before=due_before,
        due_after=due_after,
        q=q,
    )


@router.get("", response_model=Page[InvoiceRead])
def list_invoices(
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    page: Annotated[PageParams, Depends(page_params)],
    filters: Annotated[InvoiceFilters, Depends(invoice_filters)],
    sort: InvoiceSort = InvoiceSort.due_date,
) -> Page[InvoiceRead]:
    """Invoices, earliest due first unless ``sort`` says otherwise."""
    invoices, total = invoice_service.list_invoices(
        session, user, filters=filters, sort=sort, page=page, now=now
    )
    today = local_today(now, user.time_zone)
    return Page[InvoiceRead](
        items=[InvoiceRead.from_invoice(invoice, today=today) for invoice in invoices],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InvoiceRead)
def create_invoice(
    data: InvoiceCreate,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InvoiceRead:
    return idempotency.run_once(
        session,
        user_id=user.id,
        key=idempotency_key,
        scope="POST /invoices",
        fingerprint=idempotency.request_hash(request.url.path, data),
        status_code=status.HTTP_201_CREATED,
        operation=lambda: _read(
            invoice_service.create_invoice(session, user, data=data, now=now), user, now
        ),
        now=now,
    )


# The CSV routes come before "/{invoice_id}", which would otherwise take their paths.


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "The invoices as CSV."}},
)
def export_invoices(
    user: CurrentUser,
    database: DatabaseDep,
    now: NowDep,
    filters: Annotated[InvoiceFilters, Depends(invoice_filters)],
    sort: InvoiceSort = InvoiceSort.due_date,
) -> StreamingResponse:
    """Every invoice ``GET /invoices`` would list with these filters, as a CSV file in the
    import's columns, sent while it is read from the database."""
    user_id, time_zone = user.id, user.time_zone
    today = local_today(now, time_zone)

    def chunks() -> Iterator[str]:
        # A session of its own: the request's ends when this function returns, before the
        # body is sent.
        with database.session_scope() as session:
            yield from exporting.csv_chunks(
                session,
                user_id=user_id,
                time_zone=time_zone,
                filters=filters,
                sort=sort,
                today=today,
            )

    disposition = f'attachment; filename="{exporting.export_filename(today)}"'
    return StreamingResponse(
        chunks(), media_type="text/csv", headers={"Content-Disposition": disposition}
    )


@router.post(
    "/import",
    response_model=ImportRead,
    responses={
        413: {"description": f"The file is over {importing.IMPORT_MAX_BYTES} bytes"},
        422: {"description": "Rows are invalid (code invalid_rows); nothing was imported"},
    },
)
def import_invoices(
    file: Annotated[UploadFile, File(description="A CSV file, UTF-8, with a header row.")],
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    skip_invalid: Annotated[
        bool, Query(description="Import the valid rows and report the others.")
    ] = False,
) -> Response | ImportRead:
    """Import invoices (and their missing clients) from a CSV file; all or nothing unless
    ``skip_invalid``. Rows already imported are counted as unchanged."""
    try:
        return importing.import_invoices(
            session, user, file.file, now=now, skip_invalid=skip_invalid
        )
    except InvalidRows as exc:
        # The import rolled back its own savepoint: committing the request writes nothing.
        body = error_body(exc.code, exc.message)
        body["error"]["errors"] = [error.as_dict() for error in exc.errors]
        return JSONResponse(body, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


@router.get("/{invoice_id}", response_model=InvoiceRead, responses=NOT_FOUND)
def read_invoice(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> InvoiceRead:
    return _read(invoice_service.get_invoice(session, user, invoice_id), user, now)


@router.patch("/{invoice_id}", response_model=InvoiceRead, responses=REFUSED)
def update_invoice(
    invoice_id: ResourceId,
    data: InvoiceUpdate,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
) -> InvoiceRead:
    invoice = invoice_service.update_invoice(session, user, invoice_id, data=data, now=now)
    return _read(invoice, user, now)


@router.delete("/{invoice_id}", status_code=status.HTTP_204_NO_CONTENT, responses=REFUSED)
def delete_invoice(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> Response:
    """Delete a draft or void invoice."""
    invoice_service.delete_invoice(session, user, invoice_id, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{invoice_id}/mark-paid", response_model=InvoiceRead, responses=REFUSED)
def mark_paid(
    invoice_id: ResourceId,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    request: Request,
    data: Annotated[MarkPaid | None, Body()] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> InvoiceRead:
    """Record the payment of an open invoice (optionally when, and how much arrived)."""
    payment = data or MarkPaid()
    return idempotency.run_once(
        session,
        user_id=user.id,
        key=idempotency_key,
        scope="POST /invoices/{invoice_id}/mark-paid",
        fingerprint=idempotency.request_hash(request.url.path, payment),
        status_code=status.HTTP_200_OK,
        operation=lambda: _read(
            invoice_service.mark_paid(session, user, invoice_id, data=payment, now=now), user, now
        ),
        now=now,
    )


@router.post("/{invoice_id}/void", response_model=InvoiceRead, responses=REFUSED)
def void_invoice(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> InvoiceRead:
    return _read(invoice_service.void_invoice(session, user, invoice_id, now=now), user, now)


@router.post("/{invoice_id}/reopen", response_model=InvoiceRead, responses=REFUSED)
def reopen_invoice(
    invoice_id: ResourceId, user: CurrentUser, session: SessionDep, now: NowDep
) -> InvoiceRead:
    """Return a paid or void invoice to open."""
    return _read(invoice_service.reopen_invoice(session, user, invoice_id, now=now), user, now)
