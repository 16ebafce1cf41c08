"""Account settings (``/app/settings/account``): the profile and the password.

The profile form calls ``auth.service.update_profile`` with the API's ``UserUpdate`` (the
name may not be blank; a blank business name clears it). The password form calls
``auth.service.change_password``: the same checks as ``POST /auth/change-password`` (the
current password, the password policy). A change raises the account's ``token_version``,
which ends every session of the account, this browser's too, so this browser gets a fresh
session at once; the API token pair the service issues is retired, as at login, because
the browser holds a session instead. Passwords are never sent back to the browser.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from duespark.auth import service as auth_service
from duespark.auth.schemas import PasswordChange, UserUpdate
from duespark.dependencies import NowDep, SessionDep, SettingsDep
from duespark.errors import DueSparkError
from duespark.models import User
from duespark.web import sessions
from duespark.web.cookies import SESSION_COOKIE, set_cookie
from duespark.web.dependencies import PageUser, SignedInForm
from duespark.web.flash import set_flash
from duespark.web.forms import FormState, attempt, savepoint, validate
from duespark.web.pages import page_router
from duespark.web.templating import render

router = page_router()

ACCOUNT_PATH = "/app/settings/account"
PROFILE_FIELDS = ("name", "business_name", "time_zone")
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_again")
PASSWORDS_DIFFER = "The two new passwords are not the same."


@router.get(ACCOUNT_PATH)
def account_page(request: Request, user: PageUser) -> HTMLResponse:
    return _page(request, user, profile=_profile_values(user))


@router.post(ACCOUNT_PATH + "/profile")
def update_profile(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, PROFILE_FIELDS)
    payload = form.payload(required=("name", "time_zone"), keep_blank=("business_name",))
    data = validate(UserUpdate, payload, form)
    if data is not None:
        attempt(
            session, form, lambda: auth_service.update_profile(session, user, data=data, now=now)
        )
    if form.failed:
        return _page(request, user, profile=form, status_code=form.status_code)
    response = RedirectResponse(ACCOUNT_PATH, status_code=303)
    set_flash(response, settings, "Profile saved.")
    return response


@router.post(ACCOUNT_PATH + "/password")
def change_password(
    request: Request,
    user: PageUser,
    form_data: SignedInForm,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    form = FormState.read(form_data, PASSWORD_FIELDS)
    payload = form.payload(required=PASSWORD_FIELDS)
    again = payload.pop("new_password_again", None)
    data = validate(PasswordChange, payload, form)
    if data is not None and again is not None and again != data.new_password:
        form.add_error("new_password_again", PASSWORDS_DIFFER)
    try:
        if not form.failed and data is not None:
            with savepoint(session):
                pair = auth_service.change_password(
                    session,
                    user,
                    current_password=data.current_password,
                    new_password=data.new_password,
                    settings=settings,
                    now=now,
                )
    except DueSparkError as error:
        form.refuse(error)
    if form.failed:
        form.values.update(dict.fromkeys(PASSWORD_FIELDS, ""))
        return _page(
            request, user, profile=_profile_values(user), password=form,
            status_code=form.status_code,
        )  # fmt: skip
    # The browser keeps a session, not the API token pair the service started.
    auth_service.logout(session, refresh_token=pair.refresh_token, now=now)
    sessions.log_out(session, request.cookies.get(SESSION_COOKIE), now=now)
    signed_in = sessions.start(session, user, settings=settings, now=now)
    response = RedirectResponse(ACCOUNT_PATH, status_code=303)
    set_cookie(
        response, settings, SESSION_COOKIE, signed_in.token, max_age=signed_in.max_age_seconds
    )
    set_flash(response, settings, "Password changed. Every other session has been logged out.")
    return response


def _profile_values(user: User) -> FormState:
    return FormState(
        values={"name": user.name, "business_name": user.business_name, "time_zone": user.time_zone}
    )


def _page(
    request: Request,
    user: User,
    *,
    profile: FormState,
    password: FormState | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "settings/account.html",
        {
            "active": "settings",
            "section": "account",
            "title": "Account settings",
            "profile": profile,
            "password": password or FormState(values=dict.fromkeys(PASSWORD_FIELDS, "")),
            "email": user.email,
        },
        status_code=status_code,
    )
