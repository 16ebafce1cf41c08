"""Every route outside the pages needs credentials, except a short, justified list.

The walk discovers the routes from the running application (the router, which also sees
routes hidden from the OpenAPI document, and the document itself) and calls each with
every method it declares, without credentials and then with each kind of bad credential.
Each must answer 401 in the JSON error shape. A route is exempt only if it is listed in
``PUBLIC`` with the reason it may be called by anyone, so a new route that forgets its
``CurrentUser`` fails here: the original service shipped an unauthenticated "mark paid"
and an open test-email endpoint, which this walk would have refused.

The pages (everything under ``/app``) sign in with a session cookie, not a bearer token;
``tests/web/test_sign_in_required.py`` walks them the same way.

The ids in the walk's paths are a real account's client, invoice and reminder, so a route
that ran without credentials would change that account's rows; the test checks that every
table is exactly as it was after the walk.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from duespark.app import create_app
from duespark.auth.tokens import Keyring
from duespark.clock import utc_now
from duespark.config import Settings
from duespark.db import Database
from duespark.models import Base, User
from tests.api.test_reminders import overdue_invoice, worker_pass
from tests.conftest import make_settings
from tests.factories import auth_headers, create_client, login

PAGES_PREFIX = "/app"
METRICS_TOKEN = "4c1d8e0b7a9f2e3d6c5b4a39281706f5e4d3c2b1"
ERROR_KEYS = {"code", "message", "field", "errors"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}  # answered for GET routes by the framework

# Routes anyone may call, each with the reason. Keep it short: a route belongs here only if
# it is how a caller *gets* credentials, carries its own credential, or serves something
# meant for machines or people that hold none.
PUBLIC: dict[tuple[str, str], str] = {
    # Probes for the orchestrator and load balancer, which hold no account token; they say
    # "ok" or which check failed, nothing else (tests/api/test_health.py checks the bodies).
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    # The published description of the API and its viewers: the same for everyone.
    ("GET", "/openapi.json"): "API description",
    ("GET", "/docs"): "Swagger UI page",
    ("GET", "/docs/oauth2-redirect"): "Swagger UI's OAuth2 redirect page",
    ("GET", "/redoc"): "ReDoc page",
    # How a caller gets credentials in the first place (throttled; see test_auth.py).
    ("POST", "/auth/register"): "creates an account",
    ("POST", "/auth/login"): "exchanges a password for tokens",
    # The refresh token in the body is the credential (and an access token may have
    # expired by then); logout revokes only the session that token belongs to.
    ("POST", "/auth/refresh"): "refresh token in the body",
    ("POST", "/auth/logout"): "refresh token in the body",
    # Key ids (truncated hashes) for `duespark keys status --url` during a rotation.
    ("GET", "/auth/keys"): "signing key ids, public on purpose",
    # The front door: a redirect to /app, whose pages need a session.
    ("GET", "/"): "redirect to the pages",
}
# /metrics is not listed: with DUESPARK_METRICS_TOKEN set (as deployed; in production it is
# refused outright without one) it needs that token, and the walk below sets one.

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, as declared: /invoices/{invoice_id}/mark-paid
    parameters: dict[str, type]  # each path parameter's declared type


def is_page(path: str) -> bool:
    return path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")


def discover(app: FastAPI, openapi: dict[str, Any]) -> dict[tuple[str, str], Endpoint]:
    """Every (method, path) the application answers, pages and mounts included."""
    found: dict[tuple[str, str], Endpoint] = {}
    for route in iter_route_contexts(app.routes):
        path = route.path_format or route.path or ""
        methods = route.methods or set()
        if not methods:  # a mount (static files): no methods, no dependant
            found[("MOUNT", route.path or path)] = Endpoint("MOUNT", route.path or path, {})
            continue
        dependant = getattr(route, "dependant", None)
        types = {
            param.name: param.field_info.annotation
            for param in (dependant.path_params if dependant else [])
        }
        for method in methods - SKIPPED_METHODS:
            found[(method, path)] = Endpoint(method, path, types)
    for path, operations in openapi["paths"].items():
        for method in operations:
            key = (method.upper(), path)
            if method.upper() not in SKIPPED_METHODS and key not in found:
                found[key] = Endpoint(method.upper(), path, {})
    return found


def api_endpoints(app: FastAPI, openapi: dict[str, Any]) -> dict[tuple[str, str], Endpoint]:
    """The routes that must refuse a request without a bearer token: all but the pages
    and the public ones."""
    return {
        key: endpoint
        for key, endpoint in discover(app, openapi).items()
        if not is_page(endpoint.path) and key not in PUBLIC
    }


def fill(endpoint: Endpoint, ids: dict[str, int]) -> str:
    """The endpoint's path with a value its parameters accept: the account's id for an
    ``..._id``, an enum's first member, otherwise a plain word."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        kind = endpoint.parameters.get(name)
        if name in ids:
            return str(ids[name])
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return str(next(iter(kind)).value)
        if kind is int or name.endswith("_id"):
            return "1"
        return "x"

    return _PARAMETER.sub(value, endpoint.path)


def refusal_problem(response: Response) -> str | None:
    """Why ``response`` is not a proper 401 in the API's error shape (None when it is)."""
    if response.status_code != 401:
        return f"answered {response.status_code}: {response.text[:200]}"
    try:
        body = response.json()
    except ValueError:
        return f"401 without a JSON body: {response.text[:200]}"
    if set(body) != {"error"} or not set(body["error"]) <= ERROR_KEYS:
        return f"401 not in the error shape: {body}"
    error = body["error"]
    if error.get("code") != "not_authenticated":
        return f"401 with code {error.get('code')!r}"
    if not isinstance(error.get("message"), str) or not error["message"]:
        return f"401 without a message: {body}"
    if not response.headers.get("www-authenticate", "").startswith("Bearer"):
        return "401 without WWW-Authenticate: Bearer"
    return None


def walk(
    client: TestClient,
    endpoints: Iterable[Endpoint],
    ids: dict[str, int],
    headers: dict[str, str],
) -> dict[tuple[str, str], str]:
    """Call each endpoint (without a body) and return the ones not refused, with why."""
    problems: dict[tuple[str, str], str] = {}
    for endpoint in endpoints:
        response = client.request(endpoint.method, fill(endpoint, ids), headers=headers)
        problem = refusal_problem(response)
        if problem is not None:
            problems[(endpoint.method, endpoint.path)] = problem
    return problems


@dataclass(frozen=True)
class Victim:
    """An account with something to lose: a client, an overdue invoice with a reminder."""

    user_id: int
    headers: dict[str, str]
    refresh_token: str
    ids: dict[str, int]


@pytest.fixture
def victim(api: TestClient, database: Database, settings: Settings) -> Victim:
    headers = auth_headers(api, email="victim@example.com")
    client = create_client(api, headers)
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings)
    reminders = api.get("/reminders", headers=headers).json()["items"]
    assert reminders, "the worker pass planned no reminder"
    me = api.get("/auth/me", headers=headers).json()
    refresh_token = login(api, "victim@example.com")["refresh_token"]
    ids = {
        "client_id": client["id"],
        "invoice_id": invoice["id"],
        "reminder_id": reminders[0]["id"],
    }
    return Victim(me["id"], headers, refresh_token, ids)


def deployed_app(database: Database) -> FastAPI:
    """The app as deployed: /metrics needs its token (in production it is refused outright
    without one)."""
    settings = make_settings(database.url, DUESPARK_METRICS_TOKEN=METRICS_TOKEN)
    return create_app(settings, database=database)


def open_client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def everything(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with database.engine.connect() as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def bad_credentials(
    settings: Settings, database: Database, victim: Victim
) -> tuple[str, dict[str, str]]:
    """A good access token made here, and Authorization headers that must not open
    anything: each made for the victim's own account and, where it is a token made here,
    wrong in exactly one way, so the refusal is about that and nothing else."""
    with database.session_scope() as session:
        user = session.get(User, victim.user_id)
        assert user is not None
        version = user.token_version
    keyring = Keyring.from_settings(settings)
    now = utc_now()

    def token(*, keys: Keyring = keyring, issued: datetime = now, ver: int = version) -> str:
        return keys.issue_access_token(
            user_id=victim.user_id, token_version=ver, now=issued, lifetime=timedelta(minutes=15)
        )

    stranger = Keyring("another-secret-key-with-enough-length-0123456789abcdef", [])
    real = victim.headers["Authorization"].removeprefix("Bearer ")
    return token(), {
        "garbage": "Bearer not-a-token",
        "empty bearer": "Bearer ",
        "expired": f"Bearer {token(issued=now - timedelta(hours=1))}",
        "signed with another key": f"Bearer {token(keys=stranger)}",
        "stale token version": f"Bearer {token(ver=version + 1)}",
        "tampered signature": f"Bearer {real[:-4]}{'AAAA' if real[-4:] != 'AAAA' else 'BBBB'}",
        "refresh token as bearer": f"Bearer {victim.refresh_token}",
        "basic scheme": "Basic dmljdGltQGV4YW1wbGUuY29tOnBhc3N3b3Jk",
        "token without scheme": real,
    }


def test_the_walk_finds_the_routes(api: TestClient) -> None:
    """The discovery sees the routes the original service left open, and the public list
    holds only routes that exist (a stale entry would hide a future route of that name)."""
    discovered = discover(api.app, api.get("/openapi.json").json())
    walked = api_endpoints(api.app, api.get("/openapi.json").json())
    for route in [
        ("POST", "/invoices/{invoice_id}/mark-paid"),
        ("POST", "/invoices/{invoice_id}/reminders/send-now"),
        ("POST", "/templates/{tone}/preview"),
        ("GET", "/metrics"),
    ]:
        assert route in walked, route
    # Everything discovered is walked here, exempt, or a page walked by the web test.
    assert set(discovered) == set(walked) | set(PUBLIC) | {
        key for key, endpoint in discovered.items() if is_page(endpoint.path)
    }
    stale = sorted(set(PUBLIC) - set(discovered))
    assert not stale, f"public routes that no longer exist: {stale}"


def test_public_routes_really_are_public(api: TestClient) -> None:
    """Each exemption is needed: none of these answers 401 to a caller without a token
    (if one did, it needs credentials and belongs in the walk instead)."""
    for method, path in PUBLIC:
        response = api.request(method, path, follow_redirects=False)
        assert response.status_code != 401, (method, path, response.text)
        assert response.status_code < 500, (method, path, response.text)


def test_every_route_refuses_a_request_without_credentials(
    database: Database, victim: Victim
) -> None:
    before = everything(database)
    with open_client(deployed_app(database)) as client:
        endpoints = api_endpoints(client.app, client.get("/openapi.json").json())
        problems = walk(client, endpoints.values(), victim.ids, headers={})
    assert not problems, "routes that answer without credentials:\n" + "\n".join(
        f"  {method} {path}: {why}" for (method, path), why in sorted(problems.items())
    )
    assert everything(database) == before


def test_every_route_refuses_invalid_and_expired_tokens(
    settings: Settings,
    database: Database,
    victim: Victim,
) -> None:
    good, credentials = bad_credentials(settings, database, victim)
    before = everything(database)
    with open_client(deployed_app(database)) as client:
        # The control: the victim's tokens, issued by login and made here, work, so each
        # bad one is refused for what is wrong with it.
        for authorization in [victim.headers["Authorization"], f"Bearer {good}"]:
            me = client.get("/auth/me", headers={"Authorization": authorization})
            assert me.status_code == 200, me.text
        endpoints = api_endpoints(client.app, client.get("/openapi.json").json())
        failures = {
            name: walk(client, endpoints.values(), victim.ids, {"Authorization": value})
            for name, value in credentials.items()
        }
    failures = {name: problems for name, problems in failures.items() if problems}
    assert not failures, "\n".join(
        f"{name}: {method} {path}: {why}"
        for name, problems in failures.items()
        for (method, path), why in sorted(problems.items())
    )
    assert everything(database) == before


def test_a_new_route_without_authentication_fails_the_walk(
    database: Database, victim: Victim
) -> None:
    """The walk's own control: the original service's holes, added to a fresh app, are
    reported, and nothing else is."""
    app = deployed_app(database)

    @app.post("/invoices/{invoice_id}/test-email")
    def send_test_email(invoice_id: int) -> dict[str, int]:
        return {"sent": invoice_id}

    @app.post("/clients/{client_id}/mark-all-paid", include_in_schema=False)
    def mark_all_paid(client_id: int) -> dict[str, int]:
        return {"paid": client_id}

    with open_client(app) as client:
        endpoints = api_endpoints(client.app, client.get("/openapi.json").json())
        problems = walk(client, endpoints.values(), victim.ids, headers={})
    assert set(problems) == {
        ("POST", "/invoices/{invoice_id}/test-email"),
        ("POST", "/clients/{client_id}/mark-all-paid"),
    }
    assert all(why.startswith("answered 200") for why in problems.values())
