"""Every query about invoices, always scoped to one account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from duespark.invoices.schemas import InvoiceSort
from duespark.kit.pagination import PageParams
from duespark.kit.search import like_pattern
from duespark.models import Client, Invoice


@dataclass(frozen=True)
class InvoiceFilters:
    status: str | None = None
    client_id: int | None = None
    overdue: bool | None = None
    due_before: date | None = None
    due_after: date | None = None
    q: str | None = None


_ORDER = {
    InvoiceSort.due_date: (Invoice.due_date.asc(), Invoice.id.asc()),
    InvoiceSort.due_date_desc: (Invoice.due_date.desc(), Invoice.id.desc()),
    InvoiceSort.issue_date: (Invoice.issue_date.asc(), Invoice.id.asc()),
    InvoiceSort.issue_date_desc: (Invoice.issue_date.desc(), Invoice.id.desc()),
    InvoiceSort.number: (Invoice.number.asc(), Invoice.id.asc()),
    InvoiceSort.number_desc: (Invoice.number.desc(), Invoice.id.desc()),
    InvoiceSort.created_at: (Invoice.created_at.asc(), Invoice.id.asc()),
    InvoiceSort.created_at_desc: (Invoice.created_at.desc(), Invoice.id.desc()),
}


def get(session: Session, *, user_id: int, invoice_id: int) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(Invoice.id == invoice_id, Invoice.user_id == user_id)
    )


def number_taken(
    session: Session, *, user_id: int, number: str, except_id: int | None = None
) -> bool:
    query = select(Invoice.id).where(Invoice.user_id == user_id, Invoice.number == number)
    if except_id is not None:
        query = query.where(Invoice.id != except_id)
    return session.scalar(query.limit(1)) is not None


def overdue_condition(today: date) -> ColumnElement[bool]:
    return and_(Invoice.status == "open", Invoice.due_date < today)


def filter_conditions(
    user_id: int, filters: InvoiceFilters, today: date
) -> list[ColumnElement[bool]]:
    """The account's invoices matching ``filters`` ("overdue" judged on ``today``), as the
    list, its pages and the CSV export all select them."""
    conditions: list[ColumnElement[bool]] = [Invoice.user_id == user_id]
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


def ordering(sort: InvoiceSort) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
    """``sort`` as the list applies it: the column, then the id, both the same way."""
    return _ORDER[sort]


def list_page(
    session: Session,
    *,
    user_id: int,
    filters: InvoiceFilters,
    today: date,
    sort: InvoiceSort,
    page: PageParams,
) -> tuple[list[Invoice], int]:
    where = and_(*filter_conditions(user_id, filters, today))
    total = session.scalar(select(func.count()).select_from(Invoice).where(where)) or 0
    query = select(Invoice).where(where).order_by(*ordering(sort))
    rows = session.scalars(query.limit(page.limit).offset(page.offset))
    return list(rows), total


def add(session: Session, invoice: Invoice) -> None:
    session.add(invoice)
    session.flush()


def delete(session: Session, invoice: Invoice) -> None:
    session.delete(invoice)
    session.flush()
