"""Pages for signing up, logging in and logging out (``/app/signup``, ``/app/login``,
``/app/logout``).

They call the same services as ``/auth/register`` and ``/auth/login``: the same password
policy, the same throttling (5 failures in 15 minutes lock an address out, answered here
with a 429 page and ``Retry-After``), the same failure counting. A refused form is shown
again with status 422 and the email kept; passwords are never sent back to the browser.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from starlette.responses import Response

from duespark.auth import service as auth_service
from duespark.auth.schemas import UserRegister
from duespark.config import Settings
from duespark.dependencies import ClientAddressDep, NowDep, SessionDep, SettingsDep
from duespark.web import sessions
from duespark.web.cookies import PRESESSION_COOKIE, SESSION_COOKIE, delete_cookie, set_cookie
from duespark.web.dependencies import OptionalUser, PageUser, PublicForm, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, validate
from duespark.web.pages import HOME_PATH, LOGIN_PATH, page_router, safe_next
from duespark.web.templating import render

router = page_router()

SIGNUP_FIELDS = ("email", "password", "name", "business_name", "time_zone")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


class LoginForm(BaseModel):
    """The limits of ``POST /auth/login``'s form fields."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=254), AfterValidator(_no_nul)]
    password: Annotated[str, StringConstraints(max_length=1024), AfterValidator(_no_nul)]
    next: str = HOME_PATH


@router.get(LOGIN_PATH)
def login_page(request: Request, user: OptionalUser, next: str = HOME_PATH) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    form = FormState(values={"email": "", "password": "", "next": safe_next(next)})
    return _login_form(request, form)


@router.post(LOGIN_PATH)
def log_in(
    request: Request,
    form_data: PublicForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    address: ClientAddressDep,
) -> Response:
    form = FormState.read(form_data, ("email", "password", "next"))
    form.values["next"] = safe_next(form.values["next"])
    data = validate(LoginForm, form.payload(required=("email", "password")), form)
    form.values["password"] = ""
    if data is None:
        return _login_form(request, form, status_code=422)
    outcome = sessions.log_in(
        session,
        email=data.email,
        password=data.password,
        address=address,
        settings=settings,
        now=now,
    )
    if isinstance(outcome, auth_service.Refusal):
        form.message = outcome.error.message
        status = 429 if outcome.error.status_code == 429 else 422
        return _login_form(request, form, status_code=status, headers=outcome.error.headers)
    # A session already in this browser ends: one browser, one session.
    sessions.log_out(session, request.cookies.get(SESSION_COOKIE), now=now)
    response = RedirectResponse(form.values["next"], status_code=303)
    _start(response, settings, outcome)
    return response


@router.get("/app/signup")
def signup_page(request: Request, user: OptionalUser) -> Response:
    if user is not None:
        return RedirectResponse(HOME_PATH, status_code=303)
    form = FormState(values={name: "" for name in SIGNUP_FIELDS})
    form.values["time_zone"] = "UTC"
    return _signup_form(request, form)


@router.post("/app/signup")
def sign_up(
    request: Request,
    form_data: PublicForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, SIGNUP_FIELDS)
    data = validate(
        UserRegister, form.payload(required=("email", "password", "name", "time_zone")), form
    )
    form.values["password"] = ""
    if data is None:
        return _signup_form(request, form, status_code=422)
    user = attempt(session, form, lambda: auth_service.register(session, data=data, now=now))
    if user is None:
        return _signup_form(request, form, status_code=form.status_code)
    signed_in = sessions.start(session, user, settings=settings, now=now)
    response = RedirectResponse(HOME_PATH, status_code=303)
    _start(response, settings, signed_in)
    set_flash(response, settings, f"Welcome to DueSpark, {user.name}.")
    return response


@router.get("/app/logout")
def logout_page(request: Request, _user: PageUser) -> HTMLResponse:
    """Logging out changes something, so it is a form (POST), never a link."""
    return render(request, "auth/logout.html", {"title": "Log out"})


@router.post("/app/logout")
def log_out(
    request: Request, _form: SignedInForm, session: SessionDep, settings: SettingsDep, now: NowDep
) -> Response:
    sessions.log_out(session, request.cookies.get(SESSION_COOKIE), now=now)
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    delete_cookie(response, settings, SESSION_COOKIE)
    set_flash(response, settings, "You are logged out.")
    return response


def _start(response: Response, settings: Settings, signed_in: sessions.SignedIn) -> None:
    set_cookie(
        response, settings, SESSION_COOKIE, signed_in.token, max_age=signed_in.max_age_seconds
    )
    # The pre-session token protected the login form; the session's token takes over.
    delete_cookie(response, settings, PRESESSION_COOKIE)


def _login_form(
    request: Request,
    form: FormState,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "auth/login.html",
        {"title": "Log in", "form": form},
        status_code=status_code,
        headers=headers,
    )


def _signup_form(request: Request, form: FormState, *, status_code: int = 200) -> HTMLResponse:
    return render(
        request,
        "auth/signup.html",
        {"title": "Sign up", "form": form},
        status_code=status_code,
    )
