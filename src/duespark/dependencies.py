"""Request-scoped dependencies shared by every router: the session, settings and `now`.

The session dependency is the HTTP transaction edge. It runs with ``scope="function"`` so
the commit happens before the response is sent: a commit that fails becomes an error
response instead of a 200 for data that was never stored.

The dependencies that only read a value are ``async def``: FastAPI runs a plain ``def``
dependency in its thread pool, and a round trip to a worker thread costs more than the
value it would fetch (``docs/benchmarks.md``, the API benchmark).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from duespark import clock
from duespark.config import Settings
from duespark.db import Database


async def get_database(request: Request) -> Database:
    return request.app.state.database


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work: committed when the endpoint succeeds, else rolled back.

    Opening a session does no I/O (the connection is taken on first use), so only the
    end needs a worker thread, and gets one hop for commit-or-rollback and close together.
    The hop is shielded: a client that hangs up mid-request must not leave the session's
    transaction open."""
    database: Database = request.app.state.database
    session = database.sessions()
    succeeded = False
    try:
        yield session
        succeeded = True
    finally:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_finish, session, succeeded)


def _finish(session: Session, succeeded: bool) -> None:
    try:
        if succeeded:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_now() -> datetime:
    return clock.utc_now()


async def get_client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
NowDep = Annotated[datetime, Depends(get_now)]
ClientAddressDep = Annotated[str, Depends(get_client_address)]
