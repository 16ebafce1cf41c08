"""Account settings: the profile, and the password, whose change ends every other
session (browsers and API tokens) while this browser carries on in a fresh one."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.db import Database
from duespark.models import User, WebSession
from tests.factories import PASSWORD
from tests.web.helpers import (
    ACCOUNT,
    field_error,
    field_value,
    flash,
    html,
    log_in,
    sign_up,
    submit,
)

NEW_PASSWORD = "a brand new passphrase for ada"


def profile(database: Database) -> dict[str, Any]:
    with database.session_scope() as session:
        user = session.scalar(select(User))
        assert user is not None
        return {
            "name": user.name,
            "business_name": user.business_name,
            "time_zone": user.time_zone,
            "token_version": user.token_version,
        }


def change(web: TestClient, **overrides: str) -> Any:
    form = {
        "current_password": PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
        **overrides,
    }
    return submit(web, "/app/settings/account/password", form)


def test_the_profile_is_shown_and_saved(web: TestClient, database: Database) -> None:
    sign_up(web)
    page = html(web.get("/app/settings/account"))
    assert field_value(page, "name") == "Ada Lovelace"
    assert field_value(page, "time_zone") == "Europe/London"
    assert "You log in as ada@example.com." in page.by_id("main").text
    saved = submit(
        web,
        "/app/settings/account/profile",
        {"name": "Ada King", "business_name": "", "time_zone": "Europe/Paris"},
    )
    assert saved.status_code == 303
    assert profile(database) | {"token_version": 1} == {
        "name": "Ada King",
        "business_name": "",
        "time_zone": "Europe/Paris",
        "token_version": 1,
    }
    page = html(web.get("/app/settings/account"))
    assert flash(page) == "Profile saved."
    assert field_value(page, "name") == "Ada King"


def test_profile_errors_are_next_to_their_fields(web: TestClient, database: Database) -> None:
    sign_up(web)
    before = profile(database)
    response = submit(
        web,
        "/app/settings/account/profile",
        {"name": " ", "business_name": "Engines", "time_zone": "Mars/Olympus"},
    )
    assert response.status_code == 422
    page = html(response)
    assert field_error(page, "name") is not None
    assert "time zone" in (field_error(page, "time_zone") or "").lower()
    assert field_value(page, "time_zone") == "Mars/Olympus"
    assert field_value(page, "business_name") == "Engines"
    assert profile(database) == before


def test_a_profile_name_is_escaped(web: TestClient) -> None:
    sign_up(web)
    hostile = "<script>alert(1)</script> {{ 7*7 }}"
    submit(
        web,
        "/app/settings/account/profile",
        {"name": hostile, "business_name": "", "time_zone": "UTC"},
    )
    response = web.get("/app/settings/account")
    assert "<script>alert(1)</script>" not in response.text
    assert field_value(html(response), "name") == hostile


def test_password_errors_change_nothing_and_are_never_sent_back(
    web: TestClient, browser: Any, database: Database
) -> None:
    sign_up(web)
    wrong = change(web, current_password="not my password at all")
    assert wrong.status_code == 422
    page = html(wrong)
    assert field_error(page, "current_password") == "Current password is incorrect."
    assert all(field_value(page, name) == "" for name in ("current_password", "new_password"))
    assert NEW_PASSWORD not in wrong.text
    differ = html(change(web, new_password_again="a different passphrase"))
    assert field_error(differ, "new_password_again") == "The two new passwords are not the same."
    weak = change(web, new_password="password", new_password_again="password")
    assert weak.status_code == 422
    assert field_error(html(weak), "new_password") is not None
    missing = html(change(web, current_password=""))
    assert field_error(missing, "current_password") == "Required."
    assert profile(database)["token_version"] == 1
    assert log_in(browser(), ACCOUNT["email"], PASSWORD).status_code == 303


def test_changing_the_password_logs_out_everywhere_else(
    web: TestClient, browser: Any, database: Database
) -> None:
    sign_up(web)
    laptop = browser()
    assert log_in(laptop).status_code == 303
    api_token = web.post(
        "/auth/login", data={"username": ACCOUNT["email"], "password": PASSWORD}
    ).json()["access_token"]
    old_cookie = web.cookies.get("duespark_session")
    response = change(web)
    assert response.status_code == 303
    new_cookie = response.cookies.get("duespark_session")
    assert new_cookie and new_cookie != old_cookie
    # This browser carries on, in its new session.
    page = html(web.get("/app/settings/account"))
    assert flash(page) == "Password changed. Every other session has been logged out."
    # Everywhere else is logged out: the other browser, the old cookie, the API token.
    assert laptop.get("/app").status_code == 303
    replay = browser()
    replay.cookies.set("duespark_session", old_cookie)
    assert replay.get("/app").status_code == 303
    me = web.get("/auth/me", headers={"Authorization": f"Bearer {api_token}"})
    assert me.status_code == 401
    # The new password works; the old one does not.
    assert log_in(browser(), ACCOUNT["email"], NEW_PASSWORD).status_code == 303
    assert log_in(browser(), ACCOUNT["email"], PASSWORD).status_code == 422
    with database.session_scope() as session:
        live = session.scalars(select(WebSession).where(WebSession.revoked_at.is_(None))).all()
        user = session.scalar(select(User))
        assert user is not None and user.token_version == 2
        assert sum(row.token_version == 2 for row in live) == 2  # this browser and the new login


def test_account_forms_need_this_sites_token(web: TestClient, database: Database) -> None:
    sign_up(web)
    before = profile(database)
    for url, form in [
        ("/app/settings/account/profile", {"name": "Forged", "time_zone": "UTC"}),
        (
            "/app/settings/account/password",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        ),
    ]:
        response = web.post(url, data={**form, "csrf_token": "forged"})
        assert response.status_code == 403, url
    assert profile(database) == before
