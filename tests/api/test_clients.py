"""/clients: create, read, update, delete, list; validation that writes nothing; isolation.

Every refusal is followed by a read that proves nothing was stored or changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from tests.factories import auth_headers, create_client, create_invoice

Headers = dict[str, str]


def assert_error(response: Response, status: int, code: str, field: str | None = None) -> str:
    """The one error shape; returns the message for further checks."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "field", "errors"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error["message"]


def client_list(api: TestClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = api.get("/clients", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def names(api: TestClient, headers: Headers, **params: Any) -> list[str]:
    return [client["name"] for client in client_list(api, headers, **params)["items"]]


# ── create and read ───────────────────────────────────────────────────────────────────────


def test_create_read_and_list_a_client(api: TestClient) -> None:
    headers = auth_headers(api)
    created = create_client(
        api,
        headers,
        name="  Initech  ",
        email="Billing@Initech.Example",
        contact_name="Bill Lumbergh",
        time_zone="America/Chicago",
        locale="en-US",
        default_currency="USD",
        notes="Net 30.\nPO required.",
        reminders_paused_until="2026-12-01",
    )
    assert created["name"] == "Initech"
    assert created["email"] == "billing@initech.example"
    assert created["contact_name"] == "Bill Lumbergh"
    assert created["time_zone"] == "America/Chicago"
    assert created["locale"] == "en-US"
    assert created["default_currency"] == "USD"
    assert created["notes"] == "Net 30.\nPO required."
    assert created["reminders_paused_until"] == "2026-12-01"
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].endswith(("Z", "+00:00"))
    assert api.get(f"/clients/{created['id']}", headers=headers).json() == created
    assert client_list(api, headers) == {"items": [created], "total": 1, "limit": 50, "offset": 0}


def test_optional_fields_have_defaults(api: TestClient) -> None:
    headers = auth_headers(api)
    body = {"name": "Hooli", "email": "ap@hooli.example", "time_zone": "UTC"}
    response = api.post("/clients", json={**body, "default_currency": "EUR"}, headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["contact_name"], created["locale"], created["notes"]) == (None, "en", "")
    assert created["reminders_paused_until"] is None


def test_required_fields_are_all_reported(api: TestClient) -> None:
    headers = auth_headers(api)
    response = api.post("/clients", json={}, headers=headers)
    assert_error(response, 422, "invalid_input")
    missing = {error["field"] for error in response.json()["error"]["errors"]}
    assert missing == {"name", "email", "time_zone", "default_currency"}


BAD_CLIENTS: list[tuple[dict[str, Any], str]] = [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": "europe/london"}, "time_zone"),
    ({"time_zone": "localtime"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"time_zone": None}, "time_zone"),
    ({"default_currency": "eur"}, "default_currency"),
    ({"default_currency": "XYZ"}, "default_currency"),
    ({"default_currency": "DEM"}, "default_currency"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 250 + "@example.com"}, "email"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "x" * 100_000}, "name"),
    ({"name": 42}, "name"),
    ({"name": ["Globex"]}, "name"),
    ({"name": "Glo\u0000bex"}, "name"),
    ({"contact_name": "Hank\nScorpio"}, "contact_name"),
    ({"notes": "n" * 10_001}, "notes"),
    ({"notes": "a\u0000b"}, "notes"),
    ({"locale": "english"}, "locale"),
    ({"reminders_paused_until": "2026-02-30"}, "reminders_paused_until"),
    ({"reminders_paused_until": 1_767_225_600}, "reminders_paused_until"),
    ({"reminders_paused_until": "tomorrow"}, "reminders_paused_until"),
    ({"user_id": 2}, "user_id"),
    ({"id": 7}, "id"),
    ({"nickname": "Globby"}, "nickname"),
]


@pytest.mark.parametrize(("overrides", "field"), BAD_CLIENTS, ids=lambda v: str(v)[:40])
def test_bad_client_is_refused_and_not_stored(
    api: TestClient, overrides: dict[str, Any], field: str
) -> None:
    headers = auth_headers(api)
    body = {
        "name": "Globex",
        "email": "ap@globex.example",
        "time_zone": "Europe/Paris",
        "default_currency": "EUR",
        **overrides,
    }
    assert_error(api.post("/clients", json=body, headers=headers), 422, "invalid_input", field)
    assert client_list(api, headers)["total"] == 0


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b'{"name": "Globex",', 400, "malformed_json"),
        (b"[]", 422, "invalid_input"),
        (b"null", 422, "invalid_input"),
        (b'"Globex"', 422, "invalid_input"),
        (b"", 422, "invalid_input"),
    ],
)
def test_a_body_that_is_not_a_client_object(
    api: TestClient, content: bytes, status: int, code: str
) -> None:
    headers = {**auth_headers(api), "Content-Type": "application/json"}
    assert_error(api.post("/clients", content=content, headers=headers), status, code)
    assert client_list(api, headers)["total"] == 0


def test_a_body_over_the_size_limit_is_refused_before_parsing(api: TestClient) -> None:
    headers = auth_headers(api)
    body = {"name": "Globex", "email": "ap@globex.example", "time_zone": "UTC"}
    body |= {"default_currency": "EUR", "notes": "n" * 2_000_000}
    assert_error(api.post("/clients", json=body, headers=headers), 413, "payload_too_large")
    assert client_list(api, headers)["total"] == 0


@pytest.mark.parametrize("client_id", ["0", "-1", "abc", "1.5", str(2**31), str(10**30)])
def test_a_malformed_id_is_a_422(api: TestClient, client_id: str) -> None:
    headers = auth_headers(api)
    assert_error(api.get(f"/clients/{client_id}", headers=headers), 422, "invalid_input")


def test_an_unknown_id_is_a_404(api: TestClient) -> None:
    headers = auth_headers(api)
    assert_error(api.get("/clients/4242", headers=headers), 404, "not_found")
    assert_error(api.patch("/clients/4242", json={}, headers=headers), 404, "not_found")
    assert_error(api.delete("/clients/4242", headers=headers), 404, "not_found")


def test_clients_need_a_token(api: TestClient) -> None:
    assert_error(api.get("/clients"), 401, "not_authenticated")
    body = {"name": "X", "email": "x@x.example", "time_zone": "UTC", "default_currency": "EUR"}
    assert_error(api.post("/clients", json=body), 401, "not_authenticated")


# ── update ────────────────────────────────────────────────────────────────────────────────


def test_patch_changes_only_the_fields_given(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers, notes="keep me")
    response = api.patch(
        f"/clients/{client['id']}",
        json={"name": " Globex Intl ", "time_zone": "Asia/Tokyo", "reminders_paused_until": None},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Globex Intl"
    assert updated["time_zone"] == "Asia/Tokyo"
    unchanged = ("email", "contact_name", "locale", "default_currency", "notes", "created_at")
    assert {key: updated[key] for key in unchanged} == {key: client[key] for key in unchanged}
    assert updated["updated_at"] >= client["updated_at"]
    assert api.get(f"/clients/{client['id']}", headers=headers).json() == updated


def test_patch_can_set_and_clear_nullable_fields(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    url = f"/clients/{client['id']}"
    paused = api.patch(url, json={"reminders_paused_until": "2027-01-15"}, headers=headers)
    assert paused.json()["reminders_paused_until"] == "2027-01-15"
    cleared = api.patch(
        url, json={"reminders_paused_until": None, "contact_name": None}, headers=headers
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["reminders_paused_until"] is None
    assert cleared.json()["contact_name"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        *[
            ({key: None}, key)
            for key in ("name", "email", "time_zone", "locale", "default_currency", "notes")
        ],
        ({"time_zone": "Not/AZone"}, "time_zone"),
        ({"default_currency": "usd"}, "default_currency"),
        ({"email": "nope"}, "email"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"name": "Valid New Name", "time_zone": "Bad/Zone"}, "time_zone"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_patch_changes_nothing(api: TestClient, change: dict[str, Any], field: str) -> None:
    """Including the valid half of a half-valid patch: a request lands whole or not at all."""
    headers = auth_headers(api)
    client = create_client(api, headers)
    url = f"/clients/{client['id']}"
    assert_error(api.patch(url, json=change, headers=headers), 422, "invalid_input", field)
    assert api.get(url, headers=headers).json() == client


# ── list: search, sort, pages ─────────────────────────────────────────────────────────────


def test_search_matches_name_email_and_contact_case_insensitively(api: TestClient) -> None:
    headers = auth_headers(api)
    create_client(api, headers, name="Globex", email="ap@globex.example", contact_name="Hank")
    create_client(api, headers, name="Initech", email="bills@initech.example", contact_name=None)
    create_client(api, headers, name="Umbrella", email="pay@umbrella.example", contact_name="Ada")
    create_client(api, headers, name="Hooli", email="ap@hooli.example", notes="globex spin-off")
    assert names(api, headers, q="GLOBEX") == ["Globex"]  # notes are not searched
    assert names(api, headers, q="bills@") == ["Initech"]
    assert names(api, headers, q="ada") == ["Umbrella"]
    assert names(api, headers, q="ap@") == ["Globex", "Hooli"]
    assert client_list(api, headers, q="nobody")["total"] == 0


def test_search_takes_like_wildcards_literally(api: TestClient) -> None:
    headers = auth_headers(api)
    for name in ["100% Organic", "100 Percent", "snake_case Ltd", "snakeXcase Ltd", "Back\\slash"]:
        create_client(api, headers, name=name)
    assert names(api, headers, q="100%") == ["100% Organic"]
    assert names(api, headers, q="e_c") == ["snake_case Ltd"]
    assert names(api, headers, q="%") == ["100% Organic"]
    assert names(api, headers, q="k\\s") == ["Back\\slash"]


def test_sort_orders(api: TestClient) -> None:
    headers = auth_headers(api)
    for name in ["bravo", "Alpha", "charlie"]:
        create_client(api, headers, name=name)
    assert names(api, headers) == ["Alpha", "bravo", "charlie"]  # by name, ignoring case
    assert names(api, headers, sort="-name") == ["charlie", "bravo", "Alpha"]
    assert names(api, headers, sort="created_at") == ["bravo", "Alpha", "charlie"]
    assert names(api, headers, sort="-created_at") == ["charlie", "Alpha", "bravo"]


def test_limit_and_offset(api: TestClient) -> None:
    headers = auth_headers(api)
    for letter in "abcde":
        create_client(api, headers, name=f"Client {letter}")
    page = client_list(api, headers, limit=2, offset=1)
    assert [c["name"] for c in page["items"]] == ["Client b", "Client c"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    beyond = client_list(api, headers, limit=2, offset=10)
    assert (beyond["items"], beyond["total"]) == ([], 5)
    assert client_list(api, headers, limit=200)["limit"] == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),  # refused, not silently capped
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "email"}, "sort"),
        ({"q": "q" * 201}, "q"),
        ({"q": "glo\x00bex"}, "q"),
    ],
)
def test_bad_list_parameters_are_a_422(api: TestClient, params: dict[str, Any], field: str) -> None:
    headers = auth_headers(api)
    response = api.get("/clients", params=params, headers=headers)
    assert_error(response, 422, "invalid_input", field)


# ── delete ────────────────────────────────────────────────────────────────────────────────


def test_delete_a_client(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    response = api.delete(f"/clients/{client['id']}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(f"/clients/{client['id']}", headers=headers), 404, "not_found")
    assert_error(api.delete(f"/clients/{client['id']}", headers=headers), 404, "not_found")
    assert client_list(api, headers)["total"] == 0


@pytest.mark.parametrize("status", ["open", "draft"])
def test_deleting_a_client_with_open_invoices_is_a_409(api: TestClient, status: str) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"], status=status)
    create_invoice(api, headers, client["id"], status=status)
    message = assert_error(api.delete(f"/clients/{client['id']}", headers=headers), 409, "conflict")
    assert "2 open or draft invoices" in message
    assert api.get(f"/clients/{client['id']}", headers=headers).json() == client
    assert api.get(f"/invoices/{invoice['id']}", headers=headers).status_code == 200


def test_deleting_a_client_takes_its_paid_and_void_history(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    other = create_client(api, headers, name="Initech")
    paid = create_invoice(api, headers, client["id"])
    assert api.post(f"/invoices/{paid['id']}/mark-paid", headers=headers).status_code == 200
    void = create_invoice(api, headers, client["id"])
    assert api.post(f"/invoices/{void['id']}/void", headers=headers).status_code == 200
    kept = create_invoice(api, headers, other["id"])
    assert api.delete(f"/clients/{client['id']}", headers=headers).status_code == 204
    for gone in (paid, void):
        assert_error(api.get(f"/invoices/{gone['id']}", headers=headers), 404, "not_found")
    remaining = api.get("/invoices", headers=headers).json()
    assert [invoice["id"] for invoice in remaining["items"]] == [kept["id"]]


# ── another account ───────────────────────────────────────────────────────────────────────


def test_another_accounts_client_does_not_exist_here(api: TestClient) -> None:
    ada = auth_headers(api)
    bob = auth_headers(api, email="bob@example.com")
    client = create_client(api, ada)
    url = f"/clients/{client['id']}"
    assert_error(api.get(url, headers=bob), 404, "not_found")
    assert_error(api.patch(url, json={"name": "Mine now"}, headers=bob), 404, "not_found")
    assert_error(api.delete(url, headers=bob), 404, "not_found")
    assert client_list(api, bob)["total"] == 0
    assert client_list(api, bob, q="Globex")["total"] == 0
    assert api.get(url, headers=ada).json() == client


def test_the_same_client_details_may_exist_in_two_accounts(api: TestClient) -> None:
    ada = auth_headers(api)
    bob = auth_headers(api, email="bob@example.com")
    first, second = create_client(api, ada), create_client(api, bob)
    assert first["id"] != second["id"]
    assert [c["id"] for c in client_list(api, ada)["items"]] == [first["id"]]
    assert [c["id"] for c in client_list(api, bob)["items"]] == [second["id"]]


def test_search_folds_case_beyond_ascii(api: TestClient) -> None:
    """Both databases find "Émile Zoë" when searched as "émile zoë" (and the reverse)."""
    headers = auth_headers(api)
    create_client(api, headers, name="Émile Zoë SARL", email="emile@example.fr")
    create_client(api, headers, name="ÖZTÜRK GMBH", email="o@example.de")
    for query, expected in [("émile zoë", "Émile Zoë SARL"), ("öztürk", "ÖZTÜRK GMBH")]:
        found = api.get("/clients", params={"q": query}, headers=headers).json()["items"]
        assert [client["name"] for client in found] == [expected]
