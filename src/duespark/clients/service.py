"""Client use cases. Services flush, never commit; every lookup is scoped to the account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from duespark.clients import repository as client_repository
from duespark.clients.schemas import ClientCreate, ClientSort, ClientUpdate
from duespark.errors import Conflict, NotFound
from duespark.kit.pagination import PageParams
from duespark.models import Client, User

OPEN_STATUSES = ("draft", "open")


def get_client(session: Session, user: User, client_id: int) -> Client:
    """The account's client, or NotFound: another account's client does not exist here."""
    client = client_repository.get(session, user_id=user.id, client_id=client_id)
    if client is None:
        raise NotFound("Client not found.")
    return client


def list_clients(
    session: Session, user: User, *, q: str | None, sort: ClientSort, page: PageParams
) -> tuple[list[Client], int]:
    return client_repository.list_page(session, user_id=user.id, q=q, sort=sort, page=page)


def create_client(session: Session, user: User, *, data: ClientCreate, now: datetime) -> Client:
    client = Client(user_id=user.id, created_at=now, updated_at=now, **data.model_dump())
    client_repository.add(session, client)
    return client


def update_client(
    session: Session, user: User, client_id: int, *, data: ClientUpdate, now: datetime
) -> Client:
    client = get_client(session, user, client_id)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(client, field, value)
    client.updated_at = now
    session.flush()
    return client


def delete_client(session: Session, user: User, client_id: int) -> None:
    """Delete a client with no open or draft invoices; its paid and void history goes too."""
    client = get_client(session, user, client_id)
    open_count = client_repository.count_invoices(
        session, client_id=client.id, statuses=OPEN_STATUSES
    )
    if open_count:
        raise Conflict(
            f"This client has {open_count} open or draft invoice"
            f"{'s' if open_count != 1 else ''}; mark them paid or void them first."
        )
    client_repository.delete_with_invoices(session, client)
