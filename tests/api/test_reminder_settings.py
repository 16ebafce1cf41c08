"""Reminder policies and pauses: the account's, a client's override, an invoice's pause.

A refused policy or pause is followed by a read proving nothing was stored. Pausing is
checked where it matters: the scheduled reminder is withdrawn and a later worker pass
sends nothing, until the pause is lifted.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duespark.config import Settings
from duespark.db import Database
from tests.api.test_clients import assert_error
from tests.api.test_reminders import (
    DEFAULT_OFFSETS,
    DEFAULT_TONES,
    WORKER_NOW,
    Headers,
    activity,
    by_offset,
    get_ok,
    outbox_row,
    overdue_invoice,
    refusing,
    sent_for,
    timeline,
    worker_pass,
)
from tests.factories import auth_headers, create_client, create_invoice

DEFAULT_POLICY = {
    "steps": [
        {"offset_days": offset, "tone": tone}
        for offset, tone in zip(DEFAULT_OFFSETS, DEFAULT_TONES, strict=True)
    ],
    "send_window": {"start": "09:00", "end": "17:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
}
POLICY = {
    "steps": [{"offset_days": 5, "tone": "firm"}, {"offset_days": -1, "tone": "friendly"}],
    "send_window": {"start": "08:30", "end": "18:00", "days": ["sat", "mon"]},
}
SAVED_POLICY = {
    "steps": [{"offset_days": -1, "tone": "friendly"}, {"offset_days": 5, "tone": "firm"}],
    "send_window": {"start": "08:30", "end": "18:00", "days": ["mon", "sat"]},
}
"""``POLICY`` as stored and shown: steps by offset, days in week order."""
CLIENT_POLICY = {
    "steps": [{"offset_days": 7, "tone": "final"}],
    "send_window": {"start": "10:00", "end": "12:00", "days": ["tue"]},
}


@pytest.fixture
def headers(api: TestClient) -> Headers:
    return auth_headers(api)


def settings_of(api: TestClient, headers: Headers) -> dict[str, Any]:
    return get_ok(api, "/settings/reminders", headers)


def post(api: TestClient, url: str, headers: Headers, body: Any = None) -> dict[str, Any]:
    response = api.post(url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def soon(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


# ── the account's policy ───────────────────────────────────────────────────────────────────


def test_an_account_starts_with_the_default_policy(api: TestClient, headers: Headers) -> None:
    assert settings_of(api, headers) == {
        "policy": DEFAULT_POLICY,
        "source": "default",
        "paused": False,
        "paused_until": None,
    }


def test_a_saved_policy_is_read_back_and_can_be_saved_again(
    api: TestClient, headers: Headers
) -> None:
    saved = api.put("/settings/reminders", json=POLICY, headers=headers)
    assert saved.status_code == 200, saved.text
    expected = {"policy": SAVED_POLICY, "source": "account", "paused": False, "paused_until": None}
    assert saved.json() == expected
    assert settings_of(api, headers) == expected
    # What a client reads it can write back unchanged ("HH:MM", not "HH:MM:SS").
    again = api.put(
        "/settings/reminders", json=settings_of(api, headers)["policy"], headers=headers
    )
    assert again.status_code == 200 and again.json() == expected
    # No steps at all is a valid policy: this account sends no reminders.
    silent = {**POLICY, "steps": []}
    assert (
        api.put("/settings/reminders", json=silent, headers=headers).json()["policy"]["steps"] == []
    )
    other = auth_headers(api, email="grace@example.com")
    assert settings_of(api, other)["source"] == "default"


def window(**change: Any) -> dict[str, Any]:
    return {"send_window": {**POLICY["send_window"], **change}}


def steps(*items: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(items)}


BAD_POLICIES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown tone", steps({"offset_days": 3, "tone": "angry"}), "steps.0.tone"),
    (
        "duplicate offsets",
        steps({"offset_days": 3, "tone": "firm"}, {"offset_days": 3, "tone": "final"}),
        "steps",
    ),
    ("offset too far", steps({"offset_days": 366, "tone": "firm"}), "steps.0.offset_days"),
    ("offset not a number", steps({"offset_days": "3d", "tone": "firm"}), "steps.0.offset_days"),
    ("unknown step field", steps({"offset_days": 3, "tone": "firm", "x": 1}), "steps.0.x"),
    ("too many steps", steps(*({"offset_days": n, "tone": "firm"} for n in range(21))), "steps"),
    ("end before start", window(end="08:00"), "send_window"),
    ("end at start", window(end="08:30"), "send_window"),
    ("unknown day", window(days=["mon", "funday"]), "send_window.days.1"),
    ("repeated day", window(days=["mon", "mon"]), "send_window.days"),
    ("no day", window(days=[]), "send_window.days"),
    ("time with seconds", window(start="08:30:00"), "send_window.start"),
    ("hour 24", window(end="24:00"), "send_window.end"),
    ("no window", {"send_window": None}, "send_window"),
    ("unknown field", {"retries": 3}, "retries"),
]


@pytest.mark.parametrize(
    ("change", "field"), [b[1:] for b in BAD_POLICIES], ids=[b[0] for b in BAD_POLICIES]
)
def test_an_invalid_policy_is_refused_and_nothing_is_saved(
    api: TestClient, headers: Headers, change: dict[str, Any], field: str
) -> None:
    body = {**POLICY, **change}
    assert_error(
        api.put("/settings/reminders", json=body, headers=headers), 422, "invalid_input", field
    )
    assert settings_of(api, headers)["source"] == "default"
    assert api.put("/settings/reminders", json=POLICY, headers=headers).status_code == 200
    assert_error(
        api.put("/settings/reminders", json=body, headers=headers), 422, "invalid_input", field
    )
    assert settings_of(api, headers)["policy"] == SAVED_POLICY


# ── pausing the account ────────────────────────────────────────────────────────────────────


def test_pausing_the_account_withdraws_scheduled_reminders_until_resumed(
    api: TestClient, headers: Headers, database: Database, settings: Settings
) -> None:
    clients = [create_client(api, headers, name=f"Client {n}") for n in range(2)]
    invoices = [overdue_invoice(api, headers, c["id"]) for c in clients]
    worker_pass(database, settings, sender=refusing(*(i["id"] for i in invoices)))

    paused = post(api, "/settings/reminders/pause", headers)
    assert (paused["paused"], paused["paused_until"], paused["source"]) == (True, None, "default")
    assert settings_of(api, headers) == paused
    for invoice in invoices:
        reminder = by_offset(api, headers, invoice["id"])[7]
        assert (reminder["state"], reminder["reason"]) == ("cancelled", "reminders were paused")
        assert outbox_row(database, reminder["id"])["status"] == "cancelled"
        assert timeline(api, headers, invoice["id"])["waiting"] == "reminders are paused"
    # A week on the +14 steps are due, but nothing goes out while the account is paused.
    later = WORKER_NOW + timedelta(days=8)
    assert worker_pass(database, settings, now=later).sent == []

    resumed = post(api, "/settings/reminders/resume", headers)
    assert (resumed["paused"], resumed["paused_until"]) == (False, None)
    assert settings_of(api, headers) == resumed
    sender = worker_pass(database, settings, now=later)
    assert [len(sent_for(sender, i["id"])) for i in invoices] == [1, 1]
    assert {by_offset(api, headers, i["id"])[14]["state"] for i in invoices} == {"sent"}


def test_pausing_the_account_until_a_date(api: TestClient, headers: Headers) -> None:
    until = soon()
    paused = post(api, "/settings/reminders/pause", headers, {"until": until})
    assert (paused["paused"], paused["paused_until"]) == (False, until)
    assert settings_of(api, headers) == paused
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"], due_date=soon(90))
    assert timeline(api, headers, invoice["id"])["waiting"] == f"reminders are paused until {until}"
    # Pausing again without a date pauses until resumed.
    assert post(api, "/settings/reminders/pause", headers, {})["paused"] is True
    assert settings_of(api, headers)["paused_until"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"until": (date.today() - timedelta(days=2)).isoformat()}, "until"),
        ({"until": "2026-02-30"}, "until"),
        ({"until": "next week"}, "until"),
        ({"until": soon(), "reason": "promised"}, "reason"),
    ],
)
def test_a_bad_pause_is_refused_and_changes_nothing(
    api: TestClient, headers: Headers, body: dict[str, Any], field: str
) -> None:
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"])
    for url in [
        "/settings/reminders/pause",
        f"/clients/{client['id']}/pause",
        f"/invoices/{invoice['id']}/pause",
    ]:
        assert_error(api.post(url, json=body, headers=headers), 422, "invalid_input", field)
    assert settings_of(api, headers)["paused"] is False
    assert settings_of(api, headers)["paused_until"] is None
    assert get_ok(api, f"/clients/{client['id']}", headers)["reminders_paused_until"] is None
    assert timeline(api, headers, invoice["id"])["waiting"] != "reminders are paused"
    assert [row["kind"] for row in activity(api, headers, invoice["id"])] == ["created"]


# ── a client's own policy ──────────────────────────────────────────────────────────────────


def test_a_clients_policy_overrides_the_accounts_until_deleted(
    api: TestClient, headers: Headers
) -> None:
    client = create_client(api, headers)
    other = create_client(api, headers, name="Other Co")
    url = f"/clients/{client['id']}/reminders"
    assert get_ok(api, url, headers) == {"policy": DEFAULT_POLICY, "source": "default"}
    assert api.put("/settings/reminders", json=POLICY, headers=headers).status_code == 200
    assert get_ok(api, url, headers) == {"policy": SAVED_POLICY, "source": "account"}

    own = api.put(url, json=CLIENT_POLICY, headers=headers)
    assert own.status_code == 200, own.text
    assert own.json() == {"policy": CLIENT_POLICY, "source": "client"}
    assert get_ok(api, url, headers) == own.json()
    assert get_ok(api, f"/clients/{other['id']}/reminders", headers)["source"] == "account"
    assert settings_of(api, headers)["policy"] == SAVED_POLICY
    invoice = create_invoice(api, headers, client["id"], due_date=soon(90))
    found = timeline(api, headers, invoice["id"])
    assert found["policy_source"] == "client"
    assert [(e["offset_days"], e["tone"]) for e in found["entries"]] == [(7, "final")]

    bad = {**CLIENT_POLICY, "steps": [{"offset_days": 1, "tone": "stern"}]}
    assert_error(api.put(url, json=bad, headers=headers), 422, "invalid_input", "steps.0.tone")
    assert get_ok(api, url, headers) == own.json()

    dropped = api.delete(url, headers=headers)
    assert dropped.status_code == 200, dropped.text
    assert dropped.json() == {"policy": SAVED_POLICY, "source": "account"}
    assert get_ok(api, url, headers) == dropped.json()
    assert timeline(api, headers, invoice["id"])["policy_source"] == "account"
    for method in ("GET", "PUT", "DELETE"):
        response = api.request(method, "/clients/4242/reminders", json=POLICY, headers=headers)
        assert_error(response, 404, "not_found")


def test_the_worker_follows_the_clients_policy(
    api: TestClient, headers: Headers, database: Database, settings: Settings
) -> None:
    client = create_client(api, headers)
    plain = create_client(api, headers, name="Plain Co", email="ap@plain.example")
    policy = {**CLIENT_POLICY, "send_window": {**DEFAULT_POLICY["send_window"]}}
    assert (
        api.put(f"/clients/{client['id']}/reminders", json=policy, headers=headers).status_code
        == 200
    )
    special = overdue_invoice(api, headers, client["id"])
    ordinary = overdue_invoice(api, headers, plain["id"])
    sender = worker_pass(database, settings)
    assert [m.subject.split(":")[0] for m in sent_for(sender, special["id"])] == ["Final notice"]
    assert by_offset(api, headers, special["id"]).keys() == {7}
    assert by_offset(api, headers, ordinary["id"])[7]["tone"] == "neutral"


# ── pausing a client or an invoice ─────────────────────────────────────────────────────────


@pytest.mark.parametrize("level", ["client", "invoice"])
def test_pausing_withdraws_the_scheduled_reminder_and_resuming_lets_the_next_go(
    api: TestClient, headers: Headers, database: Database, settings: Settings, level: str
) -> None:
    client = create_client(api, headers)
    bystander = create_client(api, headers, name="Bystander Co", email="ap@by.example")
    invoice = overdue_invoice(api, headers, client["id"])
    other = overdue_invoice(api, headers, bystander["id"])
    worker_pass(database, settings, sender=refusing(invoice["id"], other["id"]))
    target = f"/{level}s/{client['id'] if level == 'client' else invoice['id']}"

    assert post(api, f"{target}/pause", headers) == {"paused": True, "paused_until": None}
    reminder = by_offset(api, headers, invoice["id"])[7]
    assert (reminder["state"], reminder["reason"]) == ("cancelled", "reminders were paused")
    assert outbox_row(database, reminder["id"])["status"] == "cancelled"
    assert by_offset(api, headers, other["id"])[7]["state"] == "scheduled"
    assert timeline(api, headers, invoice["id"])["waiting"] == "reminders are paused"
    assert timeline(api, headers, other["id"])["waiting"] != "reminders are paused"

    later = WORKER_NOW + timedelta(days=8)
    sender = worker_pass(database, settings, now=later)
    assert sent_for(sender, invoice["id"]) == []
    assert len(sent_for(sender, other["id"])) == 2

    assert post(api, f"{target}/resume", headers) == {"paused": False, "paused_until": None}
    assert timeline(api, headers, invoice["id"])["waiting"] != "reminders are paused"
    sender = worker_pass(database, settings, now=later)
    assert [m.to for m in sent_for(sender, invoice["id"])] == [client["email"]]
    assert by_offset(api, headers, invoice["id"])[14]["state"] == "sent"
    if level == "invoice":
        kinds = [row["kind"] for row in activity(api, headers, invoice["id"])]
        assert kinds == [
            "created",
            *["reminder_skipped"] * 3,
            "reminder_scheduled",
            "reminder_cancelled",
            "paused",
            "resumed",
            "reminder_scheduled",
            "reminder_sent",
        ]


@pytest.mark.parametrize("level", ["client", "invoice"])
def test_pausing_until_a_date_then_resuming(api: TestClient, headers: Headers, level: str) -> None:
    client = create_client(api, headers)
    invoice = create_invoice(api, headers, client["id"], due_date=soon(90))
    target = f"/{level}s/{client['id'] if level == 'client' else invoice['id']}"
    until = soon()
    assert post(api, f"{target}/pause", headers, {"until": until}) == {
        "paused": False,
        "paused_until": until,
    }
    found = timeline(api, headers, invoice["id"])
    assert found["waiting"] == f"reminders are paused until {until}"
    assert [e["offset_days"] for e in found["entries"]] == DEFAULT_OFFSETS
    if level == "client":
        assert get_ok(api, target, headers)["reminders_paused_until"] == until
    else:
        last = activity(api, headers, invoice["id"])[-1]
        assert (last["kind"], last["detail"]) == ("paused", f"until {until}")
    assert post(api, f"{target}/resume", headers) == {"paused": False, "paused_until": None}
    assert timeline(api, headers, invoice["id"])["waiting"] is None
    assert_error(api.post(f"/{level}s/4242/pause", headers=headers), 404, "not_found")
    assert_error(api.post(f"/{level}s/4242/resume", headers=headers), 404, "not_found")
