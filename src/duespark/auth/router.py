"""JSON endpoints under /auth."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from duespark.auth import service as auth_service
from duespark.auth.dependencies import CurrentUser
from duespark.auth.schemas import (
    PasswordChange,
    RefreshRequest,
    TokenPair,
    UserRead,
    UserRegister,
    UserUpdate,
)
from duespark.auth.tokens import Keyring
from duespark.dependencies import ClientAddressDep, NowDep, SessionDep, SettingsDep
from duespark.exception_handlers import error_response
from duespark.models import User

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserRead)
def register(data: UserRegister, session: SessionDep, now: NowDep) -> User:
    """Create an account. The password must be at least 10 characters and not a common one."""
    return auth_service.register(session, data=data, now=now)


@router.post(
    "/login",
    response_model=TokenPair,
    responses={
        401: {"description": "Incorrect email or password"},
        429: {"description": "Throttled"},
    },
)
def login(
    username: Annotated[
        str,
        Form(max_length=254, pattern=r"^[^\x00]*$", description="The account's email address."),
    ],
    password: Annotated[str, Form(max_length=1024, pattern=r"^[^\x00]*$")],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    address: ClientAddressDep,
) -> TokenPair | JSONResponse:
    """OAuth2 password flow: a form-encoded ``username`` (the email) and ``password``."""
    outcome = auth_service.login(
        session, email=username, password=password, address=address, settings=settings, now=now
    )
    if isinstance(outcome, auth_service.Refusal):
        return error_response(outcome.error)
    return outcome


@router.post("/refresh", response_model=TokenPair, responses={401: {"description": "Refused"}})
def refresh(
    data: RefreshRequest, session: SessionDep, settings: SettingsDep, now: NowDep
) -> TokenPair | JSONResponse:
    """Exchange a refresh token for a new pair. Each refresh token works once."""
    outcome = auth_service.refresh(
        session, refresh_token=data.refresh_token, settings=settings, now=now
    )
    if isinstance(outcome, auth_service.Refusal):
        return error_response(outcome.error)
    return outcome


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(data: RefreshRequest, session: SessionDep, now: NowDep) -> Response:
    """End the session a refresh token belongs to."""
    auth_service.logout(session, refresh_token=data.refresh_token, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=UserRead)
def read_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserRead)
def update_me(data: UserUpdate, user: CurrentUser, session: SessionDep, now: NowDep) -> User:
    """Change profile fields: name, business name, time zone."""
    return auth_service.update_profile(session, user, data=data, now=now)


@router.post("/change-password", response_model=TokenPair)
def change_password(
    data: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenPair:
    """Set a new password. Every other session is logged out; the answer is a new pair for
    this one."""
    return auth_service.change_password(
        session,
        user,
        current_password=data.current_password,
        new_password=data.new_password,
        settings=settings,
        now=now,
    )


class KeyIds(BaseModel):
    signing_key_id: str
    accepted_key_ids: list[str]


@router.get("/keys", response_model=KeyIds)
def key_ids(settings: SettingsDep, response: Response) -> KeyIds:
    """The ids of the key this instance signs with and of every key it accepts.

    Public on purpose: during a key rotation the operator asks every instance (``duespark
    keys status --url``) whether it accepts the new key before any instance signs with it.
    An id is a truncated hash of the key and reveals nothing an issued token does not.
    """
    keyring = Keyring.from_settings(settings)
    response.headers["Cache-Control"] = "no-store"
    return KeyIds(signing_key_id=keyring.signing_key_id, accepted_key_ids=keyring.verifying_key_ids)
