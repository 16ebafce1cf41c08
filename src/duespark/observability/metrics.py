"""``GET /metrics``: Prometheus metrics for the RED method and the reminder pipeline.

Request metrics (``http_requests_total{method,route,status}`` and the
``http_request_duration_seconds{method,route}`` histogram, OpenTelemetry's advised
buckets) are labelled by the **route template** (``/invoices/{invoice_id}``), never the
raw path, and unmatched paths share one ``<unmatched>`` label: a scanner probing a
million URLs, or a million invoices, must not create a million series. No label ever
carries a user id or an email (the seed's ``user_id`` label did).

The reminder pipeline's numbers are read from the database at scrape time, one cheap
query each (:mod:`duespark.ops.facts`), so every process reports the same fleet-wide
truth and nothing is lost on restart: ``duespark_outbox_pending``,
``duespark_outbox_dead``, ``duespark_outbox_oldest_due_age_seconds``,
``duespark_reminders_sent_total`` (the ledger's count, so it only drops when data is
deleted, which Prometheus treats as a counter reset), and
``duespark_worker_last_tick_timestamp_seconds`` (alert on ``time() - it``). When the
database does not answer, ``duespark_database_up`` is 0 and the scrape still succeeds.

Each app has its own :class:`CollectorRegistry`, so several apps in one process (the
tests, an embedded server) never share or collide on series.

Protection (ASVS 13.4.5: do not expose metrics publicly unless intended): with
``DUESPARK_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``
(Prometheus: ``authorization: {credentials: ...}``); without it, ``/metrics`` is open in
development and refused (403) in production, so a production server never publishes
its internals by accident.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from duespark import __version__, clock
from duespark.config import Environment, Settings
from duespark.exception_handlers import error_body
from duespark.ops import facts

logger = logging.getLogger("duespark.metrics")

UNMATCHED = "<unmatched>"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabaseCollector(Collector):
    """The reminder pipeline's gauges, read from the database at each scrape."""

    def __init__(self, engine: Engine, now_fn: Callable[[], datetime] = clock.utc_now) -> None:
        self.engine = engine
        self.now_fn = now_fn

    def describe(self) -> Iterable[Metric]:
        # Names only: registering the collector must not touch the database.
        return self._families()

    def collect(self) -> Iterable[Metric]:
        up, pending, dead, oldest, sent, tick = self._families()
        now = self.now_fn()
        try:
            with self.engine.connect() as connection:
                outbox = facts.outbox_facts(connection, now)
                beat = facts.heartbeat_facts(connection)
                sent_count = facts.reminders_sent(connection)
        except SQLAlchemyError as exc:
            logger.warning("metrics: database unavailable: %s", str(exc).splitlines()[0])
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        pending.add_metric([], outbox.pending)
        dead.add_metric([], outbox.dead)
        oldest.add_metric([], outbox.oldest_due_age_seconds(now))
        sent.add_metric([], sent_count)
        if beat.last_seen_at is not None:
            tick.add_metric([], beat.last_seen_at.timestamp())
        return [up, pending, dead, oldest, sent, tick]

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        CounterMetricFamily,
        GaugeMetricFamily,
    ]:
        return (
            GaugeMetricFamily("duespark_database_up", "1 when the database answered this scrape"),
            GaugeMetricFamily("duespark_outbox_pending", "Emails waiting in the outbox"),
            GaugeMetricFamily("duespark_outbox_dead", "Emails that failed for good (dead)"),
            GaugeMetricFamily(
                "duespark_outbox_oldest_due_age_seconds",
                "How long the longest-waiting due email has been due (0 when none is)",
            ),
            CounterMetricFamily("duespark_reminders_sent", "Reminders the ledger records as sent"),
            GaugeMetricFamily(
                "duespark_worker_last_tick_timestamp_seconds",
                "Unix time of the most recent worker heartbeat (absent before the first)",
            ),
        )


class AppMetrics:
    """One application's registry: request metrics plus the database collector."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        build = GaugeMetricFamily("duespark_build_info", "DueSpark version", labels=["version"])
        build.add_metric([__version__], 1)
        self.registry.register(_Constant([build]))
        if engine is not None:
            self.registry.register(DatabaseCollector(engine))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Constant(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def database_metrics_text(engine: Engine) -> str:
    """The database-derived metrics alone, in the exposition format (for an incident
    snapshot taken without a running server to scrape)."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry).decode()


router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus exposition; see the module docstring for who may read it."""
    settings: Settings = request.app.state.settings
    refusal = _refusal(settings, request.headers.get("authorization"))
    if refusal is not None:
        return refusal
    app_metrics: AppMetrics = request.app.state.metrics
    return Response(app_metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _refusal(settings: Settings, authorization: str | None) -> Response | None:
    token = settings.metrics_token
    if token is None:
        if settings.env is Environment.production:
            return JSONResponse(
                error_body(
                    "forbidden",
                    "/metrics is disabled in production until DUESPARK_METRICS_TOKEN is set.",
                ),
                status_code=403,
            )
        return None
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        return None
    return JSONResponse(
        error_body("not_authenticated", "/metrics needs the metrics bearer token."),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )
