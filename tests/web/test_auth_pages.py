"""Sign up, log in and log out through the pages, and the session cookie behind them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select

from duespark.app import create_app
from duespark.auth import service as auth_service
from duespark.db import Database
from duespark.models import LoginFailure, RefreshToken, User, WebSession
from duespark.web.sessions import IDLE_TIMEOUT, hash_token
from tests.conftest import make_settings
from tests.factories import PASSWORD
from tests.factories import login as api_login
from tests.web.helpers import (
    ACCOUNT,
    NOW,
    csrf_token,
    field_error,
    field_value,
    flash,
    html,
    log_in,
    sign_up,
    summary,
    token,
)


def cookie_header(response: Response, name: str) -> str:
    headers = [value for value in response.headers.get_list("set-cookie") if value.startswith(name)]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def count(database: Database, model: type) -> int:
    with database.session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_signing_up_logs_in_and_lands_on_the_home_page(web: TestClient, database: Database) -> None:
    response = sign_up(web)
    assert response.headers["location"] == "/app"
    session_cookie = cookie_header(response, "duespark_session=")
    flags = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax"} <= flags
    assert "secure" not in flags  # development: served over plain HTTP
    home = web.get("/app")
    assert home.status_code == 200
    page = html(home)
    assert flash(page) == "Welcome to DueSpark, Ada Lovelace."
    assert page.find("h1").text == "Dashboard"
    with database.session_scope() as session:
        user = session.scalar(select(User))
        assert user is not None and user.email == ACCOUNT["email"]
        assert user.time_zone == "Europe/London"
        row = session.scalar(select(WebSession))
        assert row is not None and row.user_id == user.id
        # Only the hash is stored: the cookie's value is nowhere in the database.
        token_value = web.cookies["duespark_session"]
        assert row.token_hash == hash_token(token_value) != token_value
        assert row.expires_at == NOW + timedelta(days=30)


def test_cookies_are_secure_in_production(database: Database) -> None:
    settings = make_settings(
        database.url,
        DUESPARK_ENV="production",
        DUESPARK_EMAIL_URL="console:",
        DUESPARK_EMAIL_FROM="reminders@duespark.example",
        DUESPARK_BASE_URL="https://testserver",
    )
    with TestClient(
        create_app(settings, database=database),
        base_url="https://testserver",
        follow_redirects=False,
    ) as browser:
        form = browser.get("/app/signup")
        assert "secure" in cookie_header(form, "duespark_presession=").lower()
        response = browser.post("/app/signup", data={**ACCOUNT, "csrf_token": csrf_token(form)})
        assert response.status_code == 303, response.text
        for name in ("duespark_session=", "duespark_flash="):
            flags = {part.strip().lower() for part in cookie_header(response, name).split(";")}
            assert {"secure", "httponly", "samesite=lax", "path=/"} <= flags
        home = browser.get("/app")
        assert home.status_code == 200
        # Behind HTTPS in production, browsers are also told to insist on HTTPS.
        assert home.headers["strict-transport-security"] == "max-age=31536000"


def test_sign_up_errors_are_shown_next_to_their_fields(web: TestClient, database: Database) -> None:
    form = web.get("/app/signup")
    response = web.post(
        "/app/signup",
        data={
            "email": "not-an-address",
            "password": "short",
            "name": "",
            "business_name": "Engines <Ltd>",
            "time_zone": "Mars/Olympus",
            "csrf_token": csrf_token(form),
        },
    )
    assert response.status_code == 422
    page = html(response)
    assert "valid email address" in (field_error(page, "email") or "")
    assert field_error(page, "name") == "Required."
    assert "IANA time zone" in (field_error(page, "time_zone") or "")
    assert field_error(page, "business_name") is None
    # What was typed comes back (escaped), except the password.
    assert field_value(page, "email") == "not-an-address"
    assert field_value(page, "business_name") == "Engines <Ltd>"
    assert field_value(page, "time_zone") == "Mars/Olympus"
    assert field_value(page, "password") == ""
    assert "short" not in response.text
    assert len(summary(page)) == 3
    assert count(database, User) == 0


def test_a_weak_password_or_a_taken_address_is_refused(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    form = web.get("/app/signup")
    weak = web.post(
        "/app/signup", data={**ACCOUNT, "password": "password123", "csrf_token": csrf_token(form)}
    )
    assert weak.status_code == 422
    assert "commonly used" in (field_error(html(weak), "password") or "")
    assert count(database, User) == 0

    sign_up(web)
    other = browser()
    form = other.get("/app/signup")
    taken = other.post("/app/signup", data={**ACCOUNT, "csrf_token": csrf_token(form)})
    assert taken.status_code == 409
    assert field_error(html(taken), "email") == "An account with this email address already exists."
    assert count(database, User) == 1
    assert count(database, WebSession) == 1


def test_logging_in_with_the_right_password(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    sign_up(web)
    laptop = browser()
    response = log_in(laptop)
    assert response.status_code == 303
    assert response.headers["location"] == "/app"
    assert laptop.get("/app").status_code == 200
    assert count(database, WebSession) == 2
    # The API token pair the login service issues is retired at once: no refresh token
    # is left that nobody holds.
    with database.session_scope() as session:
        live = session.scalar(
            select(func.count()).select_from(RefreshToken).where(RefreshToken.revoked_at.is_(None))
        )
    assert live == 0


def test_a_wrong_password_shows_an_error_and_keeps_the_address(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    sign_up(web)
    laptop = browser()
    response = log_in(laptop, password="not the password at all")
    assert response.status_code == 422
    page = html(response)
    assert "Incorrect email or password." in page.find("div", class_="error-summary").text
    assert field_value(page, "email") == ACCOUNT["email"]
    assert field_value(page, "password") == ""
    assert "duespark_session" not in laptop.cookies
    assert laptop.get("/app").status_code == 303
    assert count(database, LoginFailure) == 1


def test_the_sixth_failure_is_throttled_even_with_the_right_password(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    sign_up(web)
    laptop = browser()
    for _ in range(5):
        assert log_in(laptop, password="wrong password here").status_code == 422
    throttled = log_in(laptop)
    assert throttled.status_code == 429
    # All five failures happened at NOW: the lockout ends 15 minutes later.
    assert throttled.headers["retry-after"] == str(15 * 60)
    assert "Too many failed login attempts" in throttled.text
    assert "duespark_session" not in laptop.cookies
    assert count(database, LoginFailure) == 5  # refused attempts are not counted


def test_the_api_and_the_pages_share_one_throttle(
    web: TestClient, browser: Callable[[], TestClient]
) -> None:
    sign_up(web)
    for _ in range(5):
        failed = web.post("/auth/login", data={"username": ACCOUNT["email"], "password": "nope"})
        assert failed.status_code == 401
    assert log_in(browser()).status_code == 429


def test_pages_send_visitors_without_a_session_to_the_login_page(web: TestClient) -> None:
    for path in ["/app", "/app/clients", "/app/invoices/new", "/app/clients/1/edit"]:
        response = web.get(path)
        assert response.status_code == 303, path
        expected = "/app/login" if path == "/app" else f"/app/login?next={path}"
        assert response.headers["location"] == expected
    assert web.get("/").headers["location"] == "/app"


def test_login_returns_to_the_page_asked_for_and_never_to_another_site(
    web: TestClient, browser: Callable[[], TestClient]
) -> None:
    sign_up(web)
    laptop = browser()
    back = log_in(laptop, next="/app/invoices?status=open")
    assert back.headers["location"] == "/app/invoices?status=open"
    for target in ["https://evil.example/", "//evil.example/app", "/\\evil.example", "/docs"]:
        response = log_in(browser(), next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/app", target


def test_logging_out_revokes_the_session_on_the_server(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    sign_up(web)
    stolen = web.cookies["duespark_session"]
    response = web.post("/app/logout", data={"csrf_token": token(web)})
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login"
    assert "max-age=0" in cookie_header(response, "duespark_session=").lower()
    assert flash(html(web.get("/app/login"))) == "You are logged out."
    # The cookie, replayed from another browser, opens nothing.
    thief = browser()
    thief.cookies.set("duespark_session", stolen)
    assert thief.get("/app").status_code == 303
    assert thief.get("/app/clients").headers["location"] == "/app/login?next=/app/clients"
    with database.session_scope() as session:
        row = session.scalar(select(WebSession))
        assert row is not None and row.revoked_at == NOW


def test_logging_out_everywhere_ends_web_sessions_too(web: TestClient, database: Database) -> None:
    """``auth.service.revoke_sessions`` (``duespark sessions revoke``) and a password change
    raise the account's token version, which every web session was started under."""
    sign_up(web)
    assert web.get("/app").status_code == 200
    with database.session_scope() as session:
        user = session.scalar(select(User))
        assert user is not None
        auth_service.revoke_sessions(session, user, now=NOW)
    assert web.get("/app").status_code == 303

    log_in(web)
    assert web.get("/app").status_code == 200
    access = api_login(web)["access_token"]
    changed = web.post(
        "/auth/change-password",
        json={"current_password": PASSWORD, "new_password": "a different long passphrase"},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert changed.status_code == 200, changed.text
    assert web.get("/app").status_code == 303


def test_an_idle_session_expires(web: TestClient, database: Database) -> None:
    sign_up(web)
    with database.session_scope() as session:
        row = session.scalar(select(WebSession))
        assert row is not None
        row.last_seen_at = NOW - IDLE_TIMEOUT
    assert web.get("/app").status_code == 303


def test_a_signed_in_visitor_skips_the_login_and_sign_up_forms(web: TestClient) -> None:
    sign_up(web)
    assert web.get("/app/login").headers["location"] == "/app"
    assert web.get("/app/signup").headers["location"] == "/app"
    logout = web.get("/app/logout")
    assert logout.status_code == 200
    form = html(logout).by_id("main").find("form", action="/app/logout")
    assert form.find("button").text == "Log out"
