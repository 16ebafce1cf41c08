"""Every page under ``/app`` needs a signed-in session, except a short, justified list.

The walk discovers the page routes from the running application and calls each, with
every method it declares, from a browser without a session and from browsers holding a
session cookie that opens nothing (made up, or logged out). A GET must redirect to the
login page, which then returns the visitor to the page asked for; any other method must be
refused the same way (a redirect to the login page, no ``next``) or with 401/403. The
forms are posted with a CSRF token the browser really holds (the pre-session one of the
login form), so a refusal cannot be the CSRF check standing in for a missing sign-in
check. The ids in the paths are a real account's, and every table must be unchanged.

A page is exempt only if ``PUBLIC_PAGES`` lists it with the reason; the JSON routes are
walked by ``tests/api/test_authentication_required.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from httpx2 import Response

from duespark.config import Settings
from duespark.db import Database
from duespark.web.cookies import SESSION_COOKIE
from duespark.web.dependencies import OptionalUser
from duespark.web.pages import LOGIN_PATH, page_router
from tests.api.test_authentication_required import Endpoint, discover, everything, fill, is_page
from tests.api.test_reminders import overdue_invoice, worker_pass
from tests.factories import auth_headers, create_client
from tests.web.helpers import csrf_token, html, log_in, token

# Pages anyone may open, each with the reason.
PUBLIC_PAGES: dict[tuple[str, str], str] = {
    # The forms that give a visitor a session. Their posts need the pre-session CSRF token
    # (tests/web/test_csrf.py) and are throttled like the API's login.
    ("GET", "/app/login"): "login form",
    ("POST", "/app/login"): "login form's post",
    ("GET", "/app/signup"): "sign-up form",
    ("POST", "/app/signup"): "sign-up form's post",
    # The HTML 404 for paths no page claims: it shows nothing of any account and says no
    # more than the route table does.
    ("GET", "/app/{path}"): "not-found page",
    # CSS, JS and the favicon: the same files for everyone (the login page needs them).
    ("MOUNT", "/app/static"): "static files",
}
STATIC_FILE = "/app/static/duespark.css"


def page_endpoints(app: FastAPI) -> dict[tuple[str, str], Endpoint]:
    """The page routes that must refuse a visitor without a session."""
    schema = app.openapi()
    return {
        key: endpoint
        for key, endpoint in discover(app, schema).items()
        if is_page(endpoint.path) and key not in PUBLIC_PAGES
    }


def open_browser(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def refusal_problem(method: str, url: str, response: Response) -> str | None:
    """Why ``response`` is not a sign-in refusal (None when it is)."""
    status, location = response.status_code, response.headers.get("location")
    if method == "GET":
        expected = LOGIN_PATH if url == "/app" else f"{LOGIN_PATH}?next={url}"
        if status == 303 and location == expected:
            return None
        return f"answered {status} (location {location!r}), not 303 to {expected}"
    if status == 303 and location == LOGIN_PATH:
        return None
    if status in {401, 403}:
        html(response)  # an error page, not a JSON or empty answer
        return None
    return f"answered {status} (location {location!r}): {response.text[:200]}"


def walk(
    browser: TestClient, endpoints: list[Endpoint], ids: dict[str, int]
) -> dict[tuple[str, str], str]:
    """Call each page as ``browser`` and return the ones not refused, with why."""
    # The pre-session token of the login form: a real token this browser holds, valid for
    # the public forms and for nothing else.
    presession_token = csrf_token(browser.get(LOGIN_PATH))
    problems: dict[tuple[str, str], str] = {}
    for endpoint in endpoints:
        url = fill(endpoint, ids)
        if endpoint.method == "GET":
            response = browser.get(url)
        else:
            response = browser.request(endpoint.method, url, data={"csrf_token": presession_token})
        problem = refusal_problem(endpoint.method, url, response)
        if problem is not None:
            problems[(endpoint.method, endpoint.path)] = problem
    return problems


def report(problems: dict[tuple[str, str], str]) -> str:
    return "\n".join(f"  {m} {p}: {why}" for (m, p), why in sorted(problems.items()))


@dataclass(frozen=True)
class Victim:
    ids: dict[str, int]
    revoked_session: str  # the cookie of a session that was logged out


@pytest.fixture
def victim(web: TestClient, database: Database, settings: Settings) -> Victim:
    headers = auth_headers(web, email="victim@example.com")
    client = create_client(web, headers)
    invoice = overdue_invoice(web, headers, client["id"])
    worker_pass(database, settings)
    ids = {"client_id": client["id"], "invoice_id": invoice["id"]}
    ended = open_browser(web.app)
    assert log_in(ended, "victim@example.com").status_code == 303
    cookie = ended.cookies[SESSION_COOKIE]
    assert ended.post("/app/logout", data={"csrf_token": token(ended)}).status_code == 303
    return Victim(ids, cookie)


def test_the_walk_finds_the_pages(web: TestClient) -> None:
    discovered = discover(web.app, web.app.openapi())
    walked = page_endpoints(web.app)
    for route in [
        ("GET", "/app"),
        ("POST", "/app/invoices/{invoice_id}/mark-paid"),
        ("POST", "/app/invoices/{invoice_id}/preview/send"),
        ("POST", "/app/settings/templates/{tone}/preview"),
        ("GET", "/app/invoices/export.csv"),
        ("POST", "/app/logout"),
    ]:
        assert route in walked, route
    stale = sorted(set(PUBLIC_PAGES) - set(discovered))
    assert not stale, f"public pages that no longer exist: {stale}"


def test_public_pages_really_are_public(web: TestClient) -> None:
    """Each exemption is needed: none of these sends a visitor without a session to log in."""
    for method, path in PUBLIC_PAGES:
        url = STATIC_FILE if method == "MOUNT" else path.replace("{path}", "nothing-here")
        response = web.request("GET" if method == "MOUNT" else method, url)
        assert response.status_code < 500, (method, path, response.text)
        assert not (response.headers.get("location") or "").startswith(LOGIN_PATH), (method, path)
    assert web.get(STATIC_FILE).status_code == 200


def test_every_page_sends_a_visitor_without_a_session_to_log_in(
    web: TestClient, database: Database, victim: Victim
) -> None:
    before = everything(database)
    endpoints = sorted(page_endpoints(web.app).values(), key=lambda e: (e.path, e.method))
    problems = walk(open_browser(web.app), endpoints, victim.ids)
    assert not problems, "pages that answer without a session:\n" + report(problems)
    assert everything(database) == before


@pytest.mark.parametrize("cookie", ["made-up", "logged-out"])
def test_every_page_refuses_a_session_cookie_that_opens_nothing(
    web: TestClient, database: Database, victim: Victim, cookie: str
) -> None:
    browser = open_browser(web.app)
    browser.cookies.set(
        SESSION_COOKIE, victim.revoked_session if cookie == "logged-out" else "x" * 43
    )
    before = everything(database)
    endpoints = sorted(page_endpoints(web.app).values(), key=lambda e: (e.path, e.method))
    problems = walk(browser, endpoints, victim.ids)
    assert not problems, f"pages that answer a {cookie} session:\n" + report(problems)
    assert everything(database) == before


def test_a_new_page_without_sign_in_fails_the_walk(web: TestClient, victim: Victim) -> None:
    """The walk's own control: pages added without ``PageUser`` are reported, and nothing
    else is. (They go first: the not-found page would otherwise answer their GETs.)"""
    app = web.app
    extra = page_router()

    @extra.get("/app/reports")
    def reports(_user: OptionalUser) -> HTMLResponse:
        return HTMLResponse("<p>everyone's totals</p>")

    @extra.post("/app/invoices/{invoice_id}/send-test-email")
    def send_test_email(invoice_id: int) -> HTMLResponse:
        return HTMLResponse(f"<p>sent {invoice_id}</p>")

    app.include_router(extra)
    app.router.routes.insert(0, app.router.routes.pop())
    endpoints = sorted(page_endpoints(app).values(), key=lambda e: (e.path, e.method))
    problems = walk(open_browser(app), endpoints, victim.ids)
    assert set(problems) == {
        ("GET", "/app/reports"),
        ("POST", "/app/invoices/{invoice_id}/send-test-email"),
    }, report(problems)
