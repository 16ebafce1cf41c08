"""Exporting invoices as CSV: ``GET /invoices/export.csv``.

The file has the columns of ``invoices/csv_format.py``, so it imports again as
"unchanged", and into an empty account as the same invoices (a paid invoice's
``amount_paid`` included, so a part payment survives the move). It is produced while it
is sent: one query iterated on the server side (``yield_per``: a server-side cursor on
PostgreSQL), a batch of rows at a time, so an account with a hundred thousand invoices
costs one batch of memory, not a list of them all.

The file starts with a UTF-8 byte order mark, which spreadsheet programs need to read
non-ASCII text correctly and which the import accepts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from duespark.clock import local_today
from duespark.invoices import repository as invoice_repository
from duespark.invoices.csv_format import BOM, COLUMNS, InvoiceFacts, export_cells
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import InvoiceSort
from duespark.kit.money import format_amount
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
        .where(*invoice_repository.filter_conditions(user_id, filters, today))
        .order_by(*invoice_repository.ordering(sort))
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
            Invoice.amount_paid_minor,
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
        amount_paid_minor=row.amount_paid_minor,
    )
