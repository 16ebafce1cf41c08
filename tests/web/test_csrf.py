"""Every form that changes something is refused (403, nothing changed) without this
site's token for this browser's session, or when the browser says it comes from
another site. The signed-in forms are found by walking the app's page routes, so a new
form is forged here as soon as it exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duespark.app import create_app
from duespark.db import Database
from duespark.models import Client, Invoice, LoginFailure, User, WebSession
from tests.api.test_authentication_required import everything, fill
from tests.conftest import make_settings
from tests.web.helpers import (
    ACCOUNT,
    CLIENT,
    create_client,
    create_invoice,
    csrf_token,
    html,
    log_in,
    sign_up,
    token,
)
from tests.web.test_sign_in_required import page_endpoints


def counts(database: Database) -> dict[str, Any]:
    with database.session_scope() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (User, Client, Invoice, LoginFailure)
        } | {
            "live_sessions": session.scalar(
                select(func.count()).select_from(WebSession).where(WebSession.revoked_at.is_(None))
            ),
            "invoices": [
                (i.status, i.notes) for i in session.scalars(select(Invoice).order_by(Invoice.id))
            ],
        }


def assert_refused(response: Any) -> None:
    assert response.status_code == 403, response.text
    page = html(response)
    assert page.find("h1").text == "Not allowed"
    assert "did not come from this site" in page.by_id("main").text


# What a forger would post to each form (the path's ids are the victim's); a form not
# listed is posted empty, which the token check must refuse all the same.
FORGED_DATA: dict[str, dict[str, str]] = {
    "/app/clients/new": {**CLIENT, "name": "Forged Ltd"},
    "/app/clients/{client_id}/edit": {**CLIENT, "name": "Forged Ltd"},
    "/app/clients/{client_id}/pause": {"until": ""},
    "/app/invoices/{invoice_id}/edit": {"notes": "forged"},
    "/app/settings/account/profile": {"name": "Forged", "business_name": "Forged Ltd"},
    "/app/settings/account/password": {
        "current_password": ACCOUNT["password"],
        "new_password": "a-forged-new-password",
        "new_password_again": "a-forged-new-password",
    },
}


def signed_in_forms(client_id: int, invoice_id: int) -> list[tuple[str, dict[str, str]]]:
    """Every signed-in form of the app (every POST page route), with what to post."""
    ids = {"client_id": client_id, "invoice_id": invoice_id}
    app = create_app(make_settings("sqlite://"))
    forms = [
        (fill(endpoint, ids), FORGED_DATA.get(endpoint.path, {}))
        for (method, _), endpoint in sorted(page_endpoints(app).items())
        if method == "POST"
    ]
    assert len(forms) >= 20, forms  # the walk found the forms, not a handful of them
    return forms


@pytest.fixture
def victim(web: TestClient) -> tuple[int, int]:
    sign_up(web)
    client_id = create_client(web)
    return client_id, create_invoice(web, client_id)


def test_forms_without_a_token_or_with_a_wrong_one_change_nothing(
    web: TestClient, database: Database, victim: tuple[int, int]
) -> None:
    before = everything(database)
    good = token(web)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    for url, data in signed_in_forms(*victim):
        for forged in [{}, {"csrf_token": ""}, {"csrf_token": wrong}, {"csrf_token": "x" * 500}]:
            assert_refused(web.post(url, data={**data, **forged}))
    assert everything(database) == before
    assert web.get("/app").status_code == 200  # still logged in: logout was refused too


def test_another_sessions_token_is_refused(
    web: TestClient, browser: Callable[[], TestClient], database: Database, victim: tuple[int, int]
) -> None:
    attacker = browser()
    sign_up(attacker, email="mallory@example.com", name="Mallory")
    attackers_token = token(attacker)
    before = counts(database)
    for url, data in signed_in_forms(*victim):
        assert_refused(web.post(url, data={**data, "csrf_token": attackers_token}))
    assert counts(database) == before


def test_a_token_of_an_ended_session_is_refused(
    web: TestClient, database: Database, victim: tuple[int, int]
) -> None:
    """Logging in again starts a new session; forms rendered for the old one are stale."""
    old = token(web)
    web.cookies.clear()
    assert log_in(web).status_code == 303
    assert token(web) != old
    before = counts(database)
    assert_refused(web.post("/app/clients/new", data={**CLIENT, "csrf_token": old}))
    assert counts(database) == before


def test_a_cross_origin_post_is_refused_even_with_the_token(
    web: TestClient, database: Database, victim: tuple[int, int]
) -> None:
    good = token(web)
    before = counts(database)
    for url, data in signed_in_forms(*victim):
        for headers in [
            {"Origin": "https://evil.example"},
            {"Origin": "http://testserver.evil.example"},
            {"Origin": "http://testserver:8080"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ]:
            assert_refused(web.post(url, data={**data, "csrf_token": good}, headers=headers))
    assert counts(database) == before
    # The same post from this site's own pages goes through.
    same = web.post(
        "/app/clients/new",
        data={**CLIENT, "csrf_token": good},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status_code == 303


def test_the_login_and_sign_up_forms_need_the_pre_session_token(
    web: TestClient, browser: Callable[[], TestClient], database: Database
) -> None:
    sign_up(web)
    visitor = browser()
    login_form = visitor.get("/app/login")
    assert "duespark_presession" in visitor.cookies
    good = csrf_token(login_form)
    before = counts(database)
    credentials = {"email": ACCOUNT["email"], "password": ACCOUNT["password"]}
    signup = {**ACCOUNT, "email": "new@example.com"}
    for url, data in [("/app/login", credentials), ("/app/signup", signup)]:
        assert_refused(visitor.post(url, data=data))
        assert_refused(visitor.post(url, data={**data, "csrf_token": good[::-1]}))
        assert_refused(
            visitor.post(
                url, data={**data, "csrf_token": good}, headers={"Origin": "https://evil.example"}
            )
        )
        # A token without the cookie it was made for (another browser's): refused.
        stranger = browser()
        assert_refused(stranger.post(url, data={**data, "csrf_token": good}))
    assert counts(database) == before
    assert "duespark_session" not in visitor.cookies
    # The genuine form still works.
    assert visitor.post("/app/login", data={**credentials, "csrf_token": good}).status_code == 303


def test_a_signed_in_pages_token_does_not_pass_for_the_login_form(web: TestClient) -> None:
    """Tokens are bound to their purpose: a session's token is not a pre-session token."""
    sign_up(web)
    session_token = token(web)
    web.cookies.set("duespark_presession", web.cookies["duespark_session"])
    response = web.post(
        "/app/signup",
        data={**ACCOUNT, "email": "other@example.com", "csrf_token": session_token},
    )
    assert_refused(response)
