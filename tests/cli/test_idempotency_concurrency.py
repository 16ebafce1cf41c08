"""50 identical keyed requests at once, against a real two-process server, on each backend.

Each operation that takes an ``Idempotency-Key`` (create client, create invoice, mark paid)
is sent 50 times at the same moment, from 50 connections, with one key. Exactly one
resource may come of it, and all 50 answers must be the same status and the same body.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.cli.conftest import run_cli
from tests.cli.serving import Server, running_server
from tests.factories import auth_headers, create_client, create_invoice

pytestmark = pytest.mark.xdist_group("multiprocess")

COPIES = 50


def _all_at_once(server: Server, path: str, body: dict[str, Any], headers: dict[str, str]) -> list:
    barrier = threading.Barrier(COPIES)

    def send(_: int) -> tuple[int, Any]:
        with server.client() as http:
            http.get("/healthz")  # open the connection before the start line
            barrier.wait(timeout=30)
            response = http.post(path, json=body, headers=headers, timeout=60)
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        return list(pool.map(send, range(COPIES)))


def test_fifty_identical_requests_create_one_resource_and_agree(
    cli_environ: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("db", "upgrade", env=cli_environ, cwd=tmp_path).returncode == 0
    serving = running_server(cli_environ, tmp_path, args=["--workers", "2"])
    with serving as server, server.client() as http:
        headers = auth_headers(http)  # type: ignore[arg-type]
        keyed = {**headers, "Idempotency-Key": "once-client"}
        client_body = {
            "name": "Umbrella", "email": "ap@umbrella.example",
            "time_zone": "Europe/Berlin", "default_currency": "EUR",
        }  # fmt: skip
        clients = _all_at_once(server, "/clients", client_body, keyed)

        client = create_client(http, headers)  # type: ignore[arg-type]
        invoice_body = {
            "client_id": client["id"], "number": "ONCE-1", "amount": "300.00",
            "issue_date": "2026-10-01", "due_date": "2026-10-31",
        }  # fmt: skip
        invoices = _all_at_once(
            server, "/invoices", invoice_body, {**headers, "Idempotency-Key": "once-invoice"}
        )

        unpaid = create_invoice(http, headers, client["id"])  # type: ignore[arg-type]
        payments = _all_at_once(
            server,
            f"/invoices/{unpaid['id']}/mark-paid",
            {"paid_at": "2026-11-03"},
            {**headers, "Idempotency-Key": "once-payment"},
        )

        listed_clients = http.get("/clients", params={"q": "Umbrella"}, headers=headers)
        listed_invoices = http.get("/invoices", params={"q": "ONCE-1"}, headers=headers)
        activity = http.get(f"/invoices/{unpaid['id']}/activity", headers=headers)

    for answers, status in ((clients, 201), (invoices, 201), (payments, 200)):
        assert {code for code, _ in answers} == {status}, answers[:3]
        assert all(body == answers[0][1] for _, body in answers)
    assert listed_clients.json()["total"] == 1
    assert listed_invoices.json()["total"] == 1
    assert answers[0][1]["status"] == "paid"
    paid_events = [item for item in _items(activity) if "paid" in str(item).lower()]
    assert len(paid_events) == 1, paid_events


def _items(response: httpx2.Response) -> list[Any]:
    body = response.json()
    return body["items"] if isinstance(body, dict) else body
