"""``create_app(settings)``: the ASGI application, its routers and error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from duespark import __version__, exception_handlers, observability
from duespark.auth.router import router as auth_router
from duespark.clients.router import router as clients_router
from duespark.config import Settings
from duespark.db import Database
from duespark.health.router import router as health_router
from duespark.invoices.router import router as invoices_router
from duespark.middleware import BodySizeLimit
from duespark.reminders.router import router as reminders_router
from duespark.templates.router import router as templates_router


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
    app.add_middleware(BodySizeLimit)
    observability.install(app, database)  # after BodySizeLimit: it must be the outer layer
    exception_handlers.install(app)
    for router in (health_router, auth_router, clients_router, invoices_router):
        app.include_router(router)
    app.include_router(templates_router)
    app.include_router(reminders_router)
    return app
