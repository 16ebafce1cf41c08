"""Every cookie the web pages set, with the same flags: HttpOnly (no script reads it),
SameSite=Lax (not sent on cross-site form posts), Path=/, and Secure in production (never
sent over plain HTTP)."""

from __future__ import annotations

from starlette.responses import Response

from duespark.config import Environment, Settings

SESSION_COOKIE = "duespark_session"
PRESESSION_COOKIE = "duespark_presession"
FLASH_COOKIE = "duespark_flash"


def set_cookie(
    response: Response, settings: Settings, name: str, value: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.env is Environment.production,
    )


def delete_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.env is Environment.production,
    )
