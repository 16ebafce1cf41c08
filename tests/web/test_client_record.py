"""A client's page shows its payment record, from the analytics service: open balance per
currency, payments in the past year, the share paid on time, average days late, the last
payment."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.helpers import create_client, create_invoice, html, sign_up, submit
from tests.web.html import Element


def facts(page: Element) -> dict[str, str]:
    record = page.find("section", **{"aria-labelledby": "payer-stats"})
    return {
        item.find("dt").text: item.find("dd").text for item in record.find("dl").find_all("div")
    }


def pay(web: TestClient, invoice_id: int, on: str) -> None:
    response = submit(web, f"/app/invoices/{invoice_id}/mark-paid", {"paid_at": on})
    assert response.status_code == 303, response.text


def test_a_new_client_has_no_record_yet(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web)
    assert facts(html(web.get(f"/app/clients/{client_id}"))) == {
        "Open balance": "Nothing open",
        "Paid invoices": "0 since 18 Jun 2025",
        "Paid on time": "No payments yet",
        "Average days late": "No payments yet",
        "Last payment": "None yet",
    }


def test_the_payment_record(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web)
    late = create_invoice(
        web, client_id, number="A-1", issue_date="2026-04-01", due_date="2026-05-01"
    )
    early = create_invoice(
        web, client_id, number="A-2", issue_date="2026-05-01", due_date="2026-06-01"
    )
    create_invoice(web, client_id, number="A-3", amount="300.00", due_date="2026-07-01")
    create_invoice(
        web, client_id, number="A-4", amount="70.00", currency="EUR", due_date="2026-07-01"
    )
    pay(web, late, "2026-05-11")  # 10 days late
    pay(web, early, "2026-05-30")  # 2 days early
    page = html(web.get(f"/app/clients/{client_id}"))
    record = facts(page)
    assert record["Open balance"] in {
        "70.00 EUR (1 invoice), 300.00 USD (1 invoice)",
        "300.00 USD (1 invoice), 70.00 EUR (1 invoice)",
    }
    assert record["Paid invoices"] == "2 since 18 Jun 2025"
    assert record["Paid on time"] == "50%"
    assert record["Average days late"] == "4.0 days"  # (10 - 2) / 2
    assert record["Last payment"] == "A-2 : 1,250.00 USD on 30 May 2026"  # text of link, then rest
    link = page.find("section", **{"aria-labelledby": "payer-stats"}).find("a")
    assert link.attrs["href"] == f"/app/invoices/{early}"


def test_a_client_who_pays_early_is_early(web: TestClient) -> None:
    sign_up(web)
    client_id = create_client(web)
    invoice_id = create_invoice(web, client_id, issue_date="2026-05-01", due_date="2026-06-10")
    pay(web, invoice_id, "2026-06-07")
    record = facts(html(web.get(f"/app/clients/{client_id}")))
    assert record["Average days late"] == "3.0 days early"
    assert record["Paid on time"] == "100%"
