"""What a page route declares: the signed-in account, and a form checked for CSRF.

* ``PageUser``: the account of the session cookie; without a valid session the visitor is
  sent to the login page (``LoginRequired``) and the route never runs.
* ``SignedInForm``: the posted form of a signed-in visitor, its CSRF token checked against
  the session (the account is resolved first, so a stale session means "log in again",
  not "forbidden").
* ``PublicForm``: the posted form of the login and sign-up pages, its token checked
  against the pre-session cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.models import User
from duespark.web import csrf, sessions
from duespark.web.cookies import PRESESSION_COOKIE, SESSION_COOKIE
from duespark.web.pages import LoginRequired
from duespark.web.templating import Viewer


def get_optional_user(request: Request, session: SessionDep, now: NowDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    user = sessions.resolve(session, token, now=now)
    if user is not None:
        request.state.session_token = token
        request.state.viewer = Viewer.of(user)
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


def get_page_user(request: Request, user: OptionalUser) -> User:
    if user is None:
        target = request.url.path
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target if request.method == "GET" else "")
    return user


PageUser = Annotated[User, Depends(get_page_user)]


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


def check_signed_in_form(
    request: Request, _user: PageUser, form: FormDep, settings: SettingsDep
) -> FormData:
    csrf.check(
        request,
        settings,
        submitted=form.get(csrf.CSRF_FIELD),
        purpose=csrf.SESSION,
        binding=getattr(request.state, "session_token", None),
    )
    return form


def check_public_form(request: Request, form: FormDep, settings: SettingsDep) -> FormData:
    csrf.check(
        request,
        settings,
        submitted=form.get(csrf.CSRF_FIELD),
        purpose=csrf.PRESESSION,
        binding=request.cookies.get(PRESESSION_COOKIE),
    )
    return form


SignedInForm = Annotated[FormData, Depends(check_signed_in_form)]
PublicForm = Annotated[FormData, Depends(check_public_form)]
