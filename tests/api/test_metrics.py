"""``GET /metrics``: request series by route template (one per template, never one per id or
per unknown path), gauges read from real outbox, ledger and heartbeat rows, protection by
token and in production, one registry per app; and a real server's exposition."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from duespark.app import create_app
from duespark.clock import utc_now
from duespark.config import ConfigError
from duespark.db import Database
from duespark.models import OutboxMessage, Reminder, WorkerHeartbeat
from tests.cli.conftest import base_environ
from tests.cli.test_serve import start_server
from tests.conftest import TEST_SECRET_KEY, make_settings
from tests.factories import auth_headers, create_client, create_invoice
from tests.integration.test_outbox_relay import seed

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
UNMATCHED_404 = {"method": "GET", "route": "<unmatched>", "status": "404"}
TOKEN = "f3a9c2e1d4b5a6978877665544332211aabbccdd"


def scrape(api: TestClient, **headers: str) -> Samples:
    response = api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def label_values(samples: Samples, label: str) -> set[str]:
    return {dict(labels)[label] for _, labels in samples if label in dict(labels)}


def test_requests_are_counted_by_route_template_not_by_id(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    ids = [create_invoice(api, headers, client["id"])["id"] for _ in range(3)]
    before = scrape(api)
    for invoice_id in ids:
        assert api.get(f"/invoices/{invoice_id}", headers=headers).status_code == 200
    assert api.get("/invoices/999999", headers=headers).status_code == 404
    after = scrape(api)

    route = "/invoices/{invoice_id}"
    ok = {"method": "GET", "route": route, "status": "200"}
    assert delta(before, after, "http_requests_total", **ok) == 3
    assert value(after, "http_requests_total", method="GET", route=route, status="404") == 1
    count = "http_request_duration_seconds_count"
    assert delta(before, after, count, method="GET", route=route) == 4
    routes = label_values(after, "route")
    assert not any(str(invoice_id) in r for r in routes for invoice_id in ids)
    assert {"/invoices", "/clients", "/auth/login", route} <= routes


def test_a_thousand_ids_and_unknown_paths_add_no_series(api: TestClient) -> None:
    api.get("/invoices/1")
    api.get("/no-such-page")
    scrape(api)  # so that /metrics' own series exist before the comparison
    before = scrape(api)
    for number in range(1000):
        api.get(f"/invoices/{number}")
    for number in range(200):
        api.get(f"/wp-admin/probe-{number}.php")
    after = scrape(api)

    assert set(after) == set(before)  # not one new series
    assert delta(before, after, "http_requests_total", **UNMATCHED_404) == 200
    unauthorized = {"method": "GET", "route": "/invoices/{invoice_id}", "status": "401"}
    assert delta(before, after, "http_requests_total", **unauthorized) == 1000
    assert not any("probe" in route for route in label_values(after, "route"))


def test_pipeline_gauges_reflect_the_rows(api: TestClient, database: Database) -> None:
    empty = scrape(api)
    assert value(empty, "duespark_database_up") == 1
    assert value(empty, "duespark_outbox_pending") == 0
    assert ("duespark_worker_last_tick_timestamp_seconds", frozenset()) not in empty

    seeded = seed(database, now=utc_now() - timedelta(minutes=10), invoices=4)
    last_seen = utc_now() - timedelta(seconds=42)
    with database.engine.begin() as connection:
        connection.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == seeded.message_ids[0])
            .values(status="dead")
        )
        connection.execute(
            update(Reminder).where(Reminder.id.in_(seeded.reminder_ids[1:3])).values(state="sent")
        )
        connection.execute(
            WorkerHeartbeat.__table__.insert().values(
                worker_id="w:1", hostname="w", pid=1, started_at=last_seen, last_seen_at=last_seen
            )
        )
    samples = scrape(api)
    assert value(samples, "duespark_outbox_pending") == 4 - 1
    assert value(samples, "duespark_outbox_dead") == 1
    assert value(samples, "duespark_reminders_sent_total") == 2
    assert 590 <= value(samples, "duespark_outbox_oldest_due_age_seconds") <= 700
    tick = value(samples, "duespark_worker_last_tick_timestamp_seconds")
    assert abs(tick - last_seen.timestamp()) < 0.01
    assert value(samples, "duespark_build_info", version="0.1.0") == 1


def test_an_unreachable_database_still_scrapes_with_database_up_0(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}")
    with TestClient(create_app(settings)) as api:
        samples = scrape(api)
    assert value(samples, "duespark_database_up") == 0
    assert ("duespark_outbox_pending", frozenset()) not in samples


def test_a_metrics_token_is_required_when_set(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}", DUESPARK_METRICS_TOKEN=TOKEN)
    with TestClient(create_app(settings)) as api:
        missing = api.get("/metrics")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="metrics"'
        assert api.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        samples = scrape(api, Authorization=f"Bearer {TOKEN}")
    assert value(samples, "http_requests_total", method="GET", route="/metrics", status="401") == 3


def test_production_without_a_token_refuses_metrics(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'x.db'}",
        DUESPARK_ENV="production",
        DUESPARK_EMAIL_URL="smtp://smtp.example:25",
        DUESPARK_EMAIL_FROM="Ada <ada@engines.example>",
    )
    with TestClient(create_app(settings)) as api:
        refused = api.get("/metrics")
    assert refused.status_code == 403
    assert "DUESPARK_METRICS_TOKEN" in refused.json()["error"]["message"]


def test_each_app_counts_its_own_requests(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}")
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        for _ in range(3):
            first.get("/healthz")
        second.get("/healthz")
        healthz = {"method": "GET", "route": "/healthz", "status": "200"}
        assert value(scrape(first), "http_requests_total", **healthz) == 3
        assert value(scrape(second), "http_requests_total", **healthz) == 1


def test_a_real_server_exposes_one_series_per_template(tmp_path: Path) -> None:
    environ = base_environ(
        DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", SECRET_KEY=TEST_SECRET_KEY
    )
    for server in start_server(environ, tmp_path):
        with httpx2.Client(base_url=server.url, timeout=10) as http:
            for invoice_id in (11, 12, 13, 14):
                assert http.get(f"/invoices/{invoice_id}").status_code == 401
            http.get("/definitely/not/here")
            samples = parse(http.get("/metrics").text)
    route = {"method": "GET", "route": "/invoices/{invoice_id}", "status": "401"}
    assert value(samples, "http_requests_total", **route) == 4
    assert (
        value(samples, "http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    )
    assert value(samples, "duespark_database_up") == 1


def test_a_weak_or_malformed_metrics_token_is_refused_at_start() -> None:
    for weak in ("short-token", "a" * 40, "has spaces in it but is long enough"):
        with pytest.raises(ConfigError, match="DUESPARK_METRICS_TOKEN"):
            make_settings("sqlite:///./x.db", DUESPARK_METRICS_TOKEN=weak)
    assert make_settings("sqlite:///./x.db", DUESPARK_METRICS_TOKEN=TOKEN).metrics_token == TOKEN
