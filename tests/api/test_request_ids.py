"""Request ids: echoed when safe, generated when absent or hostile, returned on every
response (a 500 included), and carried by every JSON log line of the request, in-process
and from a real ``duespark serve``."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from duespark.app import create_app
from duespark.observability.logging import JsonFormatter, safe_request_id
from tests.cli.conftest import base_environ
from tests.cli.test_serve import start_server
from tests.conftest import TEST_SECRET_KEY, make_settings

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The ``duespark`` loggers' records, formatted as the server formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("duespark")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def app_with_failures(tmp_path: Path) -> FastAPI:
    """An app whose database cannot be opened, plus a route that logs and then fails."""
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}"))

    @app.get("/test-only/explode")
    def explode() -> None:
        logging.getLogger("duespark.test").warning("about to fail")
        raise RuntimeError("boom")

    return app


def test_a_safe_request_id_is_echoed(api: TestClient) -> None:
    for request_id in ("checkout-2026.11.28_a1:b2", "0f8fad5b-d9cb-469f-a165-70867728950e", "7"):
        response = api.get("/healthz", headers={"X-Request-ID": request_id})
        assert response.headers["x-request-id"] == request_id


def test_an_id_is_generated_when_absent_on_every_kind_of_response(api: TestClient) -> None:
    seen = set()
    for path, status in (("/healthz", 200), ("/invoices", 401), ("/nowhere", 404)):
        response = api.get(path)
        assert response.status_code == status
        assert GENERATED.fullmatch(response.headers["x-request-id"])
        seen.add(response.headers["x-request-id"])
    assert len(seen) == 3
    too_big = api.post("/clients", content=b"x" * 1_000_001)
    assert too_big.status_code == 413 and GENERATED.fullmatch(too_big.headers["x-request-id"])


@pytest.mark.parametrize(
    "hostile",
    [
        "has space",
        "x" * 129,
        "<script>alert(1)</script>",
        '"},"level":"error',
        "-starts-with-a-dash",
        "semi;colon",
        "",
    ],
)
def test_a_hostile_request_id_is_replaced(api: TestClient, hostile: str) -> None:
    response = api.get("/healthz", headers={"X-Request-ID": hostile})
    assert response.headers["x-request-id"] != hostile
    assert GENERATED.fullmatch(response.headers["x-request-id"])
    assert safe_request_id(hostile) is None


def test_non_ascii_request_ids_are_replaced(api: TestClient) -> None:
    response = api.get("/healthz", headers=[("X-Request-ID", "café".encode())])
    assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_a_500_carries_the_id_and_the_usual_error_body(tmp_path: Path) -> None:
    with TestClient(app_with_failures(tmp_path), raise_server_exceptions=False) as api:
        response = api.get("/test-only/explode", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }


def test_every_log_line_of_a_request_carries_its_id(tmp_path: Path, log_lines: io.StringIO) -> None:
    with TestClient(app_with_failures(tmp_path), raise_server_exceptions=False) as api:
        failing = api.get("/test-only/explode", headers={"X-Request-ID": "trace-me-1"})
        unready = api.get("/readyz")  # logs from a sync endpoint, in a worker thread
    lines = records(log_lines)
    mine = [line for line in lines if line.get("request_id") == "trace-me-1"]
    assert [line["logger"] for line in mine] == [
        "duespark.test",
        "duespark.access",
        "duespark.errors",
    ]
    assert "RuntimeError: boom" in mine[2]["exc"]
    access = mine[1]
    assert (access["route"], access["status"], access["path"]) == (
        "/test-only/explode",
        500,
        "/test-only/explode",
    )
    assert failing.headers["x-request-id"] == "trace-me-1"

    readyz_id = unready.headers["x-request-id"]
    readyz_lines = [line for line in lines if line.get("request_id") == readyz_id]
    assert [line["logger"] for line in readyz_lines] == ["duespark.health", "duespark.access"]
    assert "database unreachable" in readyz_lines[0]["msg"]
    # A probe is logged at DEBUG while it succeeds; a failing one (503) is a warning.
    assert (readyz_lines[1]["level"], readyz_lines[1]["status"]) == ("warning", 503)
    # Nothing logged during these requests lacks an id.
    assert all(line.get("request_id") for line in lines)
    assert all(line["ts"].endswith("Z") for line in lines)


def test_a_real_server_writes_json_lines_with_the_request_id(tmp_path: Path) -> None:
    environ = base_environ(
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", SECRET_KEY=TEST_SECRET_KEY
    )
    servers = start_server(environ, tmp_path)
    server = next(servers)
    with httpx2.Client(base_url=server.url, timeout=10) as http:
        quoted = http.get("/invoices/42", headers={"X-Request-ID": "support-ticket-8812"})
        generated = http.get("/nowhere").headers["x-request-id"]
    server.process.send_signal(signal.SIGTERM)
    rest, _ = server.process.communicate(timeout=15)
    servers.close()

    assert quoted.headers["x-request-id"] == "support-ticket-8812"
    lines = [json.loads(line) for line in rest.splitlines() if line.startswith("{")]
    by_id = {line.get("request_id"): line for line in lines if line["logger"] == "duespark.access"}
    ticket = by_id["support-ticket-8812"]
    assert (ticket["route"], ticket["path"], ticket["status"]) == (
        "/invoices/{invoice_id}",
        "/invoices/42",
        401,
    )
    assert ticket["level"] == "info" and ticket["duration_s"] >= 0
    assert by_id[generated]["route"] == "<unmatched>"
