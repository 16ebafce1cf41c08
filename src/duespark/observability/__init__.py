"""Metrics, request ids and JSON logs: what an operator sees of a running server.

:func:`install` wires all of it into an application; ``create_app`` calls it once.
"""

from __future__ import annotations

from fastapi import FastAPI

from duespark.db import Database
from duespark.observability.logging import configure_logging
from duespark.observability.metrics import AppMetrics, router
from duespark.observability.middleware import RequestObservability

__all__ = ["configure_logging", "install"]


def install(app: FastAPI, database: Database) -> AppMetrics:
    """Add ``GET /metrics`` and the request-id/metrics/access-log middleware.

    Call it after every other ``add_middleware``: the last one added is the outermost,
    and this layer must see every response, the body limit's 413 included.
    """
    metrics = AppMetrics(database.engine)
    app.state.metrics = metrics
    app.add_middleware(RequestObservability, metrics=metrics)
    app.include_router(router)
    return metrics
