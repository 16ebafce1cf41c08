"""``install_pages(app)``: the pages, their static files and the security headers.

Called by ``create_app`` before the observability layer is added, so that layer stays the
outermost and sees every response with its final headers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from duespark.analytics.views import router as dashboard_pages
from duespark.auth.views import router as auth_pages
from duespark.auth.views_account import router as account_pages
from duespark.clients.views import router as client_pages
from duespark.config import Environment, Settings
from duespark.invoices.views import router as invoice_pages
from duespark.invoices.views_actions import router as invoice_action_pages
from duespark.invoices.views_csv import router as invoice_csv_pages
from duespark.reminders.views import router as reminder_settings_pages
from duespark.reminders.views_preview import router as reminder_preview_pages
from duespark.templates.views import router as template_pages
from duespark.web.headers import STATIC_PREFIX, SecurityHeaders
from duespark.web.home import fallback_router
from duespark.web.home import router as home_pages

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Every page router, in order. The CSV pages come before the invoice pages, whose
# /app/invoices/{invoice_id} would take /app/invoices/import. The fallback (an HTML 404 for
# unknown /app paths) comes after all of them.
PAGE_ROUTERS: list[APIRouter] = [
    home_pages,
    dashboard_pages,
    auth_pages,
    account_pages,
    client_pages,
    invoice_csv_pages,
    invoice_pages,
    invoice_action_pages,
    reminder_preview_pages,
    reminder_settings_pages,
    template_pages,
]


def install_pages(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    hsts = settings.env is Environment.production and settings.base_url.startswith("https://")
    app.add_middleware(SecurityHeaders, hsts=hsts)
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="static")
    for router in [*PAGE_ROUTERS, fallback_router]:
        app.include_router(router)
