"""One account's pages never show or change another account's data.

The walk finds every page route under ``/app`` with an ``..._id`` path parameter from the
running application, so a new page cannot slip past: it needs an entry in ``PROBES`` (a
form that would succeed for the owner) or ``test_probe_table_covers_every_page_id_route``
fails. Another account's ids must answer exactly like ids that do not exist (an HTML
404 page), for every method, with a valid CSRF token, and change nothing; the owner-side
control proves each probe is a request that really succeeds.

The accounts are the JSON isolation test's (``tests/api/test_isolation.make_account``):
invoices in every state and a reminder ledger made by a real worker pass.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response

from duespark.config import Settings
from duespark.db import Database
from tests.api.test_isolation import MAX_ID, Account, id_parameters, make_account, snapshot
from tests.factories import PASSWORD
from tests.web.helpers import CLIENT, html, log_in, token

PAGES_PREFIX = "/app/"


@dataclass(frozen=True)
class Visitor:
    account: Account
    browser: TestClient  # logged in to the account's pages

    def send(self, method: str, url: str, form: dict[str, str] | None) -> Response:
        if method == "GET":
            return self.browser.get(url)
        return self.browser.request(
            method, url, data={**(form or {}), "csrf_token": token(self.browser)}
        )


def visitor(
    web: TestClient, database: Database, settings: Settings, email: str, name: str
) -> Visitor:
    account = make_account(web, database, settings, email=email, name=name)
    browser = TestClient(web.app, raise_server_exceptions=False, follow_redirects=False)
    assert log_in(browser, email, PASSWORD).status_code == 303
    return Visitor(account, browser)


@pytest.fixture
def alice(web: TestClient, database: Database, settings: Settings) -> Visitor:
    return visitor(web, database, settings, "alice@example.com", "Alice Andersen")


@pytest.fixture
def bob(web: TestClient, database: Database, settings: Settings) -> Visitor:
    return visitor(web, database, settings, "bob@example.com", "Bob Builder")


Form = Callable[[Account], dict[str, str] | None]


@dataclass(frozen=True)
class Probe:
    owner_ids: Callable[[Account], dict[str, int]]
    form: Form
    success: int


def _client(account: Account) -> dict[str, int]:
    return {"client_id": account.client_id}


def _invoice(status: str) -> Callable[[Account], dict[str, int]]:
    return lambda account: {"invoice_id": account.invoices[status]}


def no_form(_account: Account) -> None:
    return None


def _invoice_form(account: Account) -> dict[str, str]:
    return {
        "client_id": str(account.spare_client_id),
        "number": "MOVED-1",
        "amount": "99.00",
        "currency": "USD",
        "issue_date": "2026-06-01",
        "due_date": "2026-07-01",
        "status": "open",
        "payment_url": "",
        "notes": "changed",
    }


PAUSE = {"until": "2026-07-30"}

PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/app/clients/{client_id}"): Probe(_client, no_form, 200),
    ("GET", "/app/clients/{client_id}/edit"): Probe(_client, no_form, 200),
    ("POST", "/app/clients/{client_id}/edit"): Probe(
        _client, lambda _a: {**CLIENT, "name": "Renamed Co", "notes": "changed"}, 303
    ),
    ("POST", "/app/clients/{client_id}/pause"): Probe(_client, lambda _a: PAUSE, 303),
    ("POST", "/app/clients/{client_id}/resume"): Probe(_client, no_form, 303),
    ("GET", "/app/invoices/{invoice_id}"): Probe(_invoice("reminded"), no_form, 200),
    ("GET", "/app/invoices/{invoice_id}/edit"): Probe(_invoice("open"), no_form, 200),
    ("POST", "/app/invoices/{invoice_id}/edit"): Probe(_invoice("open"), _invoice_form, 303),
    ("POST", "/app/invoices/{invoice_id}/mark-paid"): Probe(
        _invoice("open"), lambda _a: {"paid_at": "", "amount_paid": "10.00"}, 303
    ),
    ("POST", "/app/invoices/{invoice_id}/void"): Probe(_invoice("open"), no_form, 303),
    ("POST", "/app/invoices/{invoice_id}/reopen"): Probe(_invoice("paid"), no_form, 303),
    ("POST", "/app/invoices/{invoice_id}/pause"): Probe(_invoice("chased"), lambda _a: PAUSE, 303),
    ("POST", "/app/invoices/{invoice_id}/resume"): Probe(_invoice("chased"), no_form, 303),
    ("GET", "/app/invoices/{invoice_id}/preview"): Probe(_invoice("open"), no_form, 200),
    ("GET", "/app/invoices/{invoice_id}/preview/email"): Probe(_invoice("open"), no_form, 200),
    ("POST", "/app/invoices/{invoice_id}/preview/send"): Probe(
        _invoice("open"), lambda _a: {"offset_days": "-3"}, 303
    ),
}


def page_id_routes(web: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every page route with an ``_id`` path parameter."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(web.app.routes):
        path = route.path_format or route.path or ""
        if not path.startswith(PAGES_PREFIX) or not id_parameters(path):
            continue
        found |= {(method, path) for method in route.methods or set() if method != "HEAD"}
    return found


def assert_not_found(response: Response) -> str:
    assert response.status_code == 404, (response.request.method, response.url, response.text)
    page = html(response)
    assert page.find("h1").text == "Page not found"
    return page.by_id("main").text


def test_probe_table_covers_every_page_id_route(web: TestClient) -> None:
    discovered = page_id_routes(web)
    assert discovered, "no page route with an id parameter was found: the discovery is broken"
    missing = sorted(discovered - set(PROBES))
    stale = sorted(set(PROBES) - discovered)
    assert not missing, f"page routes with ids that the isolation test does not call: {missing}"
    assert not stale, f"probes for page routes that no longer exist: {stale}"


def test_other_accounts_ids_are_404_pages_and_change_nothing(
    web: TestClient, database: Database, alice: Visitor, bob: Visitor
) -> None:
    before = (snapshot(web, alice.account, database), snapshot(web, bob.account, database))
    calls = 0
    for method, path in sorted(page_id_routes(web)):
        probe = PROBES[(method, path)]
        parameters = id_parameters(path)
        form = probe.form(bob.account)
        absent = assert_not_found(
            bob.send(method, path.format(**dict.fromkeys(parameters, MAX_ID)), form)
        )
        for values in itertools.product(*(alice.account.ids_for(name) for name in parameters)):
            url = path.format(**dict(zip(parameters, values, strict=True)))
            # Someone else's resource is indistinguishable from one that does not exist.
            assert assert_not_found(bob.send(method, url, form)) == absent, url
            calls += 1
    assert calls >= len(PROBES)
    assert (snapshot(web, alice.account, database), snapshot(web, bob.account, database)) == before


@pytest.mark.parametrize("route", sorted(PROBES), ids=" ".join)
def test_each_probe_succeeds_for_the_owner(alice: Visitor, route: tuple[str, str]) -> None:
    method, path = route
    probe = PROBES[route]
    response = alice.send(
        method, path.format(**probe.owner_ids(alice.account)), probe.form(alice.account)
    )
    assert response.status_code == probe.success, response.text


def test_a_form_cannot_point_at_another_accounts_client(
    web: TestClient, database: Database, alice: Visitor, bob: Visitor
) -> None:
    before = (snapshot(web, alice.account, database), snapshot(web, bob.account, database))
    foreign = {**_invoice_form(bob.account), "client_id": str(alice.account.client_id)}
    for url in ["/app/invoices/new", f"/app/invoices/{bob.account.invoices['open']}/edit"]:
        response = bob.send("POST", url, {**foreign, "number": "B-1"})
        assert response.status_code == 422, response.text
        message = html(response).by_id("field-client_id-error").text
        assert "No such client in this account." in message
    listed = html(bob.browser.get(f"/app/invoices?client_id={alice.account.client_id}"))
    assert not listed.find_all("table")
    assert (snapshot(web, alice.account, database), snapshot(web, bob.account, database)) == before
