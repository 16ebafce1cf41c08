"""CSV pages: importing invoices from a spreadsheet, and exporting the invoice list.

The import page uploads a file to the same use case as ``POST /invoices/import``
(``invoices/importing.py``): all or nothing, or with "skip bad rows" the good rows only;
every bad row is listed with its line number (the header is line 1), its column and the
reason, and a file imported twice creates nothing the second time. The export streams the
same file as ``GET /invoices/export.csv`` (``invoices/exporting.py``), for the filters the
invoice list shows, to a signed-in browser (the JSON route takes a bearer token instead).

Both paths are declared before ``/app/invoices/{invoice_id}``, which would take them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.datastructures import UploadFile

from duespark.clock import local_today
from duespark.dependencies import DatabaseDep, NowDep, SessionDep
from duespark.errors import DueSparkError, InvalidInput
from duespark.invoices import exporting, importing
from duespark.invoices.csv_format import COLUMNS, REQUIRED_COLUMNS
from duespark.invoices.importing import ImportRead, InvalidRows
from duespark.invoices.views import FILTER_FIELDS, InvoiceListQuery, list_filters
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.forms import FormState, validate
from duespark.web.pages import page_router
from duespark.web.templating import render

router = page_router()

IMPORT_PATH = "/app/invoices/import"
CHOOSE_A_FILE = "Choose a CSV file to import."


@router.get(IMPORT_PATH)
def import_page(request: Request, _user: PageUser) -> HTMLResponse:
    return _import_page(request, FormState(values={"file": "", "skip_invalid": ""}))


@router.post(IMPORT_PATH)
def import_file(
    request: Request, user: PageUser, form_data: SignedInForm, session: SessionDep, now: NowDep
) -> HTMLResponse:
    skip_invalid = form_data.get("skip_invalid") == "true"
    form = FormState(values={"file": "", "skip_invalid": "true" if skip_invalid else ""})
    upload = form_data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.add_error("file", CHOOSE_A_FILE)
        return _import_page(request, form, status_code=422)
    try:
        report = importing.import_invoices(
            session, user, upload.file, now=now, skip_invalid=skip_invalid
        )
    except InvalidRows as refused:
        # The import rolled back its own savepoint: nothing was written.
        form.message = refused.message
        return _import_page(request, form, row_errors=refused.errors, status_code=422)
    except DueSparkError as error:
        form.refuse(error)
        return _import_page(request, form, status_code=form.status_code)
    return _import_page(request, form, report=report, file_name=upload.filename)


@router.get("/app/invoices/export.csv")
def export_csv(
    request: Request, user: PageUser, database: DatabaseDep, now: NowDep
) -> StreamingResponse:
    """The invoices the list shows with the same filters (all of them, not one page)."""
    search = FormState.read(request.query_params, FILTER_FIELDS)
    query = validate(InvoiceListQuery, search.payload(), search)
    if query is None:
        raise InvalidInput("The export's filters are not valid; correct them on the list.")
    user_id, time_zone = user.id, user.time_zone
    today = local_today(now, time_zone)
    filters, sort = list_filters(query), query.sort

    def chunks() -> Iterator[str]:
        # A session of its own: the request's ends when this function returns, before the
        # file is sent.
        with database.session_scope() as session:
            yield from exporting.csv_chunks(
                session, user_id=user_id, time_zone=time_zone, filters=filters, sort=sort,
                today=today,
            )  # fmt: skip

    disposition = f'attachment; filename="{exporting.export_filename(today)}"'
    return StreamingResponse(
        chunks(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )


def _import_page(
    request: Request,
    form: FormState,
    *,
    report: ImportRead | None = None,
    file_name: str = "",
    row_errors: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "invoices/import.html",
        {
            "active": "invoices",
            "title": "Import invoices",
            "form": form,
            "report": report,
            "file_name": file_name,
            "row_errors": row_errors or (report.errors if report else []),
            "columns": COLUMNS,
            "required_columns": REQUIRED_COLUMNS,
            "max_megabytes": importing.IMPORT_MAX_BYTES // 1_000_000,
        },
        status_code=status_code,
    )
