"""``Idempotency-Key`` on POST /clients, POST /invoices and mark-paid, in-process.

The concurrent half (50 identical requests at once against a real server) is in
tests/cli/test_idempotency_concurrency.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duespark.clock import utc_now
from duespark.config import Settings
from duespark.db import Database
from duespark.models import Client, IdempotencyKey, Invoice
from tests.api.test_reminders import worker_pass
from tests.factories import auth_headers, create_client, create_invoice

CLIENT = {
    "name": "Initech",
    "email": "ap@initech.example",
    "time_zone": "America/Chicago",
    "default_currency": "USD",
}


def _count(database: Database, model: Any) -> int:
    with database.session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def test_a_retried_create_replays_the_first_answer(api: TestClient, database: Database) -> None:
    headers = auth_headers(api)
    first = api.post("/clients", json=CLIENT, headers=_keyed(headers, "create-initech"))
    again = api.post("/clients", json=CLIENT, headers=_keyed(headers, "create-initech"))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(database, Client) == 1


def test_without_a_key_each_request_creates(api: TestClient, database: Database) -> None:
    headers = auth_headers(api)
    assert api.post("/clients", json=CLIENT, headers=headers).status_code == 201
    assert api.post("/clients", json=CLIENT, headers=headers).status_code == 201
    assert _count(database, Client) == 2


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(
    api: TestClient, database: Database
) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    body = {"client_id": client["id"], "number": "INV-1", "amount": "10.00",
            "issue_date": "2026-10-01", "due_date": "2026-10-31"}  # fmt: skip
    assert api.post("/invoices", json=body, headers=_keyed(headers, "k-1")).status_code == 201

    changed = api.post(
        "/invoices", json={**body, "amount": "99.00"}, headers=_keyed(headers, "k-1")
    )
    assert changed.status_code == 422
    assert changed.json()["error"]["field"] == "Idempotency-Key"
    assert _count(database, Invoice) == 1
    listed = api.get("/invoices", headers=headers).json()["items"]
    assert [item["amount"] for item in listed] == ["10.00"]


def test_keys_belong_to_one_account_and_one_operation(api: TestClient, database: Database) -> None:
    ada = auth_headers(api)
    bob = auth_headers(api, email="bob@example.com")
    assert api.post("/clients", json=CLIENT, headers=_keyed(ada, "shared")).status_code == 201
    bob_client = api.post("/clients", json=CLIENT, headers=_keyed(bob, "shared"))
    assert bob_client.status_code == 201
    assert "Idempotent-Replayed" not in bob_client.headers
    # The same key on another operation is a different key.
    invoice = api.post(
        "/invoices",
        json={
            "client_id": bob_client.json()["id"],
            "number": "B-1",
            "amount": "5.00",
            "issue_date": "2026-10-01",
            "due_date": "2026-10-31",
        },
        headers=_keyed(bob, "shared"),
    )
    assert invoice.status_code == 201
    assert _count(database, Client) == 2


def test_mark_paid_with_a_key_replays_instead_of_refusing(
    api: TestClient, database: Database
) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"])
    other = create_invoice(api, headers, client["id"])
    path = f"/invoices/{invoice['id']}/mark-paid"
    payment = {"paid_at": "2026-11-02", "amount_paid": "1250.00"}

    first = api.post(path, json=payment, headers=_keyed(headers, "pay-1"))
    again = api.post(path, json=payment, headers=_keyed(headers, "pay-1"))
    unkeyed = api.post(path, json=payment, headers=headers)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and first.json()["status"] == "paid"
    assert unkeyed.status_code == 409  # without the key, paying twice is a refused change
    # The same key on another invoice's payment is another request: refused.
    reused = api.post(
        f"/invoices/{other['id']}/mark-paid", json=payment, headers=_keyed(headers, "pay-1")
    )
    assert reused.status_code == 422
    assert api.get(f"/invoices/{other['id']}", headers=headers).json()["status"] == "open"


def test_a_refused_request_stores_nothing_so_its_retry_runs_again(
    api: TestClient, database: Database
) -> None:
    headers = auth_headers(api)
    body = {"client_id": 2_000_000, "number": "X-1", "amount": "1.00",
            "issue_date": "2026-10-01", "due_date": "2026-10-31"}  # fmt: skip
    refused = api.post("/invoices", json=body, headers=_keyed(headers, "retry-me"))
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "client_id"
    assert _count(database, IdempotencyKey) == 0

    client = create_client(api, headers)
    fixed = api.post(
        "/invoices", json={**body, "client_id": client["id"]}, headers=_keyed(headers, "retry-me")
    )
    assert fixed.status_code == 201


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "has space", "tab\there", "ünïcode"],
    ids=["empty", "too-long", "space", "tab", "non-ascii"],
)
def test_malformed_keys_are_refused(api: TestClient, database: Database, key: str) -> None:
    headers = auth_headers(api)
    response = api.post(
        "/clients",
        json=CLIENT,
        headers={**headers, "Idempotency-Key": key.encode()},
    )
    assert response.status_code == 422, response.text
    assert _count(database, Client) == 0


def test_the_worker_forgets_keys_after_their_retention(
    api: TestClient, database: Database, settings: Settings
) -> None:
    headers = auth_headers(api)
    api.post("/clients", json=CLIENT, headers=_keyed(headers, "old"))
    worker_pass(database, settings, now=utc_now() + timedelta(hours=23))
    assert _count(database, IdempotencyKey) == 1
    worker_pass(database, settings, now=utc_now() + timedelta(hours=25))
    assert _count(database, IdempotencyKey) == 0


def test_the_same_key_with_another_client_body_is_refused_and_changes_nothing(
    api: TestClient, database: Database
) -> None:
    headers = auth_headers(api)
    first = api.post("/clients", json=CLIENT, headers=_keyed(headers, "create-1"))
    assert first.status_code == 201, first.text
    before = api.get(f"/clients/{first.json()['id']}", headers=headers).json()

    for changed in [
        {**CLIENT, "name": "Initrode"},
        {**CLIENT, "email": "billing@initech.example"},
        {**CLIENT, "notes": "a field the first request left out"},
    ]:
        refused = api.post("/clients", json=changed, headers=_keyed(headers, "create-1"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "invalid_input"
        assert refused.json()["error"]["field"] == "Idempotency-Key"
        assert "Idempotent-Replayed" not in refused.headers

    assert _count(database, Client) == 1
    assert _count(database, IdempotencyKey) == 1
    listed = api.get("/clients", headers=headers).json()["items"]
    assert [client["id"] for client in listed] == [first.json()["id"]]
    assert api.get(f"/clients/{first.json()['id']}", headers=headers).json() == before
    # The stored request is still the first one: its retry replays, untouched.
    again = api.post("/clients", json=CLIENT, headers=_keyed(headers, "create-1"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize(
    "changed",
    [
        {"paid_at": "2026-11-02", "amount_paid": "1000.00"},
        {"paid_at": "2026-11-03", "amount_paid": "1250.00"},
        {"paid_at": "2026-11-02"},
        None,
    ],
    ids=["other-amount", "other-date", "amount-left-out", "no-body"],
)
def test_mark_paid_with_the_same_key_and_path_but_another_body_is_refused(
    api: TestClient, database: Database, changed: dict[str, str] | None
) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"])
    path = f"/invoices/{invoice['id']}/mark-paid"
    payment = {"paid_at": "2026-11-02", "amount_paid": "1250.00"}
    first = api.post(path, json=payment, headers=_keyed(headers, "pay-1"))
    assert first.status_code == 200, first.text
    paid = api.get(f"/invoices/{invoice['id']}", headers=headers).json()
    activity = api.get(f"/invoices/{invoice['id']}/activity", headers=headers).json()

    if changed is None:
        refused = api.post(path, headers=_keyed(headers, "pay-1"))
    else:
        refused = api.post(path, json=changed, headers=_keyed(headers, "pay-1"))

    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "Idempotency-Key"
    assert "Idempotent-Replayed" not in refused.headers
    after = api.get(f"/invoices/{invoice['id']}", headers=headers).json()
    assert after == paid
    assert (after["status"], after["amount_paid"]) == ("paid", "1250.00")
    assert after["paid_at"] == first.json()["paid_at"]
    assert api.get(f"/invoices/{invoice['id']}/activity", headers=headers).json() == activity
    assert _count(database, IdempotencyKey) == 1
    # The first request, retried, still replays its answer.
    again = api.post(path, json=payment, headers=_keyed(headers, "pay-1"))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
