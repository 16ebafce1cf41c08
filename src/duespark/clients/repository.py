"""Every query about clients. Each one is scoped to an account: a client id alone never
finds anything."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.orm import Session

from duespark.clients.schemas import ClientSort
from duespark.kit.pagination import PageParams
from duespark.kit.search import like_pattern
from duespark.models import Client, Invoice

_ORDER = {
    ClientSort.name: (func.lower(Client.name).asc(), Client.id.asc()),
    ClientSort.name_desc: (func.lower(Client.name).desc(), Client.id.desc()),
    ClientSort.created_at: (Client.created_at.asc(), Client.id.asc()),
    ClientSort.created_at_desc: (Client.created_at.desc(), Client.id.desc()),
}


def get(session: Session, *, user_id: int, client_id: int) -> Client | None:
    return session.scalar(select(Client).where(Client.id == client_id, Client.user_id == user_id))


def list_page(
    session: Session, *, user_id: int, q: str | None, sort: ClientSort, page: PageParams
) -> tuple[list[Client], int]:
    query: Select[tuple[Client]] = select(Client).where(Client.user_id == user_id)
    if q:
        pattern = like_pattern(q)
        query = query.where(
            or_(
                func.lower(Client.name).like(pattern, escape="\\"),
                func.lower(Client.email).like(pattern, escape="\\"),
                func.lower(func.coalesce(Client.contact_name, "")).like(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*_ORDER[sort]).limit(page.limit).offset(page.offset))
    return list(rows), total


def add(session: Session, client: Client) -> None:
    session.add(client)
    session.flush()


def delete_with_invoices(session: Session, client: Client) -> None:
    session.execute(sa_delete(Invoice).where(Invoice.client_id == client.id))
    session.delete(client)
    session.flush()


def count_invoices(session: Session, *, client_id: int, statuses: tuple[str, ...]) -> int:
    query = select(func.count()).where(Invoice.client_id == client_id, Invoice.status.in_(statuses))
    return session.scalar(query) or 0
