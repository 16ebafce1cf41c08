"""Liveness, readiness and the OpenAPI document.

The probes answer anyone (a load balancer holds no credentials), so their bodies are
checked whole: the documented keys and nothing else, and no trace of the database's
address, credentials or file, of software versions, or of the error that failed a check.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import make_url, text

import duespark
from duespark.app import create_app
from duespark.db import Database
from duespark.ops.migrations import head_revision
from tests.conftest import make_settings

READY = {"status": "ok", "checks": {"database": "ok", "schema": "current"}}
# Words of a leaked error or of the software underneath, in any check's answer.
TELLTALES = ["Traceback", "Error", "Exception", "sqlalchemy", "psycopg", "sqlite3", 'File "']


def secrets_of(database_url: str) -> list[str]:
    """What must never show in a probe's answer: the URL and each of its parts."""
    url = make_url(database_url)
    parts = [
        database_url,
        url.render_as_string(hide_password=False),
        url.host,
        url.username,
        url.password,
        url.database,
        f"{url.host}:{url.port}" if url.port else None,  # a port alone is just a number
    ]
    if url.database and "/" in url.database:  # an SQLite file: its folder too
        parts.append(str(Path(url.database).parent))
    return [part for part in parts if part]


def assert_leaks_nothing(response: Response, database_url: str) -> None:
    versions = [duespark.__version__, sqlalchemy.__version__, platform.python_version()]
    seen = [response.text, *(f"{name}: {value}" for name, value in response.headers.items())]
    for needle in [*secrets_of(database_url), *versions, *TELLTALES]:
        for text_seen in seen:
            assert needle.lower() not in text_seen.lower(), (needle, text_seen)


def test_healthz_is_ok(api: TestClient) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_schema_is_current(api: TestClient, database: Database) -> None:
    response = api.get("/readyz")
    assert response.status_code == 200
    assert_leaks_nothing(response, database.url)
    assert response.json() == READY


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
    assert_leaks_nothing(response, database.url)
    # The revisions are the schema's, which the operator needs to act on; nothing else.
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": "ok",
            "schema": f"at older, code needs {head_revision()}; run `duespark db upgrade`",
        },
    }


@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite:///{tmp}/readyz-secret-folder/missing/duespark.db",
        # A closed port on this machine: refused at once, no server needed.
        "postgresql+psycopg://readyz_user:readyz-s3cret-pw@127.0.0.1:1/readyz_db",
    ],
    ids=["sqlite-missing-folder", "postgresql-closed-port"],
)
def test_readyz_is_503_without_a_word_about_an_unreachable_database(
    tmp_path: Path, database_url: str
) -> None:
    url = database_url.format(tmp=tmp_path)
    with TestClient(create_app(make_settings(url)), raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert_leaks_nothing(response, url)
    assert response.json() == {"status": "unavailable", "checks": {"database": "unreachable"}}


def test_readyz_is_503_while_draining(api: TestClient, database: Database) -> None:
    api.app.state.drain.begin()
    response = api.get("/readyz")
    assert response.status_code == 503
    assert_leaks_nothing(response, database.url)
    body = response.json()
    assert set(body) == {"status", "checks"} and body["status"] == "draining"
    assert set(body["checks"]) == {"drain"}
    assert re.fullmatch(r"stopping, [0-9]+\.[0-9] s in", body["checks"]["drain"])


def test_openapi_and_docs_are_served(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    assert {"/auth/login", "/clients", "/invoices/{invoice_id}/mark-paid"} <= set(schema["paths"])
    assert api.get("/docs").status_code == 200
