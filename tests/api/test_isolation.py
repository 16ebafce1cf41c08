"""One account can never see or touch another account's data.

The route walk discovers every route with an ``..._id`` path parameter from the running
application, so a new route cannot slip past: it must be added to ``PROBES`` (how to call
it, with a body that would succeed for the owner) or ``test_probe_table_covers_every_id_route``
fails. The owner-side tests prove each probe is a request that really succeeds, so the 404
another account gets is about ownership and nothing else.

Each account also has a reminder ledger in every state, made the way production makes it:
a real worker pass (planning and relay, at a fixed ``now``) over overdue invoices, with a
sender that accepts some emails and refuses others, and one reminder cancelled by hand.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.config import Settings
from duespark.db import Database
from duespark.email.errors import DeliveryFailed
from duespark.email.message import EmailMessage
from duespark.email.recording import RecordingSender
from duespark.models import Client, Invoice, OutboxMessage, User
from tests.api.test_reminders import overdue_invoice, worker_pass
from tests.factories import auth_headers, create_client, create_invoice

MAX_ID = 2_147_483_647
ERROR_KEYS = {"code", "message", "field", "errors"}
# Derived from today's date, not stored: leaving them out keeps a snapshot taken just
# before midnight equal to one taken just after.
DERIVED_FIELDS = {"is_overdue", "days_overdue"}


@dataclass(frozen=True)
class Account:
    headers: dict[str, str]
    client_id: int
    spare_client_id: int
    invoices: dict[str, int]
    reminders: dict[str, int]
    reminder_ids: list[int]

    def ids_for(self, parameter: str) -> list[int]:
        """Every id of this account that a path parameter named ``parameter`` can take."""
        if parameter == "client_id":
            return [self.client_id, self.spare_client_id]
        if parameter == "invoice_id":
            return sorted(self.invoices.values())
        if parameter == "reminder_id":
            return self.reminder_ids
        raise AssertionError(f"the isolation test knows no ids for path parameter {parameter!r}")


def make_account(
    api: TestClient, database: Database, settings: Settings, *, email: str, name: str
) -> Account:
    """An account with a client holding invoices in every state, and a spare client whose
    only invoice is paid (so it can be deleted). Four of the invoices are overdue and have
    been through a worker pass, so the ledger holds reminders in every state: skipped
    (catch-up), sent, scheduled (its email refused for now), failed (refused for good) and
    cancelled (by hand)."""
    headers = auth_headers(api, email=email, name=name)
    client = create_client(api, headers, name=f"{name} Main Co", email=f"main@{name[:3]}.example")
    spare = create_client(api, headers, name=f"{name} Spare Ltd", email=f"spare@{name[:3]}.example")
    invoices = {
        "draft": create_invoice(api, headers, client["id"], status="draft")["id"],
        "open": create_invoice(api, headers, client["id"])["id"],
        "paid": create_invoice(api, headers, client["id"])["id"],
        "void": create_invoice(api, headers, client["id"])["id"],
        "spare_paid": create_invoice(api, headers, spare["id"])["id"],
        **{
            label: overdue_invoice(api, headers, client["id"])["id"]
            for label in ("reminded", "chased", "bounced", "withdrawn")
        },
    }
    for status, action in [("paid", "mark-paid"), ("void", "void"), ("spare_paid", "mark-paid")]:
        response = api.post(f"/invoices/{invoices[status]}/{action}", headers=headers)
        assert response.status_code == 200, response.text
    worker_pass(database, settings, sender=_refusing(invoices))
    ledger = api.get("/reminders?limit=200", headers=headers).json()["items"]
    step = {(row["invoice_id"], row["offset_days"]): row for row in ledger}
    reminders = {
        "skipped": step[invoices["reminded"], -3]["id"],
        "sent": step[invoices["reminded"], 7]["id"],
        "scheduled": step[invoices["chased"], 7]["id"],
        "failed": step[invoices["bounced"], 7]["id"],
        "cancelled": step[invoices["withdrawn"], 7]["id"],
    }
    cancelled = api.post(f"/reminders/{reminders['cancelled']}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text
    for state, reminder_id in reminders.items():
        read = api.get(f"/reminders/{reminder_id}", headers=headers).json()
        assert read["state"] == state, read
    ids = sorted(row["id"] for row in ledger)
    return Account(headers, client["id"], spare["id"], invoices, reminders, ids)


def _refusing(invoices: dict[str, int]) -> RecordingSender:
    """Refuses the "bounced" invoice's email for good, and for now the "chased" one's and
    the "withdrawn" one's (so both stay scheduled; the latter is then cancelled by hand)."""

    def refuse(message: EmailMessage) -> DeliveryFailed | None:
        for label, permanent in [("chased", False), ("bounced", True), ("withdrawn", False)]:
            if message.message_id.startswith(f"<reminder-{invoices[label]}-"):
                return DeliveryFailed("mailbox unavailable", permanent=permanent)
        return None

    return RecordingSender(refuse=refuse)


@pytest.fixture
def alice(api: TestClient, database: Database, settings: Settings) -> Account:
    return make_account(api, database, settings, email="alice@example.com", name="Alice Andersen")


@pytest.fixture
def bob(api: TestClient, database: Database, settings: Settings) -> Account:
    return make_account(api, database, settings, email="bob@example.com", name="Bob Builder")


Body = Callable[[Account], dict[str, Any] | None]


def no_body(_account: Account) -> None:
    return None


@dataclass(frozen=True)
class Probe:
    """How to call one route: the owner's resource that makes it succeed, and a body that
    is valid for whichever account sends it."""

    owner_ids: Callable[[Account], dict[str, int]]
    body: Body
    success: int


def _client(account: Account) -> dict[str, int]:
    return {"client_id": account.client_id}


def _invoice(status: str) -> Callable[[Account], dict[str, int]]:
    return lambda account: {"invoice_id": account.invoices[status]}


def _reminder(state: str) -> Callable[[Account], dict[str, int]]:
    return lambda account: {"reminder_id": account.reminders[state]}


def _pause_until(_account: Account) -> dict[str, str]:
    return {"until": (date.today() + timedelta(days=30)).isoformat()}


POLICY = {
    "steps": [{"offset_days": -1, "tone": "friendly"}, {"offset_days": 10, "tone": "final"}],
    "send_window": {"start": "08:00", "end": "12:00", "days": ["mon", "sat"]},
}


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/clients/{client_id}"): Probe(_client, no_body, 200),
    ("PATCH", "/clients/{client_id}"): Probe(
        _client, lambda _a: {"name": "Renamed Co", "notes": "changed"}, 200
    ),
    ("DELETE", "/clients/{client_id}"): Probe(
        lambda account: {"client_id": account.spare_client_id}, no_body, 204
    ),
    ("GET", "/invoices/{invoice_id}"): Probe(_invoice("open"), no_body, 200),
    ("PATCH", "/invoices/{invoice_id}"): Probe(
        _invoice("open"),
        lambda account: {"client_id": account.spare_client_id, "amount": "99.00", "notes": "x"},
        200,
    ),
    ("DELETE", "/invoices/{invoice_id}"): Probe(_invoice("draft"), no_body, 204),
    ("POST", "/invoices/{invoice_id}/mark-paid"): Probe(
        _invoice("open"), lambda _a: {"amount_paid": "10.00"}, 200
    ),
    ("POST", "/invoices/{invoice_id}/void"): Probe(_invoice("open"), no_body, 200),
    ("POST", "/invoices/{invoice_id}/reopen"): Probe(_invoice("paid"), no_body, 200),
    ("GET", "/clients/{client_id}/reminders"): Probe(_client, no_body, 200),
    ("GET", "/clients/{client_id}/stats"): Probe(_client, no_body, 200),
    ("PUT", "/clients/{client_id}/reminders"): Probe(_client, lambda _a: POLICY, 200),
    ("DELETE", "/clients/{client_id}/reminders"): Probe(_client, no_body, 200),
    ("POST", "/clients/{client_id}/pause"): Probe(_client, _pause_until, 200),
    ("POST", "/clients/{client_id}/resume"): Probe(_client, no_body, 200),
    ("POST", "/invoices/{invoice_id}/pause"): Probe(_invoice("chased"), _pause_until, 200),
    ("POST", "/invoices/{invoice_id}/resume"): Probe(_invoice("chased"), no_body, 200),
    ("GET", "/invoices/{invoice_id}/reminders"): Probe(_invoice("reminded"), no_body, 200),
    ("POST", "/invoices/{invoice_id}/reminders/preview"): Probe(
        _invoice("reminded"), lambda _a: {"offset_days": 7}, 200
    ),
    ("POST", "/invoices/{invoice_id}/reminders/send-now"): Probe(
        _invoice("reminded"), lambda _a: {"offset_days": 30}, 201
    ),
    ("GET", "/invoices/{invoice_id}/activity"): Probe(_invoice("reminded"), no_body, 200),
    ("GET", "/reminders/{reminder_id}"): Probe(_reminder("sent"), no_body, 200),
    ("POST", "/reminders/{reminder_id}/send-now"): Probe(_reminder("scheduled"), no_body, 200),
    ("POST", "/reminders/{reminder_id}/cancel"): Probe(_reminder("scheduled"), no_body, 200),
}

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
PAGES_PREFIX = "/app/"


def id_parameters(path: str) -> list[str]:
    return [name for name in _PARAMETER.findall(path) if name.endswith("_id")]


def is_page(path: str) -> bool:
    """Web pages answer HTML, not the JSON error shape; tests/web/test_web_isolation.py
    walks them the same way."""
    return path.startswith(PAGES_PREFIX)


def id_routes(app: FastAPI, openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every JSON route with an ``_id`` path parameter, from the router
    itself (which also sees routes hidden from the schema) and from the OpenAPI document."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path_format or route.path or ""
        for method in route.methods or set():
            if method not in {"HEAD", "OPTIONS"} and id_parameters(path) and not is_page(path):
                found.add((method, path))
    for path, operations in openapi["paths"].items():
        for method in operations:
            if method.upper() not in {"HEAD", "OPTIONS"} and id_parameters(path):
                found.add((method.upper(), path))
    return found


def call(
    api: TestClient, method: str, path: str, ids: dict[str, int], body: Any, account: Account
) -> Any:
    url = path.format(**ids)
    if body is None:
        return api.request(method, url, headers=account.headers)
    return api.request(method, url, json=body, headers=account.headers)


def assert_not_found(response: Any) -> dict[str, Any]:
    assert response.status_code == 404, (response.request.method, response.url, response.text)
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "not_found"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= ERROR_KEYS
    return body


def snapshot(api: TestClient, account: Account, database: Database) -> dict[str, Any]:
    """Everything the API shows the account, lists and details alike, and what the API
    does not show: its reminder emails in the outbox and its stored pauses and policies."""

    def get(url: str) -> Any:
        response = api.get(url, headers=account.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def stored(invoice: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in invoice.items() if key not in DERIVED_FIELDS}

    clients = get("/clients?limit=200")
    invoices = get("/invoices?limit=200")
    ledger = get("/reminders?limit=200")
    me = get("/auth/me")
    return {
        "me": me,
        "clients": clients,
        "invoices": [stored(invoice) for invoice in invoices["items"]],
        "invoice_total": invoices["total"],
        "client_details": [get(f"/clients/{c['id']}") for c in clients["items"]],
        "invoice_details": [stored(get(f"/invoices/{i['id']}")) for i in invoices["items"]],
        "reminder_settings": get("/settings/reminders"),
        "client_policies": [get(f"/clients/{c['id']}/reminders") for c in clients["items"]],
        "ledger": ledger,
        "reminder_details": [get(f"/reminders/{r['id']}") for r in ledger["items"]],
        "timelines": [recorded(get(f"/invoices/{i['id']}/reminders")) for i in invoices["items"]],
        "activity": [get(f"/invoices/{i['id']}/activity") for i in invoices["items"]],
        "stored": stored_reminder_state(database, me["id"], [r["id"] for r in ledger["items"]]),
    }


def recorded(timeline: dict[str, Any]) -> dict[str, Any]:
    """The timeline without what the clock alone changes: upcoming steps pass, and the
    send window opens and closes (the ledger, the policy's source and pauses remain)."""
    waiting = timeline["waiting"] or ""
    return {
        **timeline,
        "entries": [e for e in timeline["entries"] if e["reminder_id"] is not None],
        "waiting": "" if waiting.startswith("outside the send window") else waiting,
    }


def stored_reminder_state(
    database: Database, user_id: int, reminder_ids: list[int]
) -> dict[str, Any]:
    """The account's reminder emails in the outbox, and its stored pauses and policies
    (from the database: an indefinite client pause, for one, shows in no read endpoint)."""
    with database.session_scope() as session:
        outbox = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.user_id == user_id)
                .order_by(OutboxMessage.id)
            )
        )
        user = session.get(User, user_id)
        assert user is not None
        owned = [
            row
            for model in (Client, Invoice)
            for row in session.scalars(
                select(model).where(model.user_id == user_id).order_by(model.id)
            )
        ]
        pauses = [
            (type(row).__name__, row.id, row.reminders_paused, row.reminders_paused_until)
            for row in [user, *owned]
        ]
        policies = [user.reminder_policy] + [
            row.reminder_policy for row in owned if isinstance(row, Client)
        ]
        assert {m.reminder_id for m in outbox} <= set(reminder_ids)
        return {
            "outbox": [
                (m.id, m.reminder_id, m.status, m.attempts, m.next_attempt_at, m.updated_at)
                for m in outbox
            ],
            "pauses": pauses,
            "policies": policies,
        }


def test_probe_table_covers_every_id_route(api: TestClient) -> None:
    discovered = id_routes(api.app, api.get("/openapi.json").json())
    assert discovered, "no route with an id parameter was found: the discovery is broken"
    missing = sorted(discovered - set(PROBES))
    stale = sorted(set(PROBES) - discovered)
    assert not missing, f"routes with ids that the isolation test does not call: {missing}"
    assert not stale, f"probes for routes that no longer exist: {stale}"


def test_other_accounts_ids_answer_404_and_change_nothing(
    api: TestClient, database: Database, alice: Account, bob: Account
) -> None:
    before = (snapshot(api, alice, database), snapshot(api, bob, database))
    calls = 0
    for method, path in sorted(id_routes(api.app, api.get("/openapi.json").json())):
        probe = PROBES.get((method, path))
        assert probe is not None, f"{method} {path} has no probe; add one to PROBES"
        parameters = id_parameters(path)
        body = probe.body(bob)
        absent = assert_not_found(
            call(api, method, path, dict.fromkeys(parameters, MAX_ID), body, bob)
        )
        for values in itertools.product(*(alice.ids_for(name) for name in parameters)):
            ids = dict(zip(parameters, values, strict=True))
            foreign = assert_not_found(call(api, method, path, ids, body, bob))
            # Someone else's resource is indistinguishable from one that does not exist.
            assert foreign == absent
            calls += 1
    assert calls >= len(PROBES)
    assert (snapshot(api, alice, database), snapshot(api, bob, database)) == before


@pytest.mark.parametrize("route", sorted(PROBES), ids=" ".join)
def test_each_probe_succeeds_for_the_owner(
    api: TestClient, alice: Account, route: tuple[str, str]
) -> None:
    """The control: the very request refused to another account works for the owner."""
    method, path = route
    probe = PROBES[route]
    response = call(api, method, path, probe.owner_ids(alice), probe.body(alice), alice)
    assert response.status_code == probe.success, response.text


def test_lists_show_only_the_callers_rows(api: TestClient, alice: Account, bob: Account) -> None:
    alice_clients = {alice.client_id, alice.spare_client_id}
    alice_invoices = set(alice.invoices.values())
    for sort in ["name", "-name", "created_at", "-created_at"]:
        page = api.get(f"/clients?limit=200&sort={sort}", headers=bob.headers).json()
        assert {c["id"] for c in page["items"]} == {bob.client_id, bob.spare_client_id}
        assert page["total"] == 2
    for query in ["", "&sort=-due_date", "&sort=number", "&status=paid", "&overdue=true"]:
        page = api.get(f"/invoices?limit=200{query}", headers=bob.headers).json()
        ids = {i["id"] for i in page["items"]}
        assert ids <= set(bob.invoices.values())
        assert not ids & alice_invoices
        assert page["total"] == len(ids)
    everything = api.get("/invoices?limit=200", headers=bob.headers).json()
    assert {i["id"] for i in everything["items"]} == set(bob.invoices.values())
    assert not {i["client_id"] for i in everything["items"]} & alice_clients
    # The worker planned both accounts in one pass; each ledger holds only its own rows.
    for query in [
        "",
        "&state=sent",
        "&state=skipped",
        "&state=scheduled",
        f"&client_id={bob.client_id}",
    ]:
        page = api.get(f"/reminders?limit=200{query}", headers=bob.headers).json()
        ids = {r["id"] for r in page["items"]}
        assert ids and ids <= set(bob.reminder_ids) and page["total"] == len(ids), query
        assert {r["invoice_id"] for r in page["items"]} <= set(bob.invoices.values())
    assert not set(alice.reminder_ids) & set(bob.reminder_ids)


def test_filters_naming_another_accounts_rows_find_nothing(
    api: TestClient, alice: Account, bob: Account
) -> None:
    for client_id in (alice.client_id, alice.spare_client_id):
        page = api.get(f"/invoices?client_id={client_id}", headers=bob.headers)
        assert page.status_code == 200
        assert page.json()["items"] == [] and page.json()["total"] == 0
        # The owner's view of the same filter is not empty: the filter itself works.
        assert api.get(f"/invoices?client_id={client_id}", headers=alice.headers).json()["total"]
    for url in [
        f"/reminders?client_id={alice.client_id}",
        f"/reminders?invoice_id={alice.invoices['reminded']}",
        f"/reminders?invoice_id={alice.invoices['chased']}&state=scheduled",
    ]:
        page = api.get(url, headers=bob.headers).json()
        assert page["items"] == [] and page["total"] == 0, url
        assert api.get(url, headers=alice.headers).json()["total"] >= 1, url
    alice_invoice = api.get(f"/invoices/{alice.invoices['open']}", headers=alice.headers).json()
    for url in [
        "/clients?q=Alice",
        "/clients?q=main@Ali",
        "/invoices?q=Alice",
        f"/invoices?q={alice_invoice['number']}",
    ]:
        page = api.get(url, headers=bob.headers).json()
        assert page["items"] == [] and page["total"] == 0, url
        assert api.get(url, headers=alice.headers).json()["total"] >= 1, url


def test_ids_in_bodies_cannot_reach_another_account(
    api: TestClient, database: Database, alice: Account, bob: Account
) -> None:
    before = (snapshot(api, alice, database), snapshot(api, bob, database))
    created = api.post(
        "/invoices",
        json={
            "client_id": alice.client_id,
            "number": "B-1",
            "amount": "5.00",
            "due_date": "2026-12-01",
        },
        headers=bob.headers,
    )
    assert created.status_code == 422, created.text
    assert created.json()["error"]["field"] == "client_id"
    moved = api.patch(
        f"/invoices/{bob.invoices['open']}",
        json={"client_id": alice.client_id},
        headers=bob.headers,
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["error"]["field"] == "client_id"
    assert (snapshot(api, alice, database), snapshot(api, bob, database)) == before


def test_invoice_numbers_are_per_account(api: TestClient, alice: Account, bob: Account) -> None:
    """Another account's number is free: a 409 here would reveal that it exists."""
    number = api.get(f"/invoices/{alice.invoices['open']}", headers=alice.headers).json()["number"]
    invoice = create_invoice(api, bob.headers, bob.client_id, number=number)
    assert invoice["number"] == number
    assert api.get(f"/invoices/{invoice['id']}", headers=alice.headers).status_code == 404
