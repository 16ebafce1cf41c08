"""One JSON error shape everywhere, the right status for each kind of bad request, never
a 500, and nothing written by a refused write."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from duespark.auth.tokens import Keyring
from duespark.config import Settings
from tests.factories import PASSWORD, auth_headers, create_client, create_invoice

LIMIT = 1_000_000
ERROR_KEYS = {"code", "message", "field", "errors"}
JSON = {"content-type": "application/json"}
NEW_CLIENT = {"name": "N", "email": "n@x.example", "time_zone": "UTC", "default_currency": "EUR"}


def assert_error(
    response: httpx2.Response, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is ``{"error": {...}}`` with ``status``, ``code`` and, if given, ``field``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) <= ERROR_KEYS and {"code", "message"} <= set(error), error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    for item in error.get("errors", []):
        assert set(item) == {"field", "message"}, item
    if field is not None:
        assert error["field"] == field, error
    return error


@pytest.fixture
def account(api: TestClient) -> dict[str, Any]:
    headers = auth_headers(api)
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"])
    return {"headers": headers, "client": client, "invoice": invoice}


def stored(api: TestClient, headers: dict[str, str]) -> Any:
    """What the account can see; compared before and after a refused write."""
    pages = [api.get(url, headers=headers) for url in ("/auth/me", "/clients", "/invoices")]
    assert all(page.status_code == 200 for page in pages)
    return [page.json() for page in pages]


def url_for(account: dict[str, Any], url: str) -> str:
    return url.format(client=account["client"]["id"], invoice=account["invoice"]["id"])


def writes(account: dict[str, Any]) -> list[tuple[str, str]]:
    client_id, invoice_id = account["client"]["id"], account["invoice"]["id"]
    return [
        ("POST", "/clients"),
        ("PATCH", f"/clients/{client_id}"),
        ("POST", "/invoices"),
        ("PATCH", f"/invoices/{invoice_id}"),
        ("POST", f"/invoices/{invoice_id}/mark-paid"),
        ("PATCH", "/auth/me"),
    ]


MALFORMED = {
    "syntax": b'{"name": "x",',
    "trailing comma": b'{"name": "x",}',
    "two documents": b'{"a": 1}{"b": 2}',
    "not utf-8": b'{"name": "\xff"}',
    "too deep": b"[" * 100_000 + b"]" * 100_000,
    "huge integer": b'{"client_id": 1' + b"0" * 5_000 + b"}",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_json_is_400(api: TestClient, account: dict[str, Any], body: bytes) -> None:
    headers = {**account["headers"], **JSON}
    before = stored(api, account["headers"])
    for method, url in writes(account):
        assert_error(api.request(method, url, content=body, headers=headers), 400, "malformed_json")
    assert stored(api, account["headers"]) == before


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/clients", {"name": 5}, "name"),
        ("/clients", {"name": "Acme", "email": ["a@b.example"]}, "email"),
        ("/invoices", {"amount": 1250.0}, "amount"),
        ("/invoices", {"due_date": "next tuesday"}, "due_date"),
        ("/invoices", {"client_id": "one"}, "client_id"),
        ("/invoices", {"status": "paid"}, "status"),
        ("/invoices", {"payment_url": "javascript:alert(1)"}, "payment_url"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    api: TestClient, account: dict[str, Any], url: str, body: dict[str, Any], field: str
) -> None:
    invoice = {"client_id": account["client"]["id"], "number": "T-1", "amount": "1.00"}
    valid = {"/clients": NEW_CLIENT, "/invoices": {**invoice, "due_date": "2026-12-01"}}[url]
    before = stored(api, account["headers"])
    error = assert_error(
        api.post(url, json={**valid, **body}, headers=account["headers"]),
        422,
        "invalid_input",
        field,
    )
    assert [item["field"] for item in error["errors"]] == [field]
    assert stored(api, account["headers"]) == before


def oversized(size: int) -> bytes:
    """A well-formed JSON body of ``size`` bytes, so only its size can be wrong."""
    prefix = b'{"name": "N", "notes": "'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


def chunked(body: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """Sent without Content-Length: httpx uses Transfer-Encoding: chunked for an iterator."""
    for start in range(0, len(body), chunk):
        yield body[start : start + chunk]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_the_limit_is_413(api: TestClient, account: dict[str, Any], framing: str) -> None:
    headers = {**account["headers"], **JSON}
    before = stored(api, account["headers"])
    for method, url in writes(account):
        body = oversized(LIMIT + 1)
        content = body if framing == "content-length" else chunked(body)
        assert_error(
            api.request(method, url, content=content, headers=headers), 413, "payload_too_large"
        )
    # At the limit the body reaches validation: the 413 is about size, not about the body.
    for content in (oversized(LIMIT), chunked(oversized(LIMIT))):
        response = api.post("/clients", content=content, headers=headers)
        assert_error(response, 422, "invalid_input")
    assert stored(api, account["headers"]) == before


def post_raw_asgi(app: Any, path: str, chunks: list[bytes]) -> tuple[int, bytes]:
    """Send a body with neither Content-Length nor Transfer-Encoding, as an HTTP/2 server
    does, straight through the ASGI interface."""
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "2",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_body_without_any_length_header_is_limited_too(api: TestClient) -> None:
    body = oversized(LIMIT + 1)
    status, content = post_raw_asgi(api.app, "/clients", list(chunked(body)))
    assert status == 413, content
    assert httpx2.Response(413, content=content).json()["error"]["code"] == "payload_too_large"
    # Under the limit the same path reaches the application (here: no token, so 401).
    status, _ = post_raw_asgi(api.app, "/clients", list(chunked(oversized(1000))))
    assert status == 401


UNKNOWN = "unknown field"
REFUSED_FIELDS = [
    # Unknown fields (extra="forbid"): nothing a client sends is silently dropped.
    ("POST", "/clients", {**NEW_CLIENT, "owner_id": 1}, "owner_id", UNKNOWN),
    ("PATCH", "/clients/{client}", {"user_id": 2}, "user_id", UNKNOWN),
    ("PATCH", "/invoices/{invoice}", {"amount_minor": 1}, "amount_minor", UNKNOWN),
    ("POST", "/invoices/{invoice}/mark-paid", {"paid": True}, "paid", UNKNOWN),
    ("PATCH", "/auth/me", {"email": "mallory@example.com"}, "email", UNKNOWN),
    ("PATCH", "/auth/me", {"token_version": 99}, "token_version", UNKNOWN),
    # Huge strings: refused by length, never stored or passed to a slow validator.
    ("POST", "/clients", {**NEW_CLIENT, "name": "x" * 100_000}, "name", None),
    ("PATCH", "/clients/{client}", {"notes": "x" * 900_000}, "notes", None),
    ("PATCH", "/clients/{client}", {"email": "a" * 50_000 + "@x.example"}, "email", None),
    ("PATCH", "/invoices/{invoice}", {"number": "N" * 10_000}, "number", None),
    ("PATCH", "/invoices/{invoice}", {"amount": "9" * 10_000}, "amount", None),
    (
        "PATCH",
        "/invoices/{invoice}",
        {"payment_url": "https://x.example/" + "p" * 9_000},
        "payment_url",
        None,
    ),
    ("PATCH", "/auth/me", {"time_zone": "Europe/" + "x" * 10_000}, "time_zone", None),
    (
        "POST",
        "/auth/register",
        {"email": "e@x.example", "password": "p" * 100_000},
        "password",
        None,
    ),
]


@pytest.mark.parametrize(("method", "url", "body", "field", "message"), REFUSED_FIELDS)
def test_unknown_fields_and_huge_strings_are_422_naming_the_field(
    api: TestClient,
    account: dict[str, Any],
    method: str,
    url: str,
    body: Any,
    field: str,
    message: str | None,
) -> None:
    before = stored(api, account["headers"])
    response = api.request(method, url_for(account, url), json=body, headers=account["headers"])
    error = assert_error(response, 422, "invalid_input")
    assert field in {item["field"] for item in error["errors"]}
    if message is not None:
        assert {"field": field, "message": message} in error["errors"]
    assert stored(api, account["headers"]) == before


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", "1e3", str(2**31), str(2**63)])
def test_path_ids_that_are_not_valid_ids_are_422(
    api: TestClient, account: dict[str, Any], bad_id: str
) -> None:
    before = stored(api, account["headers"])
    for method, url, body in [
        ("GET", "/clients/{}", None),
        ("PATCH", "/clients/{}", {"notes": "n"}),
        ("DELETE", "/clients/{}", None),
        ("GET", "/invoices/{}", None),
        ("PATCH", "/invoices/{}", {"notes": "n"}),
        ("DELETE", "/invoices/{}", None),
        ("POST", "/invoices/{}/mark-paid", None),
        ("POST", "/invoices/{}/void", None),
        ("POST", "/invoices/{}/reopen", None),
    ]:
        response = api.request(method, url.format(bad_id), json=body, headers=account["headers"])
        field = "client_id" if url.startswith("/clients") else "invoice_id"
        assert_error(response, 422, "invalid_input", field)
    assert stored(api, account["headers"]) == before


@pytest.mark.parametrize("authenticated", [True, False])
def test_unknown_route_is_404_in_the_same_shape(
    api: TestClient, account: dict[str, Any], authenticated: bool
) -> None:
    headers = account["headers"] if authenticated else {}
    invoice_id = account["invoice"]["id"]
    for url in ["/nope", "/clients/1/nope", f"/invoices/{invoice_id}/pay", "/api/clients"]:
        assert_error(api.get(url, headers=headers), 404, "not_found")
        assert_error(api.post(url, json={}, headers=headers), 404, "not_found")


def test_wrong_method_is_405_in_the_same_shape(api: TestClient, account: dict[str, Any]) -> None:
    invoice_id = account["invoice"]["id"]
    before = stored(api, account["headers"])
    for method, url, allowed in [
        ("PUT", "/clients", {"GET", "POST"}),
        ("DELETE", "/invoices", {"GET", "POST"}),
        ("PUT", f"/invoices/{invoice_id}", {"GET", "PATCH", "DELETE"}),
        ("GET", f"/invoices/{invoice_id}/void", {"POST"}),
        ("GET", "/auth/login", {"POST"}),
    ]:
        response = api.request(method, url, json={}, headers=account["headers"])
        assert_error(response, 405, "method_not_allowed")
        assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed
    assert stored(api, account["headers"]) == before


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_garbage_or_expired_tokens_are_401(
    api: TestClient, account: dict[str, Any], settings: Settings
) -> None:
    me = api.get("/auth/me", headers=account["headers"]).json()
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    expired = Keyring.from_settings(settings).issue_access_token(
        user_id=me["id"], token_version=1, now=hour_ago, lifetime=timedelta(minutes=15)
    )
    foreign = Keyring("another-secret-key-0123456789-abcdefghijklmno", []).issue_access_token(
        user_id=me["id"], token_version=1, now=datetime.now(UTC), lifetime=timedelta(minutes=15)
    )
    before = stored(api, account["headers"])
    attempts: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRhOnNlY3JldA=="},
        bearer("garbage"),
        bearer("a" * 5_000),
        bearer("eyJhbGciOiJub25lIn0.e30."),
        bearer(expired),
        bearer(foreign),
    ]
    for headers in attempts:
        for method, url, body in [
            ("GET", "/clients", None),
            ("POST", "/clients", NEW_CLIENT),
            ("PATCH", f"/invoices/{account['invoice']['id']}", {"notes": "changed"}),
            ("GET", "/auth/me", None),
        ]:
            response = api.request(method, url, json=body, headers=headers)
            assert_error(response, 401, "not_authenticated")
            assert response.headers["www-authenticate"] == "Bearer"
    assert stored(api, account["headers"]) == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/clients?limit=0", "limit"),
        ("/clients?limit=201", "limit"),
        ("/clients?limit=ten", "limit"),
        ("/clients?offset=-1", "offset"),
        ("/clients?sort=email", "sort"),
        ("/clients?q=" + "x" * 201, "q"),
        ("/invoices?limit=201", "limit"),
        ("/invoices?offset=-1", "offset"),
        ("/invoices?status=overdue", "status"),
        ("/invoices?sort=amount", "sort"),
        ("/invoices?overdue=maybe", "overdue"),
        ("/invoices?client_id=0", "client_id"),
        (f"/invoices?client_id={2**63}", "client_id"),
        ("/invoices?due_before=2026-13-01", "due_before"),
        ("/invoices?due_after=0001-01-01", "due_after"),
    ],
)
def test_bad_query_parameters_are_422(
    api: TestClient, account: dict[str, Any], url: str, field: str
) -> None:
    assert_error(api.get(url, headers=account["headers"]), 422, "invalid_input", field)


def test_limit_bounds_are_inclusive(api: TestClient, account: dict[str, Any]) -> None:
    for url in ["/clients?limit=1", "/clients?limit=200", "/invoices?limit=200&offset=0"]:
        response = api.get(url, headers=account["headers"])
        assert response.status_code == 200, response.text


def test_throttled_login_is_429_with_retry_after(api: TestClient) -> None:
    auth_headers(api)
    form = {"username": "ada@example.com", "password": "not the password"}
    for _ in range(5):
        assert_error(api.post("/auth/login", data=form), 401, "not_authenticated")
    for password in ["not the password", PASSWORD]:
        response = api.post("/auth/login", data={**form, "password": password})
        assert_error(response, 429, "too_many_requests")
        assert 0 < int(response.headers["retry-after"]) <= 15 * 60


def test_nul_characters_never_answer_500(api: TestClient, account: dict[str, Any]) -> None:
    """PostgreSQL refuses NUL in any text parameter; SQLite stores it. Fields and searches
    refuse it on both; a login with it is refused without a 500."""
    before = stored(api, account["headers"])
    for method, url, body in [
        ("POST", "/clients", {**NEW_CLIENT, "name": "A\x00B"}),
        ("PATCH", f"/clients/{account['client']['id']}", {"notes": "a\x00b"}),
        ("PATCH", f"/invoices/{account['invoice']['id']}", {"notes": "a\x00b"}),
        ("PATCH", "/auth/me", {"name": "A\x00B"}),
    ]:
        response = api.request(method, url, json=body, headers=account["headers"])
        assert_error(response, 422, "invalid_input")
    for url in ["/clients?q=a%00b", "/invoices?q=a%00b"]:
        assert_error(api.get(url, headers=account["headers"]), 422, "invalid_input", "q")
    login = api.post("/auth/login", data={"username": "ada\x00@example.com", "password": "x"})
    assert login.status_code in {401, 422}, login.text
    assert_error(login, login.status_code, login.json()["error"]["code"])
    assert stored(api, account["headers"]) == before


def test_paid_at_out_of_range_is_422(api: TestClient, account: dict[str, Any]) -> None:
    before = stored(api, account["headers"])
    for paid_at in ["0001-01-01T00:00:00+14:00", "0001-01-01T12:00:00+00:00"]:
        response = api.post(
            f"/invoices/{account['invoice']['id']}/mark-paid",
            json={"paid_at": paid_at},
            headers=account["headers"],
        )
        assert_error(response, 422, "invalid_input", "paid_at")
    assert stored(api, account["headers"]) == before
