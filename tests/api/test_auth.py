"""Accounts and authentication through the HTTP API, on both databases."""

from __future__ import annotations

import statistics
import time

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from duespark.auth import passwords
from duespark.db import Database
from duespark.models import LoginFailure, RefreshToken, User
from tests.factories import PASSWORD, auth_headers, login, register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count(database: Database, model: type) -> int:
    with database.session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


class TestRegister:
    def test_creates_an_account(self, api: TestClient) -> None:
        user = register(api, email="Ada@Example.com")
        assert user["email"] == "ada@example.com"
        assert user["time_zone"] == "Europe/London"
        assert "password" not in str(user) and "hash" not in str(user)

    def test_duplicate_email_is_409_whatever_the_case(self, api: TestClient) -> None:
        register(api)
        response = api.post(
            "/auth/register",
            json={"email": "ADA@example.com", "password": PASSWORD, "name": "Other"},
        )
        assert response.status_code == 409
        assert response.json()["error"]["field"] == "email"

    def test_weak_password_is_422_saying_why(self, api: TestClient, database: Database) -> None:
        response = api.post(
            "/auth/register",
            json={"email": "bob@example.com", "password": "password123", "name": "Bob"},
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["field"] == "password"
        assert "commonly used" in error["message"]
        assert count(database, User) == 0

    def test_invalid_time_zone_is_refused_not_defaulted(self, api: TestClient) -> None:
        response = api.post(
            "/auth/register",
            json={
                "email": "bob@example.com",
                "password": PASSWORD,
                "name": "Bob",
                "time_zone": "Mars/Olympus_Mons",
            },
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "time_zone"

    def test_privileged_fields_are_refused(self, api: TestClient) -> None:
        response = api.post(
            "/auth/register",
            json={"email": "bob@example.com", "password": PASSWORD, "name": "B", "is_admin": True},
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "is_admin"


class TestLogin:
    def test_form_login_answers_the_oauth2_shape(self, api: TestClient) -> None:
        register(api)
        tokens = login(api)
        assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token"}
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 15 * 60
        me = api.get("/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 200 and me.json()["email"] == "ada@example.com"

    def test_json_login_is_refused(self, api: TestClient) -> None:
        register(api)
        response = api.post(
            "/auth/login", json={"username": "ada@example.com", "password": PASSWORD}
        )
        assert response.status_code == 422

    def test_unknown_user_and_wrong_password_look_the_same(self, api: TestClient) -> None:
        register(api)
        unknown = api.post("/auth/login", data={"username": "nobody@example.com", "password": "x"})
        wrong = api.post("/auth/login", data={"username": "ada@example.com", "password": "x"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json()
        assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]

    def test_unknown_user_costs_about_as_long_as_a_wrong_password(
        self, api: TestClient, database: Database
    ) -> None:
        """Both run one full Argon2 verification, so their times differ by far less than one.

        Twenty interleaved samples of each (and of a bare verification, the yardstick),
        compared by their medians, so a load spike on a shared machine hits all three
        alike and a single slow sample moves nothing. A path that skipped Argon2 would be
        faster by a whole verification: several times faster than the other."""
        register(api)
        with database.session_scope() as session:
            stored_hash = session.scalar(select(User.password_hash))
        assert stored_hash is not None

        def login_time(username: str) -> float:
            started = time.perf_counter()
            response = api.post("/auth/login", data={"username": username, "password": "wrong"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 401, response.text  # never a (fast) lockout
            # Untimed: forget the failure, so neither lockout (5 per account, 30 per
            # address) starts, whatever the number of samples.
            with database.engine.begin() as connection:
                connection.execute(delete(LoginFailure))
            return elapsed

        def argon2_time() -> float:
            started = time.perf_counter()
            assert not passwords.verify_password(stored_hash, "wrong")
            return time.perf_counter() - started

        samples: dict[str, list[float]] = {"known": [], "unknown": [], "argon2": []}
        measure = {
            "known": lambda: login_time("ada@example.com"),
            "unknown": lambda: login_time("nobody@example.com"),
            "argon2": argon2_time,
        }
        for name in measure:  # warm up: first requests pay for imports and connections
            measure[name]()
        order = list(measure)
        for _ in range(20):
            order = order[1:] + order[:1]  # rotate, so no series always runs first
            for name in order:
                samples[name].append(measure[name]())

        medians = {name: statistics.median(times) for name, times in samples.items()}
        faster, slower = sorted([medians["known"], medians["unknown"]])
        argon2 = medians["argon2"]
        timings = {name: f"{value * 1000:.1f} ms" for name, value in medians.items()}
        # Neither path is cheaper than the other, whichever is the slower...
        assert slower <= 1.5 * faster, timings
        # ...and each pays (most of) one verification, so that is what they compare.
        assert faster >= 0.8 * argon2, timings

    def test_sixth_attempt_within_15_minutes_is_429(
        self, api: TestClient, database: Database
    ) -> None:
        register(api)
        for _ in range(5):
            bad = api.post("/auth/login", data={"username": "ada@example.com", "password": "no"})
            assert bad.status_code == 401
        # Even the right password is refused while the lockout lasts.
        locked = api.post("/auth/login", data={"username": "ada@example.com", "password": PASSWORD})
        assert locked.status_code == 429
        assert 1 <= int(locked.headers["retry-after"]) <= 15 * 60
        assert locked.json()["error"]["code"] == "too_many_requests"
        assert count(database, LoginFailure) == 5  # refused attempts do not extend the lockout

    def test_success_clears_the_failure_count(self, api: TestClient, database: Database) -> None:
        register(api)
        for _ in range(4):
            api.post("/auth/login", data={"username": "ada@example.com", "password": "no"})
        login(api)
        assert count(database, LoginFailure) == 0

    def test_missing_form_fields_are_422(self, api: TestClient) -> None:
        response = api.post("/auth/login", data={"username": "ada@example.com"})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "password"


class TestTokens:
    def test_protected_routes_need_a_token(self, api: TestClient) -> None:
        for path in ("/auth/me", "/clients", "/invoices"):
            response = api.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"

    def test_garbage_token_is_401(self, api: TestClient) -> None:
        assert api.get("/auth/me", headers=bearer("garbage")).status_code == 401

    def test_refresh_rotates_and_reuse_revokes_the_family(self, api: TestClient) -> None:
        register(api)
        first = login(api)
        second = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200
        second_tokens = second.json()
        assert second_tokens["refresh_token"] != first["refresh_token"]
        # The old token again: a replay. It fails, and so does the token that replaced it.
        replay = api.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401
        after = api.post("/auth/refresh", json={"refresh_token": second_tokens["refresh_token"]})
        assert after.status_code == 401

    def test_reuse_revokes_only_that_family(self, api: TestClient) -> None:
        register(api)
        laptop, phone = login(api), login(api)
        api.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
        api.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
        still = api.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert still.status_code == 200

    def test_unknown_refresh_token_is_401(self, api: TestClient) -> None:
        response = api.post("/auth/refresh", json={"refresh_token": "not-a-token"})
        assert response.status_code == 401

    def test_refresh_tokens_are_stored_hashed(self, api: TestClient, database: Database) -> None:
        register(api)
        tokens = login(api)
        with database.session_scope() as session:
            stored = list(session.scalars(select(RefreshToken.token_hash)))
        assert stored and tokens["refresh_token"] not in stored
        assert all(len(value) == 64 for value in stored)

    def test_logout_revokes_the_refresh_token(self, api: TestClient) -> None:
        register(api)
        tokens = login(api)
        response = api.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert response.status_code == 204
        again = api.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert again.status_code == 401


class TestProfile:
    def test_patch_changes_profile_fields(self, api: TestClient) -> None:
        headers = auth_headers(api)
        response = api.patch(
            "/auth/me",
            json={"name": "Ada King", "business_name": "Countess Ltd", "time_zone": "Asia/Tokyo"},
            headers=headers,
        )
        assert response.status_code == 200
        assert response.json()["time_zone"] == "Asia/Tokyo"
        assert api.get("/auth/me", headers=headers).json()["name"] == "Ada King"

    def test_patch_refuses_anything_privileged(self, api: TestClient) -> None:
        headers = auth_headers(api)
        for field, value in [
            ("email", "evil@example.com"),
            ("email_verified", True),
            ("token_version", 99),
            ("password_hash", "x"),
            ("id", 2),
        ]:
            response = api.patch("/auth/me", json={field: value}, headers=headers)
            assert response.status_code == 422, field
            assert response.json()["error"]["field"] == field
        assert api.get("/auth/me", headers=headers).json()["email"] == "ada@example.com"

    def test_patch_refuses_null_and_bad_time_zone(self, api: TestClient) -> None:
        headers = auth_headers(api)
        assert api.patch("/auth/me", json={"name": None}, headers=headers).status_code == 422
        bad = api.patch("/auth/me", json={"time_zone": "UTC+2"}, headers=headers)
        assert bad.status_code == 422
        assert api.get("/auth/me", headers=headers).json()["time_zone"] == "Europe/London"


class TestChangePassword:
    def test_revokes_other_sessions_and_keeps_this_one(self, api: TestClient) -> None:
        register(api)
        other, this = login(api), login(api)
        new_password = "a brand new passphrase"
        response = api.post(
            "/auth/change-password",
            json={"current_password": PASSWORD, "new_password": new_password},
            headers=bearer(this["access_token"]),
        )
        assert response.status_code == 200
        fresh = response.json()
        assert api.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
        # Every earlier access and refresh token is dead.
        assert api.get("/auth/me", headers=bearer(other["access_token"])).status_code == 401
        assert api.get("/auth/me", headers=bearer(this["access_token"])).status_code == 401
        stale = api.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert stale.status_code == 401
        login(api, password=new_password)

    def test_wrong_current_password_changes_nothing(self, api: TestClient) -> None:
        register(api)
        tokens = login(api)
        response = api.post(
            "/auth/change-password",
            json={"current_password": "not it", "new_password": "a brand new passphrase"},
            headers=bearer(tokens["access_token"]),
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "current_password"
        login(api)

    def test_weak_new_password_is_refused(self, api: TestClient) -> None:
        register(api)
        tokens = login(api)
        response = api.post(
            "/auth/change-password",
            json={"current_password": PASSWORD, "new_password": "1234567890"},
            headers=bearer(tokens["access_token"]),
        )
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "new_password"
        assert api.get("/auth/me", headers=bearer(tokens["access_token"])).status_code == 200


class TestKeyRotation:
    def test_tokens_survive_a_rotation_until_the_old_key_is_dropped(
        self, api: TestClient, database: Database
    ) -> None:
        from duespark.app import create_app
        from tests.conftest import TEST_SECRET_KEY, make_settings

        register(api)
        old_token = login(api)["access_token"]
        new_key = "rotated-key-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789"
        rotated = make_settings(
            database.url, SECRET_KEY=new_key, SECRET_KEY_FALLBACKS=TEST_SECRET_KEY
        )
        finished = make_settings(database.url, SECRET_KEY=new_key)
        with TestClient(create_app(rotated, database=database)) as during:
            assert during.get("/auth/me", headers=bearer(old_token)).status_code == 200
        with TestClient(create_app(finished, database=database)) as after:
            assert after.get("/auth/me", headers=bearer(old_token)).status_code == 401


def test_passwords_are_hashed_with_argon2id_at_owasp_minimum(
    api: TestClient, database: Database
) -> None:
    register(api)
    with database.session_scope() as session:
        stored = session.scalar(select(User.password_hash))
    assert stored is not None and stored.startswith("$argon2id$v=19$")
    params = dict(part.split("=") for part in stored.split("$")[3].split(","))
    memory, passes = int(params["m"]), int(params["t"])
    # OWASP: m=19 MiB with t=2, or an equivalent trade of memory for passes.
    assert (memory >= 19_456 and passes >= 2) or (memory >= 47_104 and passes >= 1)


def test_one_address_trying_many_accounts_is_throttled(api: TestClient, database: Database) -> None:
    """The per-address limit: 30 failures across different accounts, then 429."""
    from duespark.auth.throttle import ADDRESS_LIMIT

    for attempt in range(ADDRESS_LIMIT):
        response = api.post(
            "/auth/login", data={"username": f"user{attempt}@example.com", "password": "nope"}
        )
        assert response.status_code == 401
    blocked = api.post("/auth/login", data={"username": "fresh@example.com", "password": "nope"})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert count(database, LoginFailure) == ADDRESS_LIMIT
