"""``create_app(settings)``: the ASGI application, its routers and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from duespark import __version__, exception_handlers, observability, openapi_errors
from duespark.admission import AdmissionLimit
from duespark.analytics.router import router as analytics_router
from duespark.auth.router import router as auth_router
from duespark.clients.router import router as clients_router
from duespark.config import Settings, load_settings
from duespark.db import Database
from duespark.health.router import router as health_router
from duespark.invoices.importing import IMPORT_MAX_BYTES
from duespark.invoices.router import router as invoices_router
from duespark.middleware import BodySizeLimit
from duespark.reminders.router import router as reminders_router
from duespark.serving.drain import DrainState
from duespark.templates.router import router as templates_router
from duespark.web.wiring import install_pages


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    """Build the application. ``database`` lets a caller share one engine (tests, CLI)."""
    database = database or Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # JSON logs once the app serves, not merely when it is built (tests build many).
        observability.configure_logging()
        yield
        database.dispose()

    app = FastAPI(
        title="DueSpark",
        version=__version__,
        description="Invoice reminders that get freelancers paid on time.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    # Flipped by the server on SIGTERM (duespark.serving.server); /readyz reads it.
    app.state.drain = DrainState()
    uploads = {"/invoices/import": IMPORT_MAX_BYTES, "/app/invoices/import": IMPORT_MAX_BYTES}
    app.add_middleware(BodySizeLimit, path_limits=uploads)
    app.add_middleware(AdmissionLimit)  # outside BodySizeLimit: a queued request reads nothing
    # The API's routes come first: routing tries routes in order, and the API's requests
    # are the many small ones (the pages' routes all start with /app, so none overlaps).
    for router in (health_router, auth_router, clients_router, invoices_router):
        app.include_router(router)
    app.include_router(templates_router)
    app.include_router(reminders_router)
    app.include_router(analytics_router)
    install_pages(app)  # the web pages; before observability, which must stay outermost
    observability.install(app, database)  # after BodySizeLimit: it must be the outer layer
    exception_handlers.install(app)
    openapi_errors.install(app)  # /openapi.json documents the errors those handlers answer
    return app


def create_app_from_environment() -> FastAPI:
    """An app from the process environment, for an external ASGI server's factory mode:
    ``uvicorn --factory duespark.app:create_app_from_environment``.

    ``duespark serve`` is the supported way to run DueSpark (it migrates SQLite, drains on
    SIGTERM and runs the worker); this entry point exists for platforms that must start
    the ASGI server themselves. Each process that calls it loads settings and builds its own
    app and engine, so nothing is shared between processes except the database.
    """
    return create_app(load_settings())
