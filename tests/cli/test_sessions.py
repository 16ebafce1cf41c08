"""``duespark sessions revoke`` through the real command, on both databases.

The app runs in-process on the same database, so the test sees the effect the way a
running server would: on the very next request.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from duespark.auth import repository as auth_repository
from duespark.clock import utc_now
from duespark.db import Database
from duespark.web import sessions as web_sessions
from tests.cli.conftest import base_environ, run_cli
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.factories import login, register


def revoke(database: Database, cwd: Path, *args: str) -> tuple[int, str, str]:
    environ = base_environ(DATABASE_URL=database.url, SECRET_KEY=TEST_SECRET_KEY)
    result = run_cli("sessions", "revoke", *args, env=environ, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


def works(api: TestClient, pair: dict[str, str]) -> tuple[bool, bool]:
    """(access token accepted, refresh token accepted). Refreshing spends the token, so
    callers check a session once."""
    me = api.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    refreshed = api.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    return me.status_code == 200, refreshed.status_code == 200


@pytest.fixture
def sessions(api: TestClient, database: Database) -> dict[str, list[dict[str, str]]]:
    """Ada has two API sessions (laptop and phone), Bob one. Each also has one browser
    session, and Ada a second one she logged out of, which no longer counts."""
    register(api, email="ada@example.com")
    register(api, email="bob@example.com", name="Bob")
    api_sessions = {
        "ada": [login(api, "ada@example.com"), login(api, "ada@example.com")],
        "bob": [login(api, "bob@example.com")],
    }
    settings = make_settings(database.url)
    now = utc_now()
    with database.session_scope() as session:
        for email in ("ada@example.com", "bob@example.com"):
            user = auth_repository.get_user_by_email(session, email)
            assert user is not None
            cookie = web_sessions.start(session, user, settings=settings, now=now).token
            api_sessions[email.split("@")[0] + " browser"] = [{"cookie": cookie}]
        ada = auth_repository.get_user_by_email(session, "ada@example.com")
        assert ada is not None
        ended = web_sessions.start(session, ada, settings=settings, now=now).token
        web_sessions.log_out(session, ended, now=now)
    return api_sessions


def browser_works(database: Database, sessions: dict, who: str) -> bool:
    with database.session_scope() as session:
        cookie = sessions[f"{who} browser"][0]["cookie"]
        return web_sessions.resolve(session, cookie, now=utc_now()) is not None


def test_revoking_one_user_logs_out_only_them(
    api: TestClient, database: Database, sessions: dict, tmp_path: Path
) -> None:
    code, out, err = revoke(database, tmp_path, "--user", "Ada@Example.com")
    assert code == 0, err
    assert "Revoked 2 API session(s) and 1 browser session(s) of ada@example.com" in out
    assert [works(api, pair) for pair in sessions["ada"]] == [(False, False), (False, False)]
    assert works(api, sessions["bob"][0]) == (True, True)
    assert not browser_works(database, sessions, "ada")
    assert browser_works(database, sessions, "bob")
    # A new login works at once: revoking sessions is not locking the account.
    assert works(api, login(api, "ada@example.com")) == (True, True)


def test_revoking_everyone(
    api: TestClient, database: Database, sessions: dict, tmp_path: Path
) -> None:
    bob = api.post("/auth/refresh", json={"refresh_token": sessions["bob"][0]["refresh_token"]})
    code, out, err = revoke(database, tmp_path, "--all")
    assert code == 0, err
    # Bob's refresh rotated his session but it is still one session: 3 in all.
    assert "Revoked 3 API session(s) and 2 browser session(s); all 2 user(s) must" in out
    assert [works(api, pair) for pair in sessions["ada"]] == [(False, False), (False, False)]
    assert works(api, bob.json()) == (False, False)
    assert not browser_works(database, sessions, "bob")
    code, out, _ = revoke(database, tmp_path, "--all")
    assert code == 0 and "Revoked 0 API session(s) and 0 browser session(s)" in out


@pytest.mark.parametrize("args", [[], ["--all", "--user", "ada@example.com"]])
def test_neither_or_both_options_is_bad_usage(
    args: list[str], api: TestClient, database: Database, sessions: dict, tmp_path: Path
) -> None:
    code, _, err = revoke(database, tmp_path, *args)
    assert code == 2 and "exactly one of --all or --user" in err
    assert works(api, sessions["ada"][0]) == (True, True)


def test_an_unknown_user_is_an_error_and_changes_nothing(
    api: TestClient, database: Database, sessions: dict, tmp_path: Path
) -> None:
    code, _, err = revoke(database, tmp_path, "--user", "nobody@example.com")
    assert code == 1 and "no user" in err
    assert works(api, sessions["bob"][0]) == (True, True)
