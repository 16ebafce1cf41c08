"""POST /invoices/import: a spreadsheet's invoices in one step, all or nothing, idempotent.

Every refusal is followed by a read that proves nothing was written. Dates are in 2001
(paid, due, issued) or 2150 (not yet due) so that nothing depends on the day the suite runs;
where "today" matters it is computed the way the server does, and both sides of a midnight
that falls during the request are accepted.
"""

from __future__ import annotations

import asyncio
import io
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from duespark.db import Database
from duespark.invoices.importing import BATCH_ROWS, IMPORT_MAX_BYTES, import_invoices
from duespark.ops import migrations
from tests.api.test_clients import assert_error
from tests.api.test_invoices import today_in
from tests.conftest import make_settings
from tests.factories import add_user, auth_headers, create_client, create_invoice

Headers = dict[str, str]
HEADER = (
    "number,client_email,client_name,amount,currency,issue_date,due_date,status,paid_on,"
    "payment_url,notes"
)


def csv_file(*rows: str, header: str = HEADER, newline: str = "\r\n") -> bytes:
    return newline.join([header, *rows, ""]).encode()


def upload(api: TestClient, headers: Headers, content: bytes, **params: Any) -> Response:
    files = {"file": ("invoices.csv", content, "text/csv")}
    return api.post("/invoices/import", params=params, files=files, headers=headers)


def imported(api: TestClient, headers: Headers, content: bytes, **params: Any) -> dict[str, Any]:
    response = upload(api, headers, content, **params)
    assert response.status_code == 200, response.text
    return response.json()


def refused(api: TestClient, headers: Headers, content: bytes, **params: Any) -> dict[str, Any]:
    """The invalid_rows answer, after checking that it wrote nothing."""
    before = stored(api, headers)
    response = upload(api, headers, content, **params)
    assert_error(response, 422, "invalid_rows")
    assert stored(api, headers) == before
    return response.json()["error"]


def invoices(api: TestClient, headers: Headers) -> dict[str, dict[str, Any]]:
    response = api.get("/invoices", params={"limit": 200}, headers=headers)
    assert response.status_code == 200, response.text
    return {invoice["number"]: invoice for invoice in response.json()["items"]}


def clients(api: TestClient, headers: Headers) -> dict[str, dict[str, Any]]:
    response = api.get("/clients", params={"limit": 200}, headers=headers)
    assert response.status_code == 200, response.text
    return {client["email"]: client for client in response.json()["items"]}


def activity(api: TestClient, headers: Headers, invoice_id: int) -> list[tuple[str, str]]:
    response = api.get(f"/invoices/{invoice_id}/activity", headers=headers)
    assert response.status_code == 200, response.text
    return [(entry["kind"], entry["detail"]) for entry in response.json()]


def stored(api: TestClient, headers: Headers) -> tuple[Any, ...]:
    """Everything an import could write, for before/after comparisons."""
    found = invoices(api, headers)
    return (
        found,
        clients(api, headers),
        {number: activity(api, headers, invoice["id"]) for number, invoice in found.items()},
    )


def counts(report: dict[str, Any]) -> tuple[int, int, int, int]:
    return (report["created"], report["unchanged"], report["clients_created"], report["skipped"])


@pytest.fixture
def ada(api: TestClient) -> Headers:
    """Ada (Europe/London) with her client Globex, whose default currency is USD."""
    headers = auth_headers(api)
    create_client(api, headers, email="accounts@globex.example", default_currency="USD")
    return headers


SPREADSHEET = csv_file(
    "E-1,ACCOUNTS@Globex.example,,1250.00,,2001-01-01,2001-01-31,paid,2001-02-03,"
    'https://pay.example/e1,"Thanks, again"',
    "E-2,hello@initech.example,Initech,99.5,EUR,2001-02-01,2001-03-01,open,,,",
    "E-3,Hello@Initech.example,Initech Ltd,10,,2001-02-01,2001-03-01,void,,,",
    "E-4,bill@umbrella.example,Umbrella,5000,JPY,,2150-01-31,draft,,,",
    "E-5,hello@initech.example,,1.5,EUR,2001-07-01,2001-07-31,paid,2001-07-02,,",
)


# ── a spreadsheet in one step ─────────────────────────────────────────────────────────────


def test_a_spreadsheet_imports_in_one_step(api: TestClient, ada: Headers) -> None:
    before = today_in("Europe/London")
    report = imported(api, ada, SPREADSHEET)
    assert report == {
        "created": 5,
        "unchanged": 0,
        "clients_created": 2,
        "skipped": 0,
        "errors": [],
    }
    found = invoices(api, ada)
    by_email = clients(api, ada)
    globex, initech = by_email["accounts@globex.example"], by_email["hello@initech.example"]
    # An existing client is found by email whatever its case; its currency is the default.
    assert {k: found["E-1"][k] for k in ("client_id", "amount", "currency", "status")} == {
        "client_id": globex["id"],
        "amount": "1250.00",
        "currency": "USD",
        "status": "paid",
    }
    # paid_on is the start of that day in the account's time zone (London, GMT in winter,
    # BST in summer), and the whole amount was paid.
    assert (found["E-1"]["paid_at"], found["E-1"]["amount_paid"]) == (
        "2001-02-03T00:00:00Z",
        "1250.00",
    )
    assert found["E-5"]["paid_at"] == "2001-07-01T23:00:00Z"
    assert (found["E-1"]["payment_url"], found["E-1"]["notes"]) == (
        "https://pay.example/e1",
        "Thanks, again",
    )
    # Rows for the same new client share one client, named by its first row, in the
    # account's time zone, with the currency of that row.
    assert {found[n]["client_id"] for n in ("E-2", "E-3", "E-5")} == {initech["id"]}
    assert (initech["name"], initech["time_zone"], initech["default_currency"]) == (
        "Initech",
        "Europe/London",
        "EUR",
    )
    assert (found["E-3"]["status"], found["E-3"]["currency"], found["E-3"]["amount"]) == (
        "void",
        "EUR",
        "10.00",
    )
    assert (found["E-4"]["status"], found["E-4"]["amount"], found["E-4"]["currency"]) == (
        "draft",
        "5000",
        "JPY",
    )
    # A blank issue date is today in the account's time zone, as for POST /invoices.
    assert found["E-4"]["issue_date"] in {str(before), str(today_in("Europe/London"))}
    assert by_email["bill@umbrella.example"]["default_currency"] == "JPY"
    assert set(by_email) == {
        "accounts@globex.example",
        "hello@initech.example",
        "bill@umbrella.example",
    }


def test_imported_invoices_have_the_history_of_invoices_made_by_hand(
    api: TestClient, ada: Headers
) -> None:
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    paid = create_invoice(
        api,
        ada,
        globex,
        number="H-1",
        amount="1250.00",
        issue_date="2001-01-01",
        due_date="2001-01-31",
    )
    assert (
        api.post(
            f"/invoices/{paid['id']}/mark-paid", json={"paid_at": "2001-02-03"}, headers=ada
        ).status_code
        == 200
    )
    void = create_invoice(
        api,
        ada,
        globex,
        number="H-2",
        amount="10.00",
        issue_date="2001-02-01",
        due_date="2001-03-01",
    )
    assert api.post(f"/invoices/{void['id']}/void", headers=ada).status_code == 200
    by_hand = invoices(api, ada)

    imported(
        api,
        ada,
        csv_file(
            "I-1,accounts@globex.example,,1250.00,,2001-01-01,2001-01-31,paid,2001-02-03,,",
            "I-2,accounts@globex.example,,10.00,,2001-02-01,2001-03-01,void,,,",
        ),
    )
    found = invoices(api, ada)
    for hand, imp in (("H-1", "I-1"), ("H-2", "I-2")):
        assert activity(api, ada, found[imp]["id"]) == activity(api, ada, by_hand[hand]["id"])
        same = {"id", "number", "created_at", "updated_at"}
        assert {k: v for k, v in found[imp].items() if k not in same} == {
            k: v for k, v in by_hand[hand].items() if k not in same
        }
    assert activity(api, ada, found["I-1"]["id"]) == [
        ("created", "open, due 2001-01-31"),
        ("paid", "1250.00 USD on 2001-02-03"),
    ]


# ── bad rows ──────────────────────────────────────────────────────────────────────────────

GOOD = "G-{},accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,"
BAD_ROWS = [
    # (row, field, message), each on its own line after a good row
    ('B-1,accounts@globex.example,,"1,250.00",,,2150-01-31,,,,', "amount", "thousands separators"),
    (
        "B-2,accounts@globex.example,,10.001,EUR,,2150-01-31,,,,",
        "amount",
        "EUR has 2 decimal places",
    ),
    ("B-3,accounts@globex.example,,10.001,,,2150-01-31,,,,", "amount", "USD has 2 decimal places"),
    ("B-4,new@acme.example,,10,EUR,,2150-01-31,,,,", "client_name", "no client has the email"),
    ("B-5,new@acme.example,Acme,10,,,2150-01-31,,,,", "currency", "no client has the email"),
    ("B-6,accounts@globex.example,,10,,2001-02-01,2001-01-31,,,,", "due_date", "cannot be before"),
    ("B-7,accounts@globex.example,,10,,2001-01-01,2001-01-31,paid,,,", "paid_on", "required when"),
    (
        "B-8,accounts@globex.example,,10,,2001-01-01,2001-01-31,open,2001-02-01,,",
        "paid_on",
        "only a paid",
    ),
    (
        "B-9,accounts@globex.example,,10,,2001-01-01,2001-01-31,paid,2150-01-01,,",
        "paid_on",
        "in the future",
    ),
    (
        "B-10,accounts@globex.example,,10,,,2150-01-31,sent,,,",
        "status",
        "'open', 'paid', 'draft' or 'void'",
    ),
    ("B-11,accounts@globex.example,,10,,,31/01/2150,,,,", "due_date", "YYYY-MM-DD"),
    ("B-12,accounts@globex.example,,10,,,,,,,", "due_date", "required"),
    ("B-13,not-an-email,,10,,,2150-01-31,,,,", "client_email", "not a valid email address"),
    ("B-14,accounts@globex.example,,10,DEM,,2150-01-31,,,,", "currency", "not an ISO 4217"),
    ("B-15,accounts@globex.example,,10,,,2150-01-31,,,ftp://x,", "payment_url", "URL scheme"),
    ("B-16,accounts@globex.example,,10,,,2150-01-31,,,", None, "the row has 10 values"),
    (
        "G-0,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,",
        "number",
        "line 2 has it too",
    ),
    (
        "X-1,accounts@globex.example,,2.00,,2001-01-01,2001-01-31,open,,,",
        "number",
        "already exists with different details (amount)",
    ),
]


def bad_file() -> bytes:
    """G-0 on line 2, then each bad row followed by a good one (G-1, G-2, ...)."""
    rows = [GOOD.format(0)]
    for index, (row, _, _) in enumerate(BAD_ROWS, start=1):
        rows += [row, GOOD.format(index)]
    return csv_file(*rows)


@pytest.fixture
def existing(api: TestClient, ada: Headers) -> dict[str, Any]:
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    return create_invoice(
        api,
        ada,
        globex,
        number="X-1",
        amount="1.00",
        issue_date="2001-01-01",
        due_date="2001-01-31",
    )


def test_each_bad_row_is_reported_with_its_line_and_nothing_is_written(
    api: TestClient, ada: Headers, existing: dict[str, Any]
) -> None:
    error = refused(api, ada, bad_file())
    assert error["message"] == f"{len(BAD_ROWS)} rows are invalid; nothing was imported."
    reported = error["errors"]
    assert [entry["line"] for entry in reported] == [3 + 2 * i for i in range(len(BAD_ROWS))]
    for entry, (_, field, needle) in zip(reported, BAD_ROWS, strict=True):
        assert entry["field"] == field, entry
        assert needle in entry["message"], entry
    assert set(invoices(api, ada)) == {"X-1"}
    assert set(clients(api, ada)) == {"accounts@globex.example"}


def test_skip_invalid_writes_only_the_good_rows(
    api: TestClient, ada: Headers, existing: dict[str, Any]
) -> None:
    report = imported(api, ada, bad_file(), skip_invalid="true")
    good = len(BAD_ROWS) + 1
    assert counts(report) == (good, 0, 0, len(BAD_ROWS))
    assert [entry["line"] for entry in report["errors"]] == [
        3 + 2 * i for i in range(len(BAD_ROWS))
    ]
    assert set(invoices(api, ada)) == {"X-1"} | {f"G-{i}" for i in range(good)}
    assert set(clients(api, ada)) == {"accounts@globex.example"}
    # Nothing left half-made: the skipped rows' clients and invoices do not exist.
    assert "B-4" not in invoices(api, ada) and "new@acme.example" not in clients(api, ada)


def test_a_refused_row_does_not_take_its_number(api: TestClient, ada: Headers) -> None:
    """A corrected copy of a bad row later in the file is imported; a second good copy is
    the repeat."""
    content = csv_file(
        "R-1,accounts@globex.example,,1.001,,2001-01-01,2001-01-31,open,,,",
        "R-1,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,",
        "R-1,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,",
    )
    report = imported(api, ada, content, skip_invalid="true")
    assert counts(report) == (1, 0, 0, 2)
    assert [(e["line"], e["field"], e["message"]) for e in report["errors"]] == [
        (2, "amount", 'amount USD has 2 decimal places; "1.001" has 3.'),
        (4, "number", 'invoice number "R-1" is repeated; line 3 has it too'),
    ]
    assert invoices(api, ada)["R-1"]["amount"] == "1.00"


def test_a_file_wrong_throughout_lists_the_first_thousand_problems(
    api: TestClient, ada: Headers
) -> None:
    rows = [f"W-{i},accounts@globex.example,,oops,,,2150-01-31,,,," for i in range(1200)]
    error = refused(api, ada, csv_file(*rows))
    assert error["message"] == (
        "1200 rows are invalid; nothing was imported. The first 1000 problems are listed."
    )
    assert [entry["line"] for entry in error["errors"]] == list(range(2, 1002))
    report = imported(api, ada, csv_file(*rows), skip_invalid="true")
    assert counts(report) == (0, 0, 0, 1200) and len(report["errors"]) == 1000


def test_a_new_clients_first_good_row_creates_it_when_skipping(
    api: TestClient, ada: Headers
) -> None:
    report = imported(
        api,
        ada,
        csv_file(
            "N-1,new@acme.example,Acme,1.001,EUR,,2150-01-31,,,,",
            "N-2,new@acme.example,Acme Corp,2.00,EUR,,2150-01-31,,,,",
        ),
        skip_invalid="true",
    )
    assert counts(report) == (1, 0, 1, 1)
    assert clients(api, ada)["new@acme.example"]["name"] == "Acme Corp"


def test_messages_are_the_apis_own(api: TestClient, ada: Headers) -> None:
    """The same value is refused with the same words by POST /invoices and by an import."""
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    base = {"client_id": globex, "number": "M-1", "amount": "1.00", "due_date": "2150-01-31"}
    cases = [
        ({"currency": "DEM"}, "M-1,accounts@globex.example,,1.00,DEM,,2150-01-31,,,,"),
        ({"due_date": "31/01/2150"}, "M-1,accounts@globex.example,,1.00,,,31/01/2150,,,,"),
        ({"amount": "-1"}, "M-1,accounts@globex.example,,-1,,,2150-01-31,,,,"),
        ({"amount": "1.001"}, "M-1,accounts@globex.example,,1.001,,,2150-01-31,,,,"),
        (
            {"issue_date": "2150-02-01"},
            "M-1,accounts@globex.example,,1.00,,2150-02-01,2150-01-31,,,,",
        ),
        ({"notes": "a\x00b"}, 'M-1,accounts@globex.example,,1.00,,,2150-01-31,,,,"a\x00b"'),
    ]
    for change, row in cases:
        answer = api.post("/invoices", json={**base, **change}, headers=ada).json()["error"]
        by_api = {e["field"]: e["message"] for e in answer.get("errors", [])} or {
            answer["field"]: answer["message"]
        }
        (entry,) = refused(api, ada, csv_file(row))["errors"]
        assert by_api == {entry["field"]: entry["message"]}, (change, entry)


# ── paid amounts ──────────────────────────────────────────────────────────────────────────

# The export's order; files written before the column existed use HEADER.
PAID_HEADER = HEADER.replace("paid_on,", "paid_on,amount_paid,")


def paid_file(*rows: str) -> bytes:
    return csv_file(*rows, header=PAID_HEADER)


def pay(api: TestClient, headers: Headers, invoice_id: int, **body: str) -> Response:
    return api.post(f"/invoices/{invoice_id}/mark-paid", json=body, headers=headers)


def test_a_part_payment_is_recorded_as_mark_paid_records_it(api: TestClient, ada: Headers) -> None:
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    dates = {"issue_date": "2001-01-01", "due_date": "2001-01-31"}
    part = create_invoice(api, ada, globex, number="H-1", amount="100.00", **dates)
    assert pay(api, ada, part["id"], paid_at="2001-02-03", amount_paid="60.5").status_code == 200
    # The API takes a payment above the amount (a client who paid a fee on top), so the
    # import does too.
    over = create_invoice(api, ada, globex, number="H-2", amount="100.00", **dates)
    assert pay(api, ada, over["id"], paid_at="2001-02-03", amount_paid="150").status_code == 200
    by_hand = invoices(api, ada)

    report = imported(
        api,
        ada,
        paid_file(
            "P-1,accounts@globex.example,,100.00,,2001-01-01,2001-01-31,paid,2001-02-03,60.5,,",
            "P-2,accounts@globex.example,,100.00,,2001-01-01,2001-01-31,paid,2001-02-03,150,,",
            "P-3,accounts@globex.example,,100.00,,2001-01-01,2001-01-31,paid,2001-02-03,,,",
            # Zero paid on an invoice that is not paid is no payment, as a blank is.
            "P-4,accounts@globex.example,,100.00,,2001-01-01,2150-01-31,open,,0.00,,",
            "P-5,accounts@globex.example,,100.00,,2001-01-01,2150-01-31,draft,,,,",
        ),
    )
    assert counts(report) == (5, 0, 0, 0)
    found = invoices(api, ada)
    assert {n: (found[n]["status"], found[n]["amount_paid"]) for n in found} == {
        "H-1": ("paid", "60.50"),
        "H-2": ("paid", "150.00"),
        "P-1": ("paid", "60.50"),
        "P-2": ("paid", "150.00"),
        "P-3": ("paid", "100.00"),  # blank: the whole amount
        "P-4": ("open", None),
        "P-5": ("draft", None),
    }
    for hand, imp in (("H-1", "P-1"), ("H-2", "P-2")):
        assert activity(api, ada, found[imp]["id"]) == activity(api, ada, by_hand[hand]["id"])
        same = {"id", "number", "created_at", "updated_at"}
        assert {k: v for k, v in found[imp].items() if k not in same} == {
            k: v for k, v in by_hand[hand].items() if k not in same
        }
    assert activity(api, ada, found["P-1"]["id"])[-1] == ("paid", "60.50 USD on 2001-02-03")


@pytest.fixture
def part_paid(api: TestClient, ada: Headers) -> dict[str, Any]:
    """X-1: 100.00 USD, 20.00 of it paid on 2001-02-03."""
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    invoice = create_invoice(
        api,
        ada,
        globex,
        number="X-1",
        amount="100.00",
        issue_date="2001-01-01",
        due_date="2001-01-31",
    )
    assert pay(api, ada, invoice["id"], paid_at="2001-02-03", amount_paid="20").status_code == 200
    return invoice


PAID_ROW = "{},accounts@globex.example,,100.00,{},2001-01-01,2001-01-31,{},{},{},,"
BAD_PAID_ROWS = [
    # (number, currency, status, paid_on, amount_paid), field, message
    (("A-1", "", "paid", "2001-02-03", "-1"), "amount_paid", "must be a decimal string"),
    (("A-2", "", "paid", "2001-02-03", "0.00"), "amount_paid", "must be more than zero"),
    (("A-3", "", "paid", "2001-02-03", "1.001"), "amount_paid", "USD has 2 decimal places"),
    (("A-4", "EUR", "paid", "2001-02-03", "1.001"), "amount_paid", "EUR has 2 decimal places"),
    (("A-5", "", "paid", "2001-02-03", '"1,250.00"'), "amount_paid", "thousands separators"),
    (("A-6", "", "open", "", "10.00"), "amount_paid", "only a paid invoice has a paid amount"),
    (("A-7", "", "draft", "", "10.00"), "amount_paid", "this one is draft"),
    (("A-8", "", "void", "", "0.01"), "amount_paid", "this one is void"),
    (("X-1", "", "paid", "2001-02-03", "30.00"), "number", "different details (amount_paid)"),
    (("X-1", "", "paid", "2001-02-03", "20.001"), "amount_paid", "USD has 2 decimal places"),
]


def test_each_bad_paid_amount_is_reported_with_its_line(
    api: TestClient, ada: Headers, part_paid: dict[str, Any]
) -> None:
    rows = [PAID_ROW.format(*cells) for cells, _, _ in BAD_PAID_ROWS]
    error = refused(api, ada, paid_file(*rows))
    reported = [(e["line"], e["field"]) for e in error["errors"]]
    assert reported == [(line, field) for line, (_, field, _) in enumerate(BAD_PAID_ROWS, 2)]
    for entry, (_, _, needle) in zip(error["errors"], BAD_PAID_ROWS, strict=True):
        assert needle in entry["message"], entry
    assert set(invoices(api, ada)) == {"X-1"}


def test_paid_amount_messages_are_mark_paids_own(api: TestClient, ada: Headers) -> None:
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    invoice = create_invoice(api, ada, globex, number="M-0", issue_date="2001-01-01")
    for amount_paid in ("-1", "0", "1.001", "1e3"):
        answer = pay(api, ada, invoice["id"], amount_paid=amount_paid).json()["error"]
        by_api = {e["field"]: e["message"] for e in answer.get("errors", [])} or {
            answer["field"]: answer["message"]
        }
        row = PAID_ROW.format("M-1", "", "paid", "2001-02-03", amount_paid)
        (entry,) = refused(api, ada, paid_file(row))["errors"]
        assert by_api == {entry["field"]: entry["message"]}, (amount_paid, entry)


def test_paid_amounts_import_twice_as_unchanged_and_old_files_still_match(
    api: TestClient, ada: Headers, part_paid: dict[str, Any]
) -> None:
    again = paid_file(
        PAID_ROW.format("X-1", "", "paid", "2001-02-03", "20.00"),
        PAID_ROW.format("P-1", "", "paid", "2001-02-03", "99.99"),
        PAID_ROW.format("P-2", "", "open", "", ""),
    )
    assert counts(imported(api, ada, again)) == (2, 1, 0, 0)
    before = stored(api, ada)
    assert counts(imported(api, ada, again)) == (0, 3, 0, 0)
    # A file without the column (as written before it existed) says nothing of the paid
    # amount: its paid rows match whatever was paid, as a blank cell does.
    old = csv_file(
        "X-1,accounts@globex.example,,100.00,,2001-01-01,2001-01-31,paid,2001-02-03,,",
        "P-1,accounts@globex.example,,100.00,,2001-01-01,2001-01-31,paid,2001-02-03,,",
    )
    assert counts(imported(api, ada, old)) == (0, 2, 0, 0)
    blank = paid_file(PAID_ROW.format("P-1", "", "paid", "2001-02-03", ""))
    assert counts(imported(api, ada, blank)) == (0, 1, 0, 0)
    assert stored(api, ada) == before


# ── idempotency ───────────────────────────────────────────────────────────────────────────


def test_importing_the_same_file_twice_creates_nothing_new(api: TestClient, ada: Headers) -> None:
    assert counts(imported(api, ada, SPREADSHEET)) == (5, 0, 2, 0)
    before = stored(api, ada)
    assert counts(imported(api, ada, SPREADSHEET)) == (0, 5, 0, 0)
    assert stored(api, ada) == before


def test_numbers_are_matched_exactly_whatever_they_contain(api: TestClient, ada: Headers) -> None:
    """Numbers with quotes, percent signs, placeholders and backslashes are data, not SQL."""
    numbers = ["O'Brien-1", "50%-off", "%(user_id_1)s", "%s", "back\\slash", "ünï-€", "?", ":x"]
    rows = [
        f'"{n.replace(chr(34), 2 * chr(34))}",accounts@globex.example,,1.00,,2001-01-01,'
        "2001-01-31,open,,,"
        for n in numbers
    ]
    assert counts(imported(api, ada, csv_file(*rows))) == (len(numbers), 0, 0, 0)
    assert set(invoices(api, ada)) == set(numbers)
    assert counts(imported(api, ada, csv_file(*rows))) == (0, len(numbers), 0, 0)


def test_another_accounts_numbers_and_clients_are_not_this_ones(
    api: TestClient, ada: Headers
) -> None:
    imported(api, ada, SPREADSHEET)
    bob = auth_headers(api, email="bob@example.com", name="Bob", time_zone="America/New_York")
    # Bob has no client Globex: Ada's is not his to use, so its row (no name) is refused.
    assert counts(imported(api, bob, SPREADSHEET, skip_invalid="true")) == (4, 0, 2, 1)
    again = imported(api, bob, SPREADSHEET, skip_invalid="true")
    assert counts(again) == (0, 4, 0, 1)
    assert [(e["line"], e["field"]) for e in again["errors"]] == [
        (2, "client_name"),
        (2, "currency"),
    ]
    assert clients(api, bob)["hello@initech.example"]["time_zone"] == "America/New_York"
    assert len(invoices(api, ada)) == 5


# ── the file itself ───────────────────────────────────────────────────────────────────────


def test_byte_order_mark_crlf_quotes_and_any_column_order(api: TestClient, ada: Headers) -> None:
    content = (
        "\ufeff".encode()
        + csv_file(
            '"Notes",Due_Date,AMOUNT,number,Client_Email',
            '"Line one, with a comma\r\nline two ""quoted""",2150-01-31,5,Q-1,'
            "accounts@globex.example",
            "   ,2150-02-28,6,Q-2,accounts@globex.example",
            header="notes,due_date,amount,number,client_email",
        )[len(b"notes,due_date,amount,number,client_email\r\n") :]
    )
    report = imported(api, ada, content)
    assert counts(report) == (2, 0, 0, 0)
    found = invoices(api, ada)
    assert found["Q-1"]["notes"] == 'Line one, with a comma\r\nline two "quoted"'
    assert found["Q-2"]["notes"] == "   "


def test_line_numbers_count_physical_lines(api: TestClient, ada: Headers) -> None:
    content = csv_file(
        '"L-1",accounts@globex.example,,1.00,,,2150-01-31,,,,"one\ntwo\nthree"',
        "",
        ",,,,,,,,,,",
        "L-2,accounts@globex.example,,oops,,,2150-01-31,,,,",
        newline="\n",
    )
    (entry,) = refused(api, ada, content)["errors"]
    assert (entry["line"], entry["field"]) == (7, "amount")


@pytest.mark.parametrize("skip_invalid", ["false", "true"])
def test_a_file_that_is_not_utf8_writes_nothing(
    api: TestClient, ada: Headers, skip_invalid: str
) -> None:
    content = csv_file(
        "U-1,accounts@globex.example,,1.00,,,2150-01-31,,,,",
        "U-2,accounts@globex.example,,1.00,,,2150-01-31,,,,Café",
    ).replace("é".encode(), "é".encode("latin-1"))
    error = refused(api, ada, content, skip_invalid=skip_invalid)
    assert error["errors"] == [
        {
            "line": 3,
            "field": None,
            "message": 'the file is not UTF-8 text (byte 0xe9); save it as "CSV UTF-8" and '
            "try again",
        }
    ]


@pytest.mark.parametrize(
    ("header", "field", "needle"),
    [
        ("number,client_email,amount,due_date,vat", "vat", 'unknown column "vat"'),
        ("number,client_email,amount", "due_date", "required column(s) due_date"),
        ("number,number,client_email,amount,due_date", "number", "appears twice"),
    ],
)
def test_a_bad_header_writes_nothing(
    api: TestClient, ada: Headers, header: str, field: str, needle: str
) -> None:
    content = csv_file("H-1,accounts@globex.example,1.00,2150-01-31,x", header=header)
    (entry,) = refused(api, ada, content, skip_invalid="true")["errors"]
    assert (entry["line"], entry["field"]) == (1, field) and needle in entry["message"]


def test_an_empty_file_and_a_header_alone(api: TestClient, ada: Headers) -> None:
    (entry,) = refused(api, ada, b"")["errors"]
    assert entry["line"] == 1 and "must name the columns" in entry["message"]
    assert counts(imported(api, ada, csv_file())) == (0, 0, 0, 0)


# ── the edge: authentication and size ─────────────────────────────────────────────────────


def test_import_needs_a_signed_in_account(api: TestClient, ada: Headers) -> None:
    assert_error(upload(api, {}, SPREADSHEET), 401, "not_authenticated")
    assert_error(api.post("/invoices/import", headers=ada), 422, "invalid_input", "file")
    assert invoices(api, ada) == {}


def test_files_over_the_json_limit_are_accepted(api: TestClient, ada: Headers) -> None:
    """The body limit of 1 MB does not apply here: a 2 MB file imports."""
    note = "n" * 1000
    rows = [
        f"S-{i},accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,{note}"
        for i in range(2000)
    ]
    content = csv_file(*rows)
    assert len(content) > 2_000_000
    assert counts(imported(api, ada, content)) == (2000, 0, 0, 0)


def post_asgi(app: Any, headers: list[tuple[bytes, bytes]], chunks: Any) -> tuple[int, bytes]:
    """POST /invoices/import straight through the ASGI interface."""
    body = iter(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk = next(body, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invoices/import",
        "raw_path": b"/invoices/import",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_file_over_the_import_limit_is_413(api: TestClient, ada: Headers) -> None:
    boundary = b"xyz"
    multipart = [(b"content-type", b"multipart/form-data; boundary=" + boundary)]
    auth = [(b"authorization", ada["Authorization"].encode())]
    declared = [(b"content-length", str(IMPORT_MAX_BYTES + 1).encode())]
    status, body = post_asgi(api.app, multipart + auth + declared, [b"--xyz\r\n"])
    assert status == 413 and b"payload_too_large" in body

    # Without a declared length the body streams through, counted, to the same end.
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + HEADER.encode() + b"\r\n"
    )
    megabyte = b"x" * 1_000_000
    chunks = [head, *([megabyte] * (IMPORT_MAX_BYTES // len(megabyte) + 1))]
    status, body = post_asgi(api.app, multipart + auth, chunks)
    assert status == 413, body
    assert b'"code":"payload_too_large"' in body.replace(b" ", b"")
    assert invoices(api, ada) == {}


# ── memory ────────────────────────────────────────────────────────────────────────────────


def generated(rows: int) -> io.BytesIO:
    """A file of ``rows`` invoices for 50 clients, each with a 400-character note: about
    500 bytes a row, more than the import may keep per row."""
    note = "x" * 400
    lines = [HEADER]
    lines += [
        f"M-{i:06d},client{i % 50}@example.com,Client {i % 50},{100 + i % 1000}.50,EUR,"
        f"2001-01-01,2001-02-01,open,,,{note}"
        for i in range(rows)
    ]
    return io.BytesIO(("\r\n".join(lines) + "\r\n").encode())


def peak_bytes(database: Database, rows: int, email: str) -> int:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    source = generated(rows)
    with database.session_scope() as session:
        user = add_user(session, now=now, email=email)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            report = import_invoices(session, user, source, now=now)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert report.created == rows
    return peak


@pytest.mark.parametrize("rows", [3 * BATCH_ROWS + 10, 3 * BATCH_ROWS])
def test_progress_is_reported_after_every_batch_as_it_goes(database: Database, rows: int) -> None:
    """Each call says where the batch's last row ends in the file, so a bar moves while the
    import runs; the last call, once the import has read the blank lines that end the file
    (with the last batch, or after a last batch that was full), is the file's size."""
    now = datetime(2026, 12, 1, tzinfo=UTC)
    content = generated(rows).getvalue() + b"\r\n,,,,,,,,,,\r\n"
    lines = content.split(b"\r\n")
    ends = [sum(len(line) + 2 for line in lines[: 1 + n]) for n in range(rows + 1)]
    calls: list[int] = []
    with database.session_scope() as session:
        user = add_user(session, now=now)
        report = import_invoices(session, user, io.BytesIO(content), now=now, progress=calls.append)
    assert report.created == rows
    assert calls == [ends[BATCH_ROWS], ends[2 * BATCH_ROWS], ends[3 * BATCH_ROWS], len(content)]


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Importing 50,000 rows needs about the memory of 5,000, not ten times as much.

    What an import keeps across batches is, per row, only its invoice number and line (to
    report a number repeated later in the file): about 160 bytes a row, a third of what a
    row of this file takes. So the bound is on that growth, measured: at most 250 bytes per
    extra row (holding the file's text alone would be over 490, holding parsed rows several
    thousand), and the peaks within a factor of 5 for ten times the rows. Measured on SQLite
    only: the import's memory does not depend on the database, and the test is slow under
    tracemalloc.
    """
    database = Database(make_settings(f"sqlite:///{tmp_path / 'memory.db'}"))
    try:
        migrations.upgrade(database.engine)
        peak_bytes(database, 600, "warm@example.com")  # first-use caches, not per-row cost
        small = peak_bytes(database, 5_000, "small@example.com")
        large = peak_bytes(database, 50_000, "large@example.com")
    finally:
        database.dispose()
    per_row = (large - small) / 45_000
    assert per_row < 250, f"{per_row:.0f} bytes per row ({small=} {large=})"
    assert large < 5 * small, (small, large)
