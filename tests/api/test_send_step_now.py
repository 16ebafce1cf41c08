"""Sending a step of an invoice's policy by hand, before its time: it goes once, joins the
ledger, and the worker never sends it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from duespark.clock import utc_now
from duespark.config import Settings
from duespark.db import Database
from duespark.email.recording import RecordingSender
from duespark.outbox.relay import relay_once
from tests.api.test_clients import assert_error
from tests.api.test_reminders import WORKER_NOW, by_offset, overdue_invoice, sent_for, worker_pass
from tests.factories import auth_headers, create_client, create_invoice


def send_now(api: TestClient, headers: dict[str, str], invoice_id: int, offset: int) -> Any:
    return api.post(
        f"/invoices/{invoice_id}/reminders/send-now", json={"offset_days": offset}, headers=headers
    )


def test_an_upcoming_step_goes_at_once_and_never_again(
    api: TestClient, database: Database, settings: Settings
) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    invoice = overdue_invoice(api, headers, client["id"])
    worker_pass(database, settings)  # +7 sent, -3..+3 skipped; +14 and +30 still ahead
    response = send_now(api, headers, invoice["id"], 30)
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "scheduled"
    assert response.json()["tone"] == "final"

    sender = RecordingSender()
    relay_once(database, sender, worker_id="relay", now_fn=utc_now)
    sent = sent_for(sender, invoice["id"])
    assert len(sent) == 1 and sent[0].subject.startswith("Final notice")
    assert by_offset(api, headers, invoice["id"])[30]["state"] == "sent"

    again = send_now(api, headers, invoice["id"], 30)
    assert_error(again, 409, "conflict")
    later = worker_pass(database, settings, now=WORKER_NOW + timedelta(days=40))
    assert all("-+30@" not in m.message_id for m in sent_for(later, invoice["id"]))
    kinds = [
        row["kind"]
        for row in api.get(f"/invoices/{invoice['id']}/activity", headers=headers).json()
    ]
    assert "reminder_send_now" in kinds


def test_refusals_change_nothing(api: TestClient) -> None:
    headers = auth_headers(api)
    client = create_client(api, headers)
    open_invoice = create_invoice(api, headers, client["id"], due_date="2026-12-31")
    draft = create_invoice(api, headers, client["id"], status="draft")
    assert_error(send_now(api, headers, open_invoice["id"], 5), 422, "invalid_input", "offset_days")
    assert_error(send_now(api, headers, draft["id"], 0), 409, "conflict")
    paused = api.post(f"/invoices/{open_invoice['id']}/pause", headers=headers)
    assert paused.status_code == 200
    assert_error(send_now(api, headers, open_invoice["id"], 0), 409, "conflict")
    bad = api.post(
        f"/invoices/{open_invoice['id']}/reminders/send-now",
        json={"offset_days": 0, "extra": 1},
        headers=headers,
    )
    assert bad.status_code == 422
    assert api.get("/reminders", headers=headers).json()["total"] == 0
