"""Reminders through the API: the timeline, previews, the ledger, send-now, cancel, activity.

The reminders themselves come from the real worker (planning and outbox relay) run with a
fixed ``now``; the API reads the real clock, so assertions that depend on it are either
computed from the real date or use due dates far enough away to be stable. Emails go to a
:class:`RecordingSender`, so "sent" and "not sent" are counted, not assumed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duespark.clock import utc_now
from duespark.config import Settings
from duespark.db import Database
from duespark.email.errors import DeliveryFailed
from duespark.email.message import EmailMessage
from duespark.email.recording import RecordingSender
from duespark.models import OutboxMessage
from duespark.worker.main import Worker
from tests.api.test_clients import assert_error
from tests.factories import auth_headers, create_client, create_invoice

Headers = dict[str, str]

WORKER_NOW = datetime(2026, 6, 17, 15, 0, tzinfo=UTC)
"""A Wednesday, 11:00 in New York (the default test client's zone): inside the default
Monday-to-Friday 09:00-17:00 window."""
DUE = date(2026, 6, 10)
"""Due a week before ``WORKER_NOW``: its +7 step is the one due then, and -3, 0 and +3
were missed (skipped as catch-up)."""
PLUS_7_AT = datetime(2026, 6, 17, 13, 0, tzinfo=UTC)
"""When the +7 step of ``DUE`` became sendable: 09:00 New York time (EDT) that Wednesday."""
DEFAULT_OFFSETS = [-3, 0, 3, 7, 14, 30]
DEFAULT_TONES = ["friendly", "friendly", "neutral", "neutral", "firm", "final"]
NEW_YORK = ZoneInfo("America/New_York")


# ── helpers shared with the other reminder and isolation tests ─────────────────────────────


def worker_pass(
    database: Database,
    settings: Settings,
    *,
    now: datetime = WORKER_NOW,
    sender: RecordingSender | None = None,
) -> RecordingSender:
    """One real worker pass (planning, then the relay) at ``now``; returns the sender."""
    sender = sender or RecordingSender()
    Worker(database, settings, sender, worker_id="test-worker", now_fn=lambda: now).run_once()
    return sender


def refusing(*invoice_ids: int, permanent: bool = False) -> RecordingSender:
    """A sender that refuses the reminders of ``invoice_ids``: temporarily (the reminder stays
    scheduled, its email waits out a backoff) or for good (the email is dead)."""
    keys = tuple(f"<reminder-{invoice_id}-" for invoice_id in invoice_ids)

    def refuse(message: EmailMessage) -> DeliveryFailed | None:
        if message.message_id.startswith(keys):
            return DeliveryFailed("451 mailbox busy, try later", permanent=permanent)
        return None

    return RecordingSender(refuse=refuse)


def overdue_invoice(
    api: TestClient, headers: Headers, client_id: int, **overrides: Any
) -> dict[str, Any]:
    """An open invoice due on ``DUE``."""
    return create_invoice(
        api, headers, client_id, issue_date="2026-05-11", due_date=DUE.isoformat(), **overrides
    )


def get_ok(api: TestClient, url: str, headers: Headers, **params: Any) -> Any:
    response = api.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def ledger(api: TestClient, headers: Headers, **params: Any) -> dict[str, Any]:
    return get_ok(api, "/reminders", headers, **params)


def by_offset(api: TestClient, headers: Headers, invoice_id: int) -> dict[int, dict[str, Any]]:
    """The invoice's ledger rows, keyed by step."""
    items = ledger(api, headers, invoice_id=invoice_id, limit=200)["items"]
    return {item["offset_days"]: item for item in items}


def timeline(api: TestClient, headers: Headers, invoice_id: int) -> dict[str, Any]:
    return get_ok(api, f"/invoices/{invoice_id}/reminders", headers)


def activity(api: TestClient, headers: Headers, invoice_id: int) -> list[dict[str, Any]]:
    return get_ok(api, f"/invoices/{invoice_id}/activity", headers)


def outbox_row(database: Database, reminder_id: int) -> dict[str, Any]:
    """The reminder's email as the relay sees it (the API does not show the outbox)."""
    with database.session_scope() as session:
        message = session.scalar(
            select(OutboxMessage).where(OutboxMessage.reminder_id == reminder_id)
        )
        assert message is not None, f"reminder {reminder_id} has no email"
        return {
            "status": message.status,
            "attempts": message.attempts,
            "next_attempt_at": message.next_attempt_at,
        }


def sent_for(sender: RecordingSender, invoice_id: int) -> list[EmailMessage]:
    return [m for m in sender.sent if m.message_id.startswith(f"<reminder-{invoice_id}-")]


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def headers(api: TestClient) -> Headers:
    return auth_headers(api)


@pytest.fixture
def client(api: TestClient, headers: Headers) -> dict[str, Any]:
    return create_client(api, headers)


# ── the timeline ───────────────────────────────────────────────────────────────────────────


def test_timeline_lists_the_steps_ahead_inside_the_clients_window(
    api: TestClient, headers: Headers, client: dict[str, Any]
) -> None:
    due = date.today() + timedelta(days=120)
    invoice = create_invoice(api, headers, client["id"], issue_date=None, due_date=due.isoformat())
    found = timeline(api, headers, invoice["id"])
    assert found["invoice_id"] == invoice["id"]
    assert found["policy_source"] == "default"
    assert found["waiting"] is None
    entries = found["entries"]
    assert [e["offset_days"] for e in entries] == DEFAULT_OFFSETS
    assert [e["tone"] for e in entries] == DEFAULT_TONES
    for entry in entries:
        assert (entry["state"], entry["reminder_id"], entry["reason"]) == ("upcoming", None, "")
        local = instant(entry["at"]).astimezone(NEW_YORK)
        # 09:00 New York time on a weekday: the step's own day, or the Monday after a weekend.
        assert local.time() == time(9, 0) and local.weekday() < 5, local
        step_day = due + timedelta(days=entry["offset_days"])
        assert step_day <= local.date() <= step_day + timedelta(days=2), local


def test_timeline_instants_are_the_window_opening_in_the_clients_zone(
    api: TestClient, headers: Headers
) -> None:
    """With every day open, each step is exactly the window's opening on its day, wall-clock
    time in the client's zone, whatever that zone's offset (or DST) that day."""
    policy = {
        "steps": [{"offset_days": 5, "tone": "firm"}, {"offset_days": -2, "tone": "friendly"}],
        "send_window": {
            "start": "08:30",
            "end": "18:00",
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        },
    }
    assert api.put("/settings/reminders", json=policy, headers=headers).status_code == 200
    due = date.today() + timedelta(days=90)
    for zone in ["Asia/Tokyo", "America/Los_Angeles", "Australia/Lord_Howe"]:
        client = create_client(api, headers, name=f"Client in {zone}", time_zone=zone)
        invoice = create_invoice(api, headers, client["id"], due_date=due.isoformat())
        found = timeline(api, headers, invoice["id"])
        assert found["policy_source"] == "account"
        expected = [
            (offset, tone, datetime.combine(due + timedelta(days=offset), time(8, 30)))
            for offset, tone in [(-2, "friendly"), (5, "firm")]
        ]
        got = [
            (e["offset_days"], e["tone"], instant(e["at"]).astimezone(ZoneInfo(zone)))
            for e in found["entries"]
        ]
        assert [(o, t, at.replace(tzinfo=None)) for o, t, at in got] == expected, zone


def test_after_a_pass_the_timeline_shows_sent_scheduled_and_skipped_steps(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    sent = overdue_invoice(api, headers, client["id"])
    waiting = overdue_invoice(api, headers, client["id"])
    sender = worker_pass(database, settings, sender=refusing(waiting["id"]))
    assert len(sender.sent) == 1
    assert sender.sent[0].to == client["email"]
    assert sent["number"] in sender.sent[0].subject

    for invoice, state, at in [(sent, "sent", WORKER_NOW), (waiting, "scheduled", PLUS_7_AT)]:
        entries = timeline(api, headers, invoice["id"])["entries"]
        recorded = [e for e in entries if e["reminder_id"] is not None]
        assert [(e["offset_days"], e["state"]) for e in recorded] == [
            (-3, "skipped"),
            (0, "skipped"),
            (3, "skipped"),
            (7, state),
        ]
        for entry in recorded[:3]:
            assert entry["reason"].startswith("catch-up"), entry
        assert recorded[3]["reason"] == ""
        assert instant(recorded[3]["at"]) == at
        ledger_ids = {row["id"] for row in by_offset(api, headers, invoice["id"]).values()}
        assert {e["reminder_id"] for e in recorded} == ledger_ids

    # By the real clock the +14 and +30 steps are long due: the next pass sends the final
    # notice (the +14 is a catch-up skip), and the timeline says so, inside the window.
    before = utc_now()
    ahead = [e for e in timeline(api, headers, sent["id"])["entries"] if e["reminder_id"] is None]
    assert [(e["offset_days"], e["tone"], e["state"]) for e in ahead] == [(30, "final", "upcoming")]
    local = instant(ahead[0]["at"]).astimezone(NEW_YORK)
    assert instant(ahead[0]["at"]) >= before - timedelta(seconds=1)
    assert local.weekday() < 5 and time(9, 0) <= local.time() < time(17, 0), local


def test_a_paid_invoice_shows_its_cancelled_step_and_nothing_ahead(
    api: TestClient,
    headers: Headers,
    client: dict[str, Any],
    database: Database,
    settings: Settings,
) -> None:
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings, sender=refusing(invoice["id"]))
    assert api.post(f"/invoices/{invoice['id']}/mark-paid", headers=headers).status_code == 200
    found = timeline(api, headers, invoice["id"])
    assert found["waiting"] == "the invoice is paid"
    assert [(e["offset_days"], e["state"]) for e in found["entries"]] == [
        (-3, "skipped"),
        (0, "skipped"),
        (3, "skipped"),
        (7, "cancelled"),
    ]
    assert found["entries"][-1]["reason"] == "invoice was paid"


def test_timeline_of_an_unknown_invoice_is_a_404(api: TestClient, headers: Headers) -> None:
    assert_error(api.get("/invoices/4242/reminders", headers=headers), 404, "not_found")
    assert_error(api.get("/invoices/4242/activity", headers=headers), 404, "not_found")
    assert_error(api.get("/invoices/0/reminders", headers=headers), 422, "invalid_input")


# ── previews ───────────────────────────────────────────────────────────────────────────────


def preview(api: TestClient, headers: Headers, invoice_id: int, body: Any = None) -> Any:
    url = f"/invoices/{invoice_id}/reminders/preview"
    if body is None:
        return api.post(url, headers=headers)
    return api.post(url, json=body, headers=headers)


def preview_ok(api: TestClient, headers: Headers, invoice_id: int, body: Any = None) -> Any:
    response = preview(api, headers, invoice_id, body)
    assert response.status_code == 200, response.text
    return response.json()


def test_previewing_a_step_renders_its_tone(
    api: TestClient, headers: Headers, client: dict[str, Any]
) -> None:
    due = date.today() + timedelta(days=60)
    invoice = create_invoice(api, headers, client["id"], due_date=due.isoformat())
    by_tone = {
        tone: preview_ok(api, headers, invoice["id"], {"tone": tone})
        for tone in ["friendly", "neutral", "firm", "final"]
    }
    assert len({email["subject"] for email in by_tone.values()}) == 4
    assert len({email["text"] for email in by_tone.values()}) == 4
    for offset, tone in zip(DEFAULT_OFFSETS, DEFAULT_TONES, strict=True):
        assert preview_ok(api, headers, invoice["id"], {"offset_days": offset}) == by_tone[tone]
    final = by_tone["final"]
    assert final["to"] == client["email"]
    assert final["subject"].startswith(f"Final notice: invoice {invoice['number']} ($1,250.00)")
    assert by_tone["firm"]["subject"] == f"Payment due: invoice {invoice['number']} ($1,250.00)"
    # No body: the next step still ahead, the -3 friendly heads-up.
    assert preview_ok(api, headers, invoice["id"]) == by_tone["friendly"]
    assert by_tone["friendly"]["subject"].startswith(f"Heads-up: invoice {invoice['number']}")


def test_previewing_an_offset_that_is_not_a_step_is_refused(
    api: TestClient, headers: Headers, client: dict[str, Any]
) -> None:
    invoice = create_invoice(api, headers, client["id"])
    response = preview(api, headers, invoice["id"], {"offset_days": 5})
    message = assert_error(response, 422, "invalid_input", "offset_days")
    assert "+5" in message and "[-3, 0, 3, 7, 14, 30]" in message
    for body, field in [
        ({"offset_days": 366}, "offset_days"),
        ({"offset_days": "soon"}, "offset_days"),
        ({"tone": "angry"}, "tone"),
        ({"offset_days": 7, "subject": "x"}, "subject"),
    ]:
        assert_error(preview(api, headers, invoice["id"], body), 422, "invalid_input", field)
    assert_error(preview(api, headers, 4242, {"tone": "firm"}), 404, "not_found")


def test_preview_escapes_html_and_keeps_text_and_subject_literal(
    api: TestClient, headers: Headers
) -> None:
    template = {
        "subject": "Invoice {{ invoice_number }} for {{ client_name }}",
        "body": "Hello {{ contact_name }},\n\n{{ amount }} is due.\n\n{{ pay_link }}",
    }
    assert api.put("/templates/neutral", json=template, headers=headers).status_code == 200
    pay = "https://pay.example.com/i/42?a=1&b=2"

    script = create_client(
        api, headers, name="<script>alert(1)</script>", contact_name=None, email="x@evil.example"
    )
    invoice = create_invoice(api, headers, script["id"], payment_url=pay)
    email = preview_ok(api, headers, invoice["id"], {"tone": "friendly"})
    assert "Hello <script>alert(1)</script>," in email["text"]
    assert "<script" not in email["html"]
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in email["html"]

    brien = create_client(
        api, headers, name="O'Brien & Co", contact_name=None, email="ap@obrien.example"
    )
    invoice = create_invoice(api, headers, brien["id"], number="OB-7", payment_url=pay)
    email = preview_ok(api, headers, invoice["id"], {"tone": "neutral"})
    assert email["subject"] == "Invoice OB-7 for O'Brien & Co"
    assert email["text"] == f"Hello O'Brien & Co,\n\n$1,250.00 is due.\n\n{pay}\n"
    for markup in ("<", ">", "&amp;", "&#39;", "href"):
        assert markup not in email["text"], markup
    assert "<title>Invoice OB-7 for O&#39;Brien &amp; Co</title>" in email["html"]
    assert "Hello O&#39;Brien &amp; Co," in email["html"]
    assert '<a href="https://pay.example.com/i/42?a=1&amp;b=2"' in email["html"]
