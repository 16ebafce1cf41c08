"""Rows for the invoice tables several pages show (home, a client's page, the invoice
list), and the client choices of their selects. The template is
``templates/invoices/_table.html``."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from duespark.clients import service as client_service
from duespark.clients.schemas import ClientSort
from duespark.invoices.status import InvoiceStatus, days_overdue
from duespark.kit.pagination import MAX_LIMIT, PageParams
from duespark.models import Invoice, User


def client_choices(session: Session, user: User) -> list[tuple[int, str]]:
    """The account's clients for a select, by name (the first ``MAX_LIMIT`` of them)."""
    clients, _ = client_service.list_clients(
        session, user, q=None, sort=ClientSort.name, page=PageParams(limit=MAX_LIMIT, offset=0)
    )
    return [(client.id, client.name) for client in clients]


def invoice_rows(
    session: Session,
    user: User,
    invoices: list[Invoice],
    *,
    today: date,
    names: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Each invoice with its client's name (from ``names``, else looked up) and its days
    overdue ``today``."""
    names = dict(names or {})
    for client_id in {invoice.client_id for invoice in invoices} - set(names):
        names[client_id] = client_service.get_client(session, user, client_id).name
    return [
        {
            "invoice": invoice,
            "client_name": names[invoice.client_id],
            "days_overdue": days_overdue(
                status=InvoiceStatus(invoice.status), due_date=invoice.due_date, today=today
            ),
        }
        for invoice in invoices
    ]
