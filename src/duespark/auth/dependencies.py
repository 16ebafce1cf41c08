"""``CurrentUser``: the account a request's bearer token speaks for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from duespark.auth import service as auth_service
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.errors import NotAuthenticated
from duespark.models import User

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /auth/login.")


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("Missing bearer token.")
    return auth_service.authenticate(
        session, access_token=credentials.credentials, settings=settings, now=now
    )


CurrentUser = Annotated[User, Depends(get_current_user)]
