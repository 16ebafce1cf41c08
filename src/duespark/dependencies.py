"""Request-scoped dependencies shared by every router: the session, settings and `now`.

The session dependency is the HTTP transaction edge. It runs with ``scope="function"`` so
the commit happens before the response is sent: a commit that fails becomes an error
response instead of a 200 for data that was never stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from duespark import clock
from duespark.config import Settings
from duespark.db import Database


def get_database(request: Request) -> Database:
    return request.app.state.database


def get_session(request: Request) -> Iterator[Session]:
    with get_database(request).session_scope() as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_now() -> datetime:
    return clock.utc_now()


def get_client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
NowDep = Annotated[datetime, Depends(get_now)]
ClientAddressDep = Annotated[str, Depends(get_client_address)]
