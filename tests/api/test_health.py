"""Liveness, readiness and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from duespark.db import Database


def test_healthz_is_ok(api: TestClient) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_schema_is_current(api: TestClient) -> None:
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "schema": "current"}


def test_readyz_is_503_while_schema_is_behind(api: TestClient, database: Database) -> None:
    with database.engine.begin() as connection:
        (head,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        response = api.get("/readyz")
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert response.status_code == 503
    assert "duespark db upgrade" in response.json()["checks"]["schema"]


def test_openapi_and_docs_are_served(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    assert {"/auth/login", "/clients", "/invoices/{invoice_id}/mark-paid"} <= set(schema["paths"])
    assert api.get("/docs").status_code == 200
