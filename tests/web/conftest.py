"""Fixtures for the page tests: the application with a fixed clock, and browsers.

``web`` is a TestClient (a browser: it keeps cookies) on the app whose ``now`` is
:data:`tests.web.helpers.NOW`, on SQLite and on PostgreSQL like every ``database`` test.
``browser()`` opens another browser on the same app, with its own cookies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from duespark.app import create_app
from duespark.config import Settings
from duespark.db import Database
from duespark.dependencies import get_now
from tests.web.helpers import NOW


@pytest.fixture
def web(settings: Settings, database: Database) -> Iterator[TestClient]:
    app = create_app(settings, database=database)
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def browser(web: TestClient) -> Callable[[], TestClient]:
    """Another browser on the same app: its own cookie jar, the same clock and database."""

    def open_browser() -> TestClient:
        return TestClient(web.app, raise_server_exceptions=False, follow_redirects=False)

    return open_browser
