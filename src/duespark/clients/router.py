"""JSON endpoints under /clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from duespark.auth.dependencies import CurrentUser
from duespark.clients import service as client_service
from duespark.clients.schemas import ClientCreate, ClientRead, ClientSort, ClientUpdate
from duespark.dependencies import NowDep, SessionDep
from duespark.idempotency import service as idempotency
from duespark.idempotency.dependencies import IdempotencyKeyHeader
from duespark.kit.pagination import Page, PageParams, ResourceId, page_params
from duespark.kit.search import SearchText
from duespark.models import Client

router = APIRouter(prefix="/clients", tags=["clients"])

NOT_FOUND = {404: {"description": "No such client in this account"}}


@router.get("", response_model=Page[ClientRead])
def list_clients(
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[SearchText | None, Query(description="Search name, email and contact.")] = None,
    sort: ClientSort = ClientSort.name,
) -> Page[ClientRead]:
    clients, total = client_service.list_clients(session, user, q=q, sort=sort, page=page)
    return Page[ClientRead](
        items=[ClientRead.model_validate(client) for client in clients],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientRead)
def create_client(
    data: ClientCreate,
    user: CurrentUser,
    session: SessionDep,
    now: NowDep,
    request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
) -> ClientRead:
    return idempotency.run_once(
        session,
        user_id=user.id,
        key=idempotency_key,
        scope="POST /clients",
        fingerprint=idempotency.request_hash(request.url.path, data),
        status_code=status.HTTP_201_CREATED,
        operation=lambda: ClientRead.model_validate(
            client_service.create_client(session, user, data=data, now=now)
        ),
        now=now,
    )


@router.get("/{client_id}", response_model=ClientRead, responses=NOT_FOUND)
def read_client(client_id: ResourceId, user: CurrentUser, session: SessionDep) -> Client:
    return client_service.get_client(session, user, client_id)


@router.patch("/{client_id}", response_model=ClientRead, responses=NOT_FOUND)
def update_client(
    client_id: ResourceId, data: ClientUpdate, user: CurrentUser, session: SessionDep, now: NowDep
) -> Client:
    return client_service.update_client(session, user, client_id, data=data, now=now)


@router.delete(
    "/{client_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, 409: {"description": "The client has open invoices"}},
)
def delete_client(client_id: ResourceId, user: CurrentUser, session: SessionDep) -> Response:
    client_service.delete_client(session, user, client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
