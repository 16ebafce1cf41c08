"""/invoices: money, dates, the state machine over HTTP, list filters, and isolation.

Due dates are far in the past (2001) or the future (2150) so that "overdue" does not depend
on the day the suite runs; where "today" matters it is computed the way the server does, and
both sides of a midnight that falls during the request are accepted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import product
from typing import Any

import pytest
from fastapi.testclient import TestClient

from duespark.clock import local_today, utc_now
from tests.api.test_clients import assert_error
from tests.factories import auth_headers, create_client, create_invoice

Headers = dict[str, str]
Invoice = dict[str, Any]
EARLY, PAST, FUTURE = "2001-01-01", "2001-01-31", "2150-01-31"


def today_in(zone: str) -> date:
    return local_today(utc_now(), zone)


def pick(invoice: Invoice, *keys: str) -> tuple[Any, ...]:
    return tuple(invoice[key] for key in keys)


def get(api: TestClient, headers: Headers, invoice_id: int) -> Invoice:
    response = api.get(f"/invoices/{invoice_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def listing(api: TestClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = api.get("/invoices", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def ada(api: TestClient) -> Headers:
    return auth_headers(api)


@pytest.fixture
def cid(api: TestClient, ada: Headers) -> int:
    """Ada's client Globex, whose default currency is USD."""
    return create_client(api, ada, default_currency="USD")["id"]


# ── create ────────────────────────────────────────────────────────────────────────────────


def test_create_with_every_field(api: TestClient, ada: Headers, cid: int) -> None:
    invoice = create_invoice(
        api,
        ada,
        cid,
        number=" INV-2150-001 ",
        amount="1250.5",
        currency="EUR",
        issue_date="2150-01-01",
        due_date=FUTURE,
        payment_url="https://pay.example/inv/1",
        notes="Thanks!",
    )
    assert pick(invoice, "number", "amount", "currency") == ("INV-2150-001", "1250.50", "EUR")
    assert pick(invoice, "issue_date", "due_date") == ("2150-01-01", FUTURE)
    assert pick(invoice, "status", "is_overdue", "days_overdue") == ("open", False, 0)
    assert pick(invoice, "paid_at", "amount_paid") == (None, None)
    assert pick(invoice, "payment_url", "notes") == ("https://pay.example/inv/1", "Thanks!")
    assert get(api, ada, invoice["id"]) == invoice


def test_defaults_come_from_the_client_and_the_accounts_today(
    api: TestClient, ada: Headers, cid: int
) -> None:
    before = today_in("Europe/London")
    body = {"client_id": cid, "number": "D-1", "amount": "10", "due_date": FUTURE}
    response = api.post("/invoices", json=body, headers=ada)
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert pick(invoice, "currency", "amount", "status", "notes") == ("USD", "10.00", "open", "")
    assert invoice["issue_date"] in {str(before), str(today_in("Europe/London"))}


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1250", "JPY", "1250"),
        ("1.5", "KWD", "1.500"),
        ("0.01", "EUR", "0.01"),
        ("0", "EUR", "0.00"),
    ],
)
def test_amounts_use_the_currencys_precision(
    api: TestClient, ada: Headers, cid: int, amount: str, currency: str, shown: str
) -> None:
    invoice = create_invoice(api, ada, cid, amount=amount, currency=currency)
    assert pick(invoice, "amount", "currency") == (shown, currency)
    assert get(api, ada, invoice["id"])["amount"] == shown


def test_past_due_dates_are_accepted_and_overdue(api: TestClient, ada: Headers, cid: int) -> None:
    """Entering invoices that are already late is the point of the product."""
    before = today_in("Europe/London")
    invoice = create_invoice(api, ada, cid, issue_date=EARLY, due_date=PAST)
    late = {(today - date(2001, 1, 31)).days for today in (before, today_in("Europe/London"))}
    assert invoice["is_overdue"] is True
    assert invoice["days_overdue"] in late
    draft = create_invoice(api, ada, cid, issue_date=EARLY, due_date=PAST, status="draft")
    assert pick(draft, "is_overdue", "days_overdue") == (False, 0)


def test_overdue_is_judged_in_the_accounts_time_zone(api: TestClient) -> None:
    """An account at UTC+14 with a client at UTC-11: due yesterday at the account is late,
    whatever day it still is at the client's."""
    headers = auth_headers(api, email="kiri@example.com", time_zone="Pacific/Kiritimati")
    client = create_client(api, headers, time_zone="Pacific/Pago_Pago")
    before = today_in("Pacific/Kiritimati")
    due = before - timedelta(days=1)
    invoice = create_invoice(api, headers, client["id"], issue_date=str(due), due_date=str(due))
    after = today_in("Pacific/Kiritimati")
    assert invoice["is_overdue"] is True
    assert invoice["days_overdue"] in {(before - due).days, (after - due).days}


BAD_VALUES: dict[str, list[Any]] = {
    "amount": ["-5.00", "1,000.00", "1e3", "", "١٢٣", 1000, 10.5, "10000000000000.00"],
    "currency": ["eur", "XYZ", "EURO"],
    "issue_date": ["2026-02-30", "1969-12-31"],
    "due_date": ["2026-02-30", "2027-02-29", 1_767_225_600, "31/10/2026", None, "2200-01-01"],
    "number": ["", "   ", "N" * 65, "INV\n1"],
    # Callables get the real client id: "7", 7.0 or true must not be taken as client 7 (or 1).
    "client_id": [str, float, lambda _: True, 0, 2**31, 424_242],
    "status": ["paid", "OPEN"],
    "payment_url": ["not a url", "javascript:alert(1)", "https://pay.example/" + "é" * 400],
    "notes": ["a\u0000b", "n" * 10_001],
    "amount_minor": [100],  # unknown fields, including the ones the server sets
    "user_id": [2],
    "paid_at": ["2026-01-01T00:00:00Z"],
}
BAD_INVOICES: list[tuple[dict[str, Any], str]] = [
    *[({field: value}, field) for field, values in BAD_VALUES.items() for value in values],
    ({"amount": "10.5", "currency": "JPY"}, "amount"),
    ({"amount": "1.234", "currency": "EUR"}, "amount"),
    ({"amount": "1.234"}, "amount"),  # in USD, the client's default
    ({"amount": "9" * 100_000}, "amount"),
    ({"issue_date": "2026-11-01", "due_date": "2026-10-31"}, "due_date"),
]


def case_id(value: Any) -> str:
    """Stable test ids (the same in every xdist worker): no reprs with memory addresses."""
    if isinstance(value, dict):
        return ",".join(f"{k}={getattr(v, '__name__', v)!r}"[:40] for k, v in value.items())
    return str(value)


@pytest.mark.parametrize(("overrides", "field"), BAD_INVOICES, ids=case_id)
def test_bad_invoice_is_refused_and_not_stored(
    api: TestClient, ada: Headers, cid: int, overrides: dict[str, Any], field: str
) -> None:
    overrides = {key: value(cid) if callable(value) else value for key, value in overrides.items()}
    body = {"client_id": cid, "number": "INV-1", "amount": "10.00"}
    body |= {"issue_date": "2026-10-01", "due_date": "2026-10-31", **overrides}
    assert_error(api.post("/invoices", json=body, headers=ada), 422, "invalid_input", field)
    assert listing(api, ada)["total"] == 0


def test_duplicate_number_is_a_409_per_account(api: TestClient, ada: Headers, cid: int) -> None:
    first = create_invoice(api, ada, cid, number="INV-7")
    body = {"client_id": cid, "number": " INV-7 ", "amount": "5", "due_date": FUTURE}
    again = api.post("/invoices", json=body, headers=ada)
    assert '"INV-7" is already used' in assert_error(again, 409, "conflict", "number")
    assert [invoice["id"] for invoice in listing(api, ada)["items"]] == [first["id"]]
    bob = auth_headers(api, email="bob@example.com")
    assert create_invoice(api, bob, create_client(api, bob)["id"], number="INV-7")["id"]


def test_bad_input_is_reported_before_a_duplicate_number(
    api: TestClient, ada: Headers, cid: int
) -> None:
    create_invoice(api, ada, cid, number="INV-7")
    body = {"client_id": cid, "number": "INV-7", "amount": "1.234", "due_date": FUTURE}
    assert_error(api.post("/invoices", json=body, headers=ada), 422, "invalid_input", "amount")


# ── update ────────────────────────────────────────────────────────────────────────────────


def test_patch_changes_only_the_fields_given(api: TestClient, ada: Headers, cid: int) -> None:
    initech = create_client(api, ada, name="Initech")["id"]
    invoice = create_invoice(api, ada, cid, notes="keep", due_date=FUTURE)
    change = {"client_id": initech, "amount": "99", "currency": "JPY", "payment_url": None}
    response = api.patch(f"/invoices/{invoice['id']}", json=change, headers=ada)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert pick(updated, "client_id", "amount", "currency") == (initech, "99", "JPY")
    assert pick(updated, "notes", "number", "due_date") == pick(
        invoice, "notes", "number", "due_date"
    )
    assert get(api, ada, invoice["id"]) == updated


def test_changing_only_the_currency_keeps_the_amount_or_refuses(
    api: TestClient, ada: Headers, cid: int
) -> None:
    """1250.00 USD cannot silently become 1250 or 125000 JPY; it can become 1250.000 KWD."""
    invoice = create_invoice(api, ada, cid, amount="1250.00")
    url = f"/invoices/{invoice['id']}"
    response = api.patch(url, json={"currency": "JPY"}, headers=ada)
    assert_error(response, 422, "invalid_input", "amount")
    assert get(api, ada, invoice["id"]) == invoice
    kwd = api.patch(url, json={"currency": "KWD"}, headers=ada).json()
    assert pick(kwd, "amount", "currency") == ("1250.000", "KWD")


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"amount": "1.234", "notes": "changed"}, 422, "amount"),
        ({"due_date": "2026-09-01", "notes": "changed"}, 422, "due_date"),  # before issue
        ({"number": "TAKEN", "notes": "changed"}, 409, "number"),
        ({"client_id": 424_242, "notes": "changed"}, 422, "client_id"),
        ({"number": None}, 422, "number"),
        ({"amount": None}, 422, "amount"),
        ({"status": "paid"}, 422, "status"),
        ({"status": "void"}, 422, "status"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_bad_patch_changes_nothing(
    api: TestClient, ada: Headers, cid: int, change: dict[str, Any], status: int, field: str
) -> None:
    """Including the valid half of a half-valid patch: a request lands whole or not at all."""
    create_invoice(api, ada, cid, number="TAKEN")
    invoice = create_invoice(api, ada, cid, notes="original")
    response = api.patch(f"/invoices/{invoice['id']}", json=change, headers=ada)
    assert_error(response, status, "conflict" if status == 409 else "invalid_input", field)
    assert get(api, ada, invoice["id"]) == invoice


# ── the state machine over HTTP ───────────────────────────────────────────────────────────


def make_in_status(api: TestClient, headers: Headers, client_id: int, status: str) -> int:
    invoice = create_invoice(
        api, headers, client_id, status="draft" if status == "draft" else "open"
    )
    action = {"paid": "mark-paid", "void": "void"}.get(status)
    if action:
        response = api.post(f"/invoices/{invoice['id']}/{action}", headers=headers)
        assert response.json()["status"] == status, response.text
    return invoice["id"]


# The allowed (status, action) pairs and where they lead; every other pair is a 409.
ALLOWED = {
    ("draft", "void"): "void",
    ("open", "mark-paid"): "paid",
    ("open", "void"): "void",
    ("paid", "reopen"): "open",
    ("void", "reopen"): "open",
}
ACTIONS = [
    (status, action, ALLOWED.get((status, action)))
    for status, action in product(
        ["draft", "open", "paid", "void"], ["mark-paid", "void", "reopen"]
    )
]


@pytest.mark.parametrize(("status", "action", "result"), ACTIONS)
def test_every_action_in_every_status(
    api: TestClient, ada: Headers, cid: int, status: str, action: str, result: str | None
) -> None:
    invoice_id = make_in_status(api, ada, cid, status)
    before = get(api, ada, invoice_id)
    response = api.post(f"/invoices/{invoice_id}/{action}", headers=ada)
    if result is None:
        message = assert_error(response, 409, "conflict", "status")
        assert message.startswith(f"A {status} invoice cannot be")
        assert get(api, ada, invoice_id) == before
    else:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == result
        assert get(api, ada, invoice_id)["status"] == result


@pytest.mark.parametrize(
    ("status", "target", "result"),
    [
        ("draft", "open", "open"),
        ("open", "draft", "draft"),
        ("paid", "open", None),
        ("void", "draft", None),
    ],
)
def test_patch_moves_only_between_draft_and_open(
    api: TestClient, ada: Headers, cid: int, status: str, target: str, result: str | None
) -> None:
    invoice_id = make_in_status(api, ada, cid, status)
    response = api.patch(f"/invoices/{invoice_id}", json={"status": target}, headers=ada)
    if result is None:
        assert f"A {status} invoice" in assert_error(response, 409, "conflict")
    assert get(api, ada, invoice_id)["status"] == (result or status)


def test_a_closed_invoice_keeps_only_notes_and_link_editable(
    api: TestClient, ada: Headers, cid: int
) -> None:
    url = f"/invoices/{make_in_status(api, ada, cid, 'paid')}"
    response = api.patch(url, json={"notes": "by wire", "payment_url": None}, headers=ada)
    assert response.status_code == 200 and response.json()["notes"] == "by wire"
    refused = api.patch(url, json={"amount": "1"}, headers=ada)
    assert "reopen it first" in assert_error(refused, 409, "conflict")


def test_mark_paid_records_when_and_how_much(api: TestClient, ada: Headers, cid: int) -> None:
    invoice = create_invoice(api, ada, cid, amount="100.00", issue_date=EARLY, due_date=PAST)
    url = f"/invoices/{invoice['id']}"
    body = {"paid_at": "2026-06-15T10:00:00+02:00", "amount_paid": "60.5"}
    paid = api.post(f"{url}/mark-paid", json=body, headers=ada).json()
    assert datetime.fromisoformat(paid["paid_at"]) == datetime(2026, 6, 15, 8, tzinfo=UTC)
    assert pick(paid, "status", "amount_paid", "is_overdue", "days_overdue") == (
        "paid",
        "60.50",
        False,
        0,
    )
    reopened = api.post(f"{url}/reopen", headers=ada).json()
    assert pick(reopened, "status", "paid_at", "amount_paid") == ("open", None, None)
    assert reopened["is_overdue"] is True


def test_mark_paid_defaults_to_now_and_the_full_amount(
    api: TestClient, ada: Headers, cid: int
) -> None:
    invoice = create_invoice(api, ada, cid, amount="100.00")
    start = utc_now()
    paid = api.post(f"/invoices/{invoice['id']}/mark-paid", headers=ada).json()
    assert start <= datetime.fromisoformat(paid["paid_at"]) <= utc_now()
    assert paid["amount_paid"] == "100.00"


def test_mark_paid_on_a_date_means_the_start_of_that_day_for_the_account(
    api: TestClient, ada: Headers, cid: int
) -> None:
    invoice = create_invoice(api, ada, cid)
    body = {"paid_at": "2026-06-15"}
    paid = api.post(f"/invoices/{invoice['id']}/mark-paid", json=body, headers=ada)
    assert paid.status_code == 200, paid.text
    # Midnight in London on a summer day is 23:00 UTC the day before.
    assert datetime.fromisoformat(paid.json()["paid_at"]) == datetime(2026, 6, 14, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"paid_at": "2150-01-01T00:00:00Z"}, "paid_at"),
        ({"paid_at": "2150-01-01"}, "paid_at"),
        ({"paid_at": "2026-06-15T10:00:00"}, "paid_at"),  # no offset: which 10:00?
        ({"paid_at": "0001-01-01T00:00:00+01:00"}, "paid_at"),  # was a 500
        ({"paid_at": "2026-02-30"}, "paid_at"),
        ({"paid_at": 1_767_225_600}, "paid_at"),
        ({"amount_paid": "0"}, "amount_paid"),
        ({"amount_paid": "1.234"}, "amount_paid"),
        ({"amount_paid": "-1"}, "amount_paid"),
        ({"method": "cash"}, "method"),
    ],
)
def test_bad_payment_is_refused_and_the_invoice_stays_open(
    api: TestClient, ada: Headers, cid: int, body: dict[str, Any], field: str
) -> None:
    invoice = create_invoice(api, ada, cid)
    response = api.post(f"/invoices/{invoice['id']}/mark-paid", json=body, headers=ada)
    assert_error(response, 422, "invalid_input", field)
    assert get(api, ada, invoice["id"]) == invoice


@pytest.mark.parametrize(
    ("status", "deleted"), [("draft", True), ("void", True), ("open", False), ("paid", False)]
)
def test_only_drafts_and_void_invoices_can_be_deleted(
    api: TestClient, ada: Headers, cid: int, status: str, deleted: bool
) -> None:
    invoice_id = make_in_status(api, ada, cid, status)
    response = api.delete(f"/invoices/{invoice_id}", headers=ada)
    if deleted:
        assert response.status_code == 204
        assert_error(api.get(f"/invoices/{invoice_id}", headers=ada), 404, "not_found")
    else:
        assert f"A {status} invoice cannot be deleted" in assert_error(response, 409, "conflict")
        assert get(api, ada, invoice_id)["status"] == status


# ── list: filters, sort, pages ────────────────────────────────────────────────────────────


@pytest.fixture
def initech(api: TestClient, ada: Headers, cid: int) -> int:
    """Five invoices, one per case the filters must tell apart; returns Initech's id."""
    initech = create_client(api, ada, name="Initech")["id"]
    rows = [
        (cid, "A-LATE", "2001-01-10", "open", "website"),
        (initech, "B-LATER", "2150-01-10", "open", ""),
        (cid, "C-DRAFT", "2001-02-10", "draft", ""),
        (cid, "D-PAID", "2001-03-10", "paid", ""),
        (initech, "E-VOID", "2100-01-10", "void", ""),
    ]
    for client_id, number, due, status, notes in rows:
        invoice = create_invoice(
            api,
            ada,
            client_id,
            number=number,
            issue_date=EARLY,
            due_date=due,
            notes=notes,
            status="draft" if status == "draft" else "open",
        )
        if status in {"paid", "void"}:
            action = "mark-paid" if status == "paid" else "void"
            assert api.post(f"/invoices/{invoice['id']}/{action}", headers=ada).status_code == 200
    return initech


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["A-LATE", "C-DRAFT", "D-PAID", "E-VOID", "B-LATER"]),  # earliest due first
        ({"sort": "-due_date"}, ["B-LATER", "E-VOID", "D-PAID", "C-DRAFT", "A-LATE"]),
        ({"sort": "-number"}, ["E-VOID", "D-PAID", "C-DRAFT", "B-LATER", "A-LATE"]),
        ({"status": "open"}, ["A-LATE", "B-LATER"]),
        ({"status": "draft"}, ["C-DRAFT"]),
        ({"overdue": "true"}, ["A-LATE"]),
        ({"overdue": "false"}, ["C-DRAFT", "D-PAID", "E-VOID", "B-LATER"]),
        ({"due_before": "2001-02-10"}, ["A-LATE"]),  # strictly before
        ({"due_after": "2001-02-10"}, ["D-PAID", "E-VOID", "B-LATER"]),  # strictly after
        ({"due_after": "2001-01-01", "due_before": "2001-03-31"}, ["A-LATE", "C-DRAFT", "D-PAID"]),
        ({"q": "website"}, ["A-LATE"]),  # notes
        ({"q": "initech"}, ["E-VOID", "B-LATER"]),  # client name
        ({"q": "d-pa"}, ["D-PAID"]),  # number, any case
        ({"q": "%"}, []),
        ({"status": "open", "overdue": "true", "q": "late"}, ["A-LATE"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_list_filters_and_sorts(
    api: TestClient, ada: Headers, initech: int, params: dict[str, Any], expected: list[str]
) -> None:
    page = listing(api, ada, **params)
    assert [invoice["number"] for invoice in page["items"]] == expected
    assert page["total"] == len(expected)


def test_list_by_client_and_by_page(api: TestClient, ada: Headers, initech: int) -> None:
    by_client = listing(api, ada, client_id=initech)["items"]
    assert [invoice["number"] for invoice in by_client] == ["E-VOID", "B-LATER"]
    page = listing(api, ada, limit=2, offset=2)
    assert [invoice["number"] for invoice in page["items"]] == ["D-PAID", "E-VOID"]
    assert pick(page, "total", "limit", "offset") == (5, 2, 2)
    assert listing(api, ada, limit=2, offset=5)["items"] == []
    assert listing(api, ada, limit=200)["limit"] == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),  # refused, not silently capped
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "late"}, "status"),
        ({"overdue": "maybe"}, "overdue"),
        ({"due_before": "2026-02-30"}, "due_before"),
        ({"due_after": "1767225600"}, "due_after"),
        ({"client_id": "abc"}, "client_id"),
        ({"client_id": 0}, "client_id"),
        ({"sort": "amount"}, "sort"),
        ({"q": "q" * 201}, "q"),
        ({"q": "inv\x00"}, "q"),
    ],
)
def test_bad_list_parameters_are_a_422(
    api: TestClient, ada: Headers, params: dict[str, Any], field: str
) -> None:
    assert_error(api.get("/invoices", params=params, headers=ada), 422, "invalid_input", field)


# ── another account ───────────────────────────────────────────────────────────────────────


def test_another_accounts_client_cannot_be_invoiced(
    api: TestClient, ada: Headers, cid: int
) -> None:
    bob = auth_headers(api, email="bob@example.com")
    body = {"client_id": cid, "number": "B-1", "amount": "10", "due_date": FUTURE}
    response = api.post("/invoices", json=body, headers=bob)
    assert "No such client" in assert_error(response, 422, "invalid_input", "client_id")
    assert listing(api, bob)["total"] == listing(api, ada)["total"] == 0
    bobs = create_invoice(api, bob, create_client(api, bob)["id"])
    response = api.patch(f"/invoices/{bobs['id']}", json={"client_id": cid}, headers=bob)
    assert_error(response, 422, "invalid_input", "client_id")
    assert get(api, bob, bobs["id"]) == bobs
    assert listing(api, bob, client_id=cid)["total"] == 0


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"notes": "mine now"}),
        ("DELETE", "", None),
        ("POST", "/mark-paid", None),
        ("POST", "/void", None),
        ("POST", "/reopen", None),
    ],
)
def test_another_accounts_invoice_does_not_exist_here(
    api: TestClient, ada: Headers, cid: int, method: str, suffix: str, body: Any
) -> None:
    invoice = create_invoice(api, ada, cid, status="draft")
    bob = auth_headers(api, email="bob@example.com")
    response = api.request(method, f"/invoices/{invoice['id']}{suffix}", json=body, headers=bob)
    assert_error(response, 404, "not_found")
    assert get(api, ada, invoice["id"]) == invoice
    assert listing(api, bob)["total"] == 0
