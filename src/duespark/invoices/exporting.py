"""Exporting invoices as CSV: ``GET /invoices/export.csv``.

The file has the columns of ``invoices/csv_format.py``, so it imports again as
"unchanged". It is produced while it is sent: one query iterated on the server side
(``yield_per``: a server-side cursor on PostgreSQL), a batch of rows at a time, so an
account with a hundred thousand invoices costs one batch of memory, not a list of them all.

The file starts with a UTF-8 byte order mark, which spreadsheet programs need to read
non-ASCII text correctly and which the import accepts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, not_, or_, select
from sqlalchemy.orm import Session

from duespark.clock import local_today
from duespark.invoices.csv_format import BOM, COLUMNS, InvoiceFacts, export_cells
from duespark.invoices.repository import InvoiceFilters, overdue_condition
from duespark.invoices.schemas import InvoiceSort
from duespark.kit.money import format_amount
from duespark.kit.search import like_pattern
from duespark.models import Client, Invoice

EXPORT_BATCH_ROWS = 500


def export_filename(today: date) -> str:
    return f"invoices-{today.isoformat()}.csv"


def csv_chunks(
    session: Session,
    *,
    user_id: int,
    time_zone: str,
    filters: InvoiceFilters,
    sort: InvoiceSort,
    today: date,
) -> Iterator[str]:
    """The CSV text of the account's invoices matching ``filters`` (as ``GET /invoices``
    filters them, "overdue" judged on ``today``), a batch of rows per chunk."""
    query = (
        stored_facts_query(user_id)
        .where(*_conditions(user_id, filters, today))
        .order_by(*_order(sort))
        .execution_options(yield_per=EXPORT_BATCH_ROWS)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow(COLUMNS)
    for batch in session.execute(query).partitions():
        for row in batch:
            facts = stored_facts(row, time_zone)
            amount = format_amount(row.amount_minor, row.currency)
            writer.writerow(export_cells(row.number, row.client_name, facts, amount))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def stored_facts_query(user_id: int) -> Select[Any]:
    """The account's invoices with what a CSV row says of them (see :func:`stored_facts`)."""
    return (
        select(
            Invoice.number,
            Client.email.label("client_email"),
            Client.name.label("client_name"),
            Invoice.amount_minor,
            Invoice.currency,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.status,
            Invoice.paid_at,
            Invoice.payment_url,
            Invoice.notes,
        )
        .join(Client, Client.id == Invoice.client_id)
        .where(Invoice.user_id == user_id)
    )


def stored_facts(row: Any, time_zone: str) -> InvoiceFacts:
    """A row of :func:`stored_facts_query` as facts; the payment date is the day of
    ``paid_at`` in the account's time zone, as ``mark_paid`` records it."""
    return InvoiceFacts(
        client_email=row.client_email,
        amount_minor=row.amount_minor,
        currency=row.currency,
        issue_date=row.issue_date,
        due_date=row.due_date,
        status=row.status,
        paid_on=local_today(row.paid_at, time_zone) if row.paid_at is not None else None,
        payment_url=row.payment_url,
        notes=row.notes,
    )


def _conditions(user_id: int, filters: InvoiceFilters, today: date) -> list[ColumnElement[bool]]:
    """The filters of ``GET /invoices`` (``invoice_repository.list_page``), condition for
    condition; ``tests/api/test_invoice_export.py`` checks that both select the same."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(Invoice.status == filters.status)
    if filters.client_id is not None:
        conditions.append(Invoice.client_id == filters.client_id)
    if filters.overdue is not None:
        overdue = overdue_condition(today)
        conditions.append(overdue if filters.overdue else not_(overdue))
    if filters.due_before is not None:
        conditions.append(Invoice.due_date < filters.due_before)
    if filters.due_after is not None:
        conditions.append(Invoice.due_date > filters.due_after)
    if filters.q:
        pattern = like_pattern(filters.q)
        client_names = select(Client.id).where(
            Client.user_id == user_id, func.lower(Client.name).like(pattern, escape="\\")
        )
        conditions.append(
            or_(
                func.lower(Invoice.number).like(pattern, escape="\\"),
                func.lower(Invoice.notes).like(pattern, escape="\\"),
                Invoice.client_id.in_(client_names),
            )
        )
    return conditions


def _order(sort: InvoiceSort) -> tuple[Any, Any]:
    """``sort`` as ``GET /invoices`` applies it: the column, then the id, both one way."""
    descending = sort.value.startswith("-")
    column = getattr(Invoice, sort.value.removeprefix("-"))
    if descending:
        return column.desc(), Invoice.id.desc()
    return column.asc(), Invoice.id.asc()
