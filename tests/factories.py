"""Plain functions that make things through the public API, with overridable defaults."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from duespark.models import Client, User

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def register(api: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "name": "Ada Lovelace",
        "business_name": "Analytical Engines Ltd",
        "time_zone": "Europe/London",
        **overrides,
    }
    response = api.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def login(
    api: TestClient, email: str = "ada@example.com", password: str = PASSWORD
) -> dict[str, Any]:
    response = api.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def auth_headers(
    api: TestClient, email: str = "ada@example.com", **overrides: Any
) -> dict[str, str]:
    """Register an account and return the Authorization header of a fresh login."""
    register(api, email=email, **overrides)
    return {"Authorization": f"Bearer {login(api, email)['access_token']}"}


def create_client(api: TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Globex Corporation",
        "email": "accounts@globex.example",
        "contact_name": "Hank Scorpio",
        "time_zone": "America/New_York",
        "default_currency": "USD",
        **overrides,
    }
    response = api.post("/clients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def create_invoice(
    api: TestClient, headers: dict[str, str], client_id: int, **overrides: Any
) -> dict[str, Any]:
    body = {
        "client_id": client_id,
        "number": f"INV-{next(_numbers):04d}",
        "amount": "1250.00",
        "issue_date": "2026-10-01",
        "due_date": "2026-10-31",
        **overrides,
    }
    response = api.post("/invoices", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# --- rows written straight to the database, for tests that need volume or a fixed `now` ---


def add_user(session: Session, *, now: datetime, **overrides: Any) -> User:
    """An account row (its password hash is not a usable one: it never logs in)."""
    values: dict[str, Any] = {
        "email": "ada@engines.example",
        "password_hash": "not-a-real-hash",
        "name": "Ada Lovelace",
        "business_name": "Analytical Engines",
        "time_zone": "Europe/London",
        **overrides,
    }
    user = User(created_at=now, updated_at=now, **values)
    session.add(user)
    session.flush()
    return user


def add_client(session: Session, user: User, *, now: datetime, **overrides: Any) -> Client:
    values: dict[str, Any] = {
        "name": "Globex",
        "email": "accounts@globex.example",
        "time_zone": "America/New_York",
        "default_currency": "USD",
        **overrides,
    }
    client = Client(user_id=user.id, created_at=now, updated_at=now, **values)
    session.add(client)
    session.flush()
    return client
