"""Finding a PostgreSQL server for the tests, and saying clearly how (or why not).

The server is taken from ``DUESPARK_TEST_POSTGRES_URL`` or, failing that, the local default
``postgresql://postgres@127.0.0.1:5432/postgres``. Each test run creates its own database
on it and drops it at the end. Without a reachable server the PostgreSQL half of the suite
is skipped with the reason, unless ``DUESPARK_REQUIRE_POSTGRES=1`` (set by CI), which turns
the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cache

import psycopg
from psycopg import sql

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Probe:
    admin_url: str
    error: str | None
    source: str

    @property
    def available(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.available:
            return f"PostgreSQL: using {self.admin_url} ({self.source})"
        return (
            f"PostgreSQL: not reachable at {self.admin_url} ({self.source}): {self.error}; "
            "PostgreSQL tests will be skipped. Start a server or set DUESPARK_TEST_POSTGRES_URL."
        )


def required() -> bool:
    return os.environ.get("DUESPARK_REQUIRE_POSTGRES") == "1"


@cache
def probe() -> Probe:
    url = os.environ.get("DUESPARK_TEST_POSTGRES_URL")
    source = "from DUESPARK_TEST_POSTGRES_URL" if url else "the local default"
    url = url or DEFAULT_ADMIN_URL
    try:
        with psycopg.connect(url, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as exc:
        return Probe(url, str(exc).strip().splitlines()[0] if str(exc) else repr(exc), source)
    return Probe(url, None, source)


def create_database(admin_url: str, prefix: str) -> str:
    """Create a fresh, uniquely named database; return its name."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_url(admin_url: str, name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the admin URL's server."""
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)
