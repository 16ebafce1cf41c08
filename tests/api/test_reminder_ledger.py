"""The reminder ledger: listing it, and what people do to it (send now, cancel, pay, void).

Each test drives the real worker at a fixed ``now`` and counts what a
:class:`RecordingSender` received, so "never twice" and "never after payment" are
observed at the point where an email would leave, not inferred from a state column.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duespark.clock import utc_now
from duespark.config import Settings
from duespark.db import Database
from duespark.email.recording import RecordingSender
from duespark.outbox.relay import relay_once
from tests.api.test_clients import assert_error
from tests.api.test_reminders import (
    WORKER_NOW,
    Headers,
    activity,
    by_offset,
    get_ok,
    instant,
    ledger,
    outbox_row,
    overdue_invoice,
    refusing,
    sent_for,
    worker_pass,
)
from tests.factories import auth_headers, create_client, create_invoice


@pytest.fixture
def headers(api: TestClient) -> Headers:
    return auth_headers(api)


@pytest.fixture
def client(api: TestClient, headers: Headers) -> dict[str, Any]:
    return create_client(api, headers)


def post(api: TestClient, url: str, headers: Headers, **kwargs: Any) -> dict[str, Any]:
    response = api.post(url, headers=headers, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def relay_now(database: Database) -> RecordingSender:
    """Only the relay, at the real time: delivers what is due now and plans nothing new."""
    sender = RecordingSender()
    relay_once(database, sender, worker_id="test-relay", now_fn=utc_now)
    return sender


# ── the ledger: list and read ──────────────────────────────────────────────────────────────


def test_the_ledger_lists_filters_and_pages(
    api: TestClient, headers: Headers, database: Database, settings: Settings
) -> None:
    first = create_client(api, headers, name="First Co", email="ap@first.example")
    second = create_client(api, headers, name="Second Co", email="ap@second.example")
    sent = overdue_invoice(api, headers, first["id"])
    waiting = overdue_invoice(api, headers, second["id"])
    create_invoice(api, headers, first["id"])  # open, not yet due in June: no reminders
    worker_pass(database, settings, sender=refusing(waiting["id"]))

    everything = ledger(api, headers, limit=200)
    assert everything["total"] == 8 and len(everything["items"]) == 8
    # Newest first: both +7 steps (scheduled on the same instant) before the skipped ones.
    assert [item["offset_days"] for item in everything["items"][:2]] == [7, 7]
    instants = [instant(item["scheduled_for"]) for item in everything["items"]]
    assert instants == sorted(instants, reverse=True)

    def pick(**params: Any) -> set[tuple[int, int, str]]:
        page = ledger(api, headers, limit=200, **params)
        assert page["total"] == len(page["items"])
        return {(i["invoice_id"], i["offset_days"], i["state"]) for i in page["items"]}

    assert pick(state="sent") == {(sent["id"], 7, "sent")}
    assert pick(state="scheduled") == {(waiting["id"], 7, "scheduled")}
    assert pick(state="skipped") == {
        (i["id"], o, "skipped") for i in (sent, waiting) for o in (-3, 0, 3)
    }
    assert pick(state="cancelled") == set()
    assert {o for _, o, _ in pick(invoice_id=sent["id"])} == {-3, 0, 3, 7}
    assert {i for i, _, _ in pick(invoice_id=sent["id"])} == {sent["id"]}
    assert {i for i, _, _ in pick(client_id=second["id"])} == {waiting["id"]}
    assert len(pick(client_id=second["id"])) == 4
    assert pick(client_id=first["id"], state="skipped") == {
        (sent["id"], o, "skipped") for o in (-3, 0, 3)
    }
    assert pick(invoice_id=sent["id"], client_id=second["id"]) == set()

    pages = [ledger(api, headers, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [len(page["items"]) for page in pages] == [3, 3, 2, 0]
    assert {(page["total"], page["limit"]) for page in pages} == {(8, 3)}
    assert [page["offset"] for page in pages] == [0, 3, 6, 9]
    paged = [item for page in pages for item in page["items"]]
    assert paged == everything["items"]

    one = everything["items"][0]
    assert get_ok(api, f"/reminders/{one['id']}", headers) == one
    assert set(one) == {
        "id", "invoice_id", "offset_days", "tone", "state", "reason",
        "scheduled_for", "sent_at", "created_at", "updated_at",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "upcoming"}, "state"),
        ({"invoice_id": 0}, "invoice_id"),
        ({"client_id": "abc"}, "client_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_ledger_filters_are_refused(
    api: TestClient, headers: Headers, params: dict[str, Any], field: str
) -> None:
    response = api.get("/reminders", params=params, headers=headers)
    assert_error(response, 422, "invalid_input", field)


def test_an_unknown_reminder_is_a_404(api: TestClient, headers: Headers) -> None:
    for method, url in [
        ("GET", "/reminders/4242"),
        ("POST", "/reminders/4242/send-now"),
        ("POST", "/reminders/4242/cancel"),
    ]:
        assert_error(api.request(method, url, headers=headers), 404, "not_found")


# ── send now ───────────────────────────────────────────────────────────────────────────────


def test_send_now_makes_a_waiting_reminder_due_and_it_goes_out_once(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings, sender=refusing(invoice["id"]))
    reminder = by_offset(api, headers, invoice["id"])[7]
    assert reminder["state"] == "scheduled"
    waiting = outbox_row(database, reminder["id"])
    # The refused attempt put the email in backoff, after the pass's own clock.
    assert waiting["status"] == "pending" and waiting["attempts"] == 1
    assert waiting["next_attempt_at"] > WORKER_NOW

    before = utc_now()
    answered = post(api, f"/reminders/{reminder['id']}/send-now", headers)
    after = utc_now()
    assert answered["id"] == reminder["id"]
    assert answered["state"] == "scheduled"
    due = outbox_row(database, reminder["id"])
    assert due["status"] == "pending" and due["attempts"] == 1
    assert before <= due["next_attempt_at"] <= after
    assert activity(api, headers, invoice["id"])[-1]["kind"] == "reminder_send_now"

    sender = relay_now(database)
    assert len(sender.sent) == 1 and sender.sent[0].to == client["email"]
    read = get_ok(api, f"/reminders/{reminder['id']}", headers)
    assert read["state"] == "sent" and read["sent_at"] is not None

    # Never twice: a sent reminder cannot be sent again, and no pass sends it again.
    refused = api.post(f"/reminders/{reminder['id']}/send-now", headers=headers)
    assert "sent" in assert_error(refused, 409, "conflict", "state")
    assert outbox_row(database, reminder["id"])["status"] == "sent"
    assert relay_now(database).sent == []
    assert sent_for(worker_pass(database, settings), invoice["id"]) == []
    assert get_ok(api, f"/reminders/{reminder['id']}", headers) == read


def test_send_now_retries_a_failed_reminder_with_a_fresh_start(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings, sender=refusing(invoice["id"], permanent=True))
    failed = by_offset(api, headers, invoice["id"])[7]
    assert failed["state"] == "failed" and "451 mailbox busy" in failed["reason"]
    assert outbox_row(database, failed["id"])["status"] == "dead"

    answered = post(api, f"/reminders/{failed['id']}/send-now", headers)
    assert (answered["state"], answered["reason"]) == ("scheduled", "")
    row = outbox_row(database, failed["id"])
    assert (row["status"], row["attempts"]) == ("pending", 0)

    sender = relay_now(database)
    assert len(sent_for(sender, invoice["id"])) == 1 and len(sender.sent) == 1
    assert get_ok(api, f"/reminders/{failed['id']}", headers)["state"] == "sent"


def test_send_now_and_cancel_refuse_reminders_that_are_not_waiting(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings)
    rows = by_offset(api, headers, invoice["id"])
    assert rows[7]["state"] == "sent" and rows[0]["state"] == "skipped"
    for reminder in (rows[7], rows[0]):
        for action in ("send-now", "cancel"):
            response = api.post(f"/reminders/{reminder['id']}/{action}", headers=headers)
            assert reminder["state"] in assert_error(response, 409, "conflict", "state")
    assert by_offset(api, headers, invoice["id"]) == rows
    assert outbox_row(database, rows[7]["id"])["status"] == "sent"
    assert relay_now(database).sent == []


# ── cancel ─────────────────────────────────────────────────────────────────────────────────


def test_cancel_withdraws_a_scheduled_reminder_and_its_email(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    other = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings, sender=refusing(invoice["id"], other["id"]))
    reminder = by_offset(api, headers, invoice["id"])[7]
    untouched = by_offset(api, headers, other["id"])[7]

    cancelled = post(api, f"/reminders/{reminder['id']}/cancel", headers)
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "cancelled by hand")
    assert outbox_row(database, reminder["id"])["status"] == "cancelled"
    assert activity(api, headers, invoice["id"])[-1]["kind"] == "reminder_cancelled"
    assert get_ok(api, f"/reminders/{untouched['id']}", headers) == untouched
    assert outbox_row(database, untouched["id"])["status"] == "pending"

    for action in ("cancel", "send-now"):
        response = api.post(f"/reminders/{reminder['id']}/{action}", headers=headers)
        assert "cancelled" in assert_error(response, 409, "conflict", "state")

    # A day later the other invoice's email goes out; the cancelled step is not re-planned.
    sender = worker_pass(database, settings, now=WORKER_NOW + timedelta(days=1))
    assert sent_for(sender, invoice["id"]) == []
    assert len(sent_for(sender, other["id"])) == 1
    assert by_offset(api, headers, invoice["id"])[7]["state"] == "cancelled"
    assert len(by_offset(api, headers, invoice["id"])) == 4


# ── paying, voiding, back to draft ─────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("method", "path", "body", "reason", "kind"),
    [
        ("POST", "mark-paid", None, "invoice was paid", "paid"),
        ("POST", "void", None, "invoice was voided", "voided"),
        ("PATCH", "", {"status": "draft"}, "invoice returned to draft", "draft"),
    ],
    ids=["paid", "void", "draft"],
)
def test_ending_an_invoice_cancels_its_reminder_and_nothing_is_sent_after(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    reason: str,
    kind: str,
) -> None:
    ended = overdue_invoice(api, headers, client["id"])
    still_open = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings, sender=refusing(ended["id"], still_open["id"]))
    reminder = by_offset(api, headers, ended["id"])[7]
    assert reminder["state"] == "scheduled"

    url = f"/invoices/{ended['id']}/{path}".rstrip("/")
    response = api.request(method, url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    read = get_ok(api, f"/reminders/{reminder['id']}", headers)
    assert (read["state"], read["reason"]) == ("cancelled", reason)
    assert outbox_row(database, reminder["id"])["status"] == "cancelled"
    assert activity(api, headers, ended["id"])[-1]["kind"] == kind
    assert by_offset(api, headers, still_open["id"])[7]["state"] == "scheduled"

    # Eight days on: the open invoice's waiting +7 and its new +14 go out; the ended one
    # gets nothing, neither its withdrawn +7 nor a new step.
    sender = worker_pass(database, settings, now=WORKER_NOW + timedelta(days=8))
    assert sent_for(sender, ended["id"]) == []
    assert len(sent_for(sender, still_open["id"])) == 2
    assert len(sender.sent) == 2
    assert set(by_offset(api, headers, ended["id"])) == {-3, 0, 3, 7}


def test_two_passes_at_the_same_moment_send_each_step_once(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    first = worker_pass(database, settings)
    second = worker_pass(database, settings)
    assert len(sent_for(first, invoice["id"])) == 1
    assert second.sent == []
    assert ledger_states(api, headers, invoice["id"]) == {
        -3: "skipped",
        0: "skipped",
        3: "skipped",
        7: "sent",
    }


def ledger_states(api: TestClient, headers: Headers, invoice_id: int) -> dict[int, str]:
    return {offset: row["state"] for offset, row in by_offset(api, headers, invoice_id).items()}


# ── activity ───────────────────────────────────────────────────────────────────────────────


def test_activity_lists_what_happened_in_order(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    paid = overdue_invoice(api, headers, client["id"])
    voided = overdue_invoice(api, headers, client["id"], status="draft")
    worker_pass(database, settings)
    paid_at = {"paid_at": "2026-06-20T10:00:00+00:00"}
    post(api, f"/invoices/{paid['id']}/mark-paid", headers, json=paid_at)
    opened = api.patch(f"/invoices/{voided['id']}", json={"status": "open"}, headers=headers)
    assert opened.status_code == 200, opened.text
    post(api, f"/invoices/{voided['id']}/void", headers)
    post(api, f"/invoices/{voided['id']}/reopen", headers)

    rows = activity(api, headers, paid["id"])
    assert [row["kind"] for row in rows] == [
        "created",
        "reminder_skipped",
        "reminder_skipped",
        "reminder_skipped",
        "reminder_scheduled",
        "reminder_sent",
        "paid",
    ]
    assert rows[0]["detail"] == "open, due 2026-06-10"
    assert rows[4]["detail"] == "neutral reminder (+7 days)"
    assert rows[5]["detail"] == f"neutral reminder (+7 days): sent to {client['email']}"
    assert rows[6]["detail"] == "1250.00 USD on 2026-06-20"
    assert [row["detail"].split(":")[0] for row in rows[1:4]] == [
        "friendly reminder (-3 days)",
        "friendly reminder (+0 days)",
        "neutral reminder (+3 days)",
    ]
    assert all("catch-up" in row["detail"] for row in rows[1:4])
    assert set(rows[0]) == {"id", "kind", "detail", "created_at"}
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert instant(rows[5]["created_at"]) == WORKER_NOW

    assert [row["kind"] for row in activity(api, headers, voided["id"])] == [
        "created",
        "open",
        "voided",
        "reopened",
    ]


def test_a_payment_date_is_logged_as_the_date_given(
    api: TestClient, headers: Headers, client: dict[str, Any]
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    post(api, f"/invoices/{invoice['id']}/mark-paid", headers, json={"paid_at": "2026-06-20"})
    assert activity(api, headers, invoice["id"])[-1]["detail"] == "1250.00 USD on 2026-06-20"
