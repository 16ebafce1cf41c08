"""Shared fixtures.

Tests that take the ``database`` fixture (directly or through ``api``) run twice: on an
SQLite file and on PostgreSQL. Each backend's database is created and migrated once per
run; every test starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from duespark.app import create_app
from duespark.config import Settings, load_settings
from duespark.db import Database
from duespark.models import Base
from duespark.ops import migrations
from tests import postgres

TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_report_header() -> str:
    return postgres.probe().describe()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    probe = postgres.probe()
    if not probe.available:
        if postgres.required():
            pytest.fail(probe.describe() + " (DUESPARK_REQUIRE_POSTGRES=1 forbids skipping)")
        pytest.skip(probe.describe())
    return probe.admin_url


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database for this run, on each backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "duespark.db"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = postgres.create_database(admin_url, f"duespark_test_{worker}")
    url = postgres.database_url(admin_url, name)
    try:
        _migrate(url)
        yield url
    finally:
        postgres.drop_database(admin_url, name)


def _migrate(url: str) -> None:
    database = Database(make_settings(url))
    try:
        migrations.upgrade(database.engine)
    finally:
        database.dispose()


def make_settings(database_url: str, **environ: str) -> Settings:
    return load_settings({"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY, **environ})


@pytest.fixture(scope="session")
def shared_database(database_url: str) -> Iterator[Database]:
    database = Database(make_settings(database_url))
    yield database
    database.dispose()


@pytest.fixture
def database(shared_database: Database) -> Iterator[Database]:
    """The backend's database, emptied after the test."""
    yield shared_database
    with shared_database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database.url)


@pytest.fixture
def api(settings: Settings, database: Database) -> Iterator[TestClient]:
    """The application, in-process, on this backend's database."""
    with TestClient(
        create_app(settings, database=database), raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
