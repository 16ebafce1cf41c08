"""The Jinja2 environment of the pages, its filters, and ``render``.

Autoescaping is on for every template, whatever its name, and nothing a user typed is
ever marked safe: a client called ``<script>`` or ``{{ 7*7 }}`` is shown as exactly that.
Templates are trusted files of this package; user text only ever arrives as data.
``StrictUndefined`` turns a misspelt variable into an error (caught by the page tests)
instead of an empty string.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from duespark import __version__
from duespark.clock import local_today
from duespark.config import Settings
from duespark.kit.currencies import active_currencies
from duespark.kit.money import format_amount
from duespark.kit.time_zones import known_time_zones
from duespark.models import User
from duespark.web import csrf
from duespark.web.cookies import FLASH_COOKIE, PRESESSION_COOKIE, delete_cookie, set_cookie
from duespark.web.flash import read_flash
from duespark.web.sessions import new_token


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    href: str


# The main navigation, in order. A new section adds its entry here and passes its ``key``
# as ``active`` when rendering its pages.
NAVIGATION: list[NavItem] = [
    NavItem("home", "Dashboard", "/app"),
    NavItem("clients", "Clients", "/app/clients"),
    NavItem("invoices", "Invoices", "/app/invoices"),
    NavItem("settings", "Settings", "/app/settings/reminders"),
]


@dataclass(frozen=True)
class Viewer:
    """The signed-in account as the layout shows it: plain values, still readable when
    the request's transaction was rolled back (an error page)."""

    id: int
    name: str
    email: str
    business_name: str
    time_zone: str

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(user.id, user.name, user.email, user.business_name, user.time_zone)


def money(minor: int, currency: str) -> str:
    """``125000, "EUR"`` -> ``1,250.00 EUR``: the currency's own precision, digits grouped,
    the code spelt out (amounts in different currencies are never added up)."""
    whole, _, fraction = format_amount(minor, currency).partition(".")
    grouped = f"{int(whole):,}"
    return f"{grouped}.{fraction} {currency}" if fraction else f"{grouped} {currency}"


def day(value: date | None) -> str:
    """``2026-10-31`` -> ``31 Oct 2026``: no day/month order to misread."""
    if value is None:
        return ""
    return f"{value.day} {value:%b %Y}"


def moment(value: datetime | None, time_zone: str) -> str:
    """A UTC timestamp in the account's time zone: ``31 Oct 2026, 14:30``."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(time_zone))
    return f"{day(local.date())}, {local:%H:%M}"


def step_label(offset_days: int) -> str:
    if offset_days == 0:
        return "on the due date"
    unit = "day" if abs(offset_days) == 1 else "days"
    when = "before" if offset_days < 0 else "after"
    return f"{abs(offset_days)} {unit} {when} the due date"


def with_query(path: str, params: dict[str, Any]) -> str:
    """``path`` with the non-empty ``params`` as its query string (pagination links)."""
    kept = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


@cache
def currency_options() -> list[tuple[str, str]]:
    """Every currency in use, for a select: (code, code), alphabetical."""
    return [(code, code) for code in sorted(active_currencies())]


@cache
def time_zone_names() -> list[str]:
    return sorted(known_time_zones())


ENVIRONMENT = Environment(
    loader=PackageLoader("duespark.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters.update(
    money=money, day=day, moment=moment, step_label=step_label, local_date=local_today
)
ENVIRONMENT.globals.update(
    with_query=with_query,
    navigation=NAVIGATION,
    version=__version__,
    currency_options=currency_options,
    time_zone_names=time_zone_names,
)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with the layout's context: the viewer, the CSRF token for its
    forms, and the flash message (which this response then deletes)."""
    settings: Settings = request.app.state.settings
    csrf_token, new_presession = _csrf_token(request, settings)
    flash = read_flash(request, settings)
    html = ENVIRONMENT.get_template(template).render(
        {
            "viewer": getattr(request.state, "viewer", None),
            "csrf_token": csrf_token,
            "flash": flash,
            "active": "",
            **(context or {}),
        }
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    if new_presession is not None:
        set_cookie(response, settings, PRESESSION_COOKIE, new_presession, max_age=None)
    if FLASH_COOKIE in request.cookies:
        delete_cookie(response, settings, FLASH_COOKIE)
    return response


def _csrf_token(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The token for this page's forms, and a new pre-session token to set when the
    browser has none yet (a signed-out visitor's first page)."""
    session_token = getattr(request.state, "session_token", None)
    if session_token:
        return csrf.token(settings, csrf.SESSION, session_token), None
    presession = request.cookies.get(PRESESSION_COOKIE)
    if presession and len(presession) <= 200:
        return csrf.token(settings, csrf.PRESESSION, presession), None
    presession = new_token()
    return csrf.token(settings, csrf.PRESESSION, presession), presession
