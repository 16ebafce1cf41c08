"""GET /invoices/export.csv: the list's invoices as a file that imports again unchanged.

Dates are in 2001 or far in the future so that "overdue" does not depend on the day the
suite runs; the file's name carries today's date, taken on both sides of the request.
"""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from duespark.invoices.csv_format import COLUMNS
from tests.api.test_clients import assert_error
from tests.api.test_invoice_import import (
    SPREADSHEET,
    clients,
    counts,
    csv_file,
    imported,
    invoices,
    stored,
)
from tests.api.test_invoices import today_in
from tests.factories import auth_headers, create_client, create_invoice

Headers = dict[str, str]


def export(api: TestClient, headers: Headers, **params: Any) -> Response:
    response = api.get("/invoices/export.csv", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def rows(response: Response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text[1:], newline=""))
    header = next(reader)
    assert header == list(COLUMNS)
    return [dict(zip(header, record, strict=True)) for record in reader]


def numbers(response: Response) -> list[str]:
    return [row["number"] for row in rows(response)]


@pytest.fixture
def ada(api: TestClient) -> Headers:
    """Ada (Europe/London) with her client Globex, whose default currency is USD."""
    headers = auth_headers(api)
    create_client(api, headers, email="accounts@globex.example", default_currency="USD")
    return headers


def test_the_file_is_named_for_today_and_opens_in_a_spreadsheet(
    api: TestClient, ada: Headers
) -> None:
    imported(api, ada, SPREADSHEET)
    before = today_in("Europe/London")
    response = export(api, ada)
    names = {
        f'attachment; filename="invoices-{day}.csv"' for day in (before, today_in("Europe/London"))
    }
    assert response.headers["content-disposition"] in names
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    # A byte order mark so spreadsheets read UTF-8, and RFC 4180 line endings.
    assert response.content.startswith(b"\xef\xbb\xbfnumber,client_email,")
    assert response.content.count(b"\r\n") == 6


def test_every_column_is_exported(api: TestClient, ada: Headers) -> None:
    imported(api, ada, SPREADSHEET)
    exported = {row["number"]: row for row in rows(export(api, ada))}
    issued_today = exported["E-4"]["issue_date"]
    assert exported == {
        "E-1": {
            "number": "E-1",
            "client_email": "accounts@globex.example",
            "client_name": "Globex Corporation",
            "amount": "1250.00",
            "currency": "USD",
            "issue_date": "2001-01-01",
            "due_date": "2001-01-31",
            "status": "paid",
            "paid_on": "2001-02-03",
            "amount_paid": "1250.00",
            "payment_url": "https://pay.example/e1",
            "notes": "Thanks, again",
        },
        "E-2": {
            "number": "E-2",
            "client_email": "hello@initech.example",
            "client_name": "Initech",
            "amount": "99.50",
            "currency": "EUR",
            "issue_date": "2001-02-01",
            "due_date": "2001-03-01",
            "status": "open",
            "paid_on": "",
            "amount_paid": "",
            "payment_url": "",
            "notes": "",
        },
        "E-3": {**exported["E-2"], "number": "E-3", "amount": "10.00", "status": "void"},
        "E-4": {
            "number": "E-4",
            "client_email": "bill@umbrella.example",
            "client_name": "Umbrella",
            "amount": "5000",
            "currency": "JPY",
            "issue_date": issued_today,
            "due_date": "2150-01-31",
            "status": "draft",
            "paid_on": "",
            "amount_paid": "",
            "payment_url": "",
            "notes": "",
        },
        "E-5": {
            **exported["E-2"],
            "number": "E-5",
            "amount": "1.50",
            "issue_date": "2001-07-01",
            "due_date": "2001-07-31",
            "status": "paid",
            # Paid at 2001-07-01T23:00Z: the 2nd of July in London.
            "paid_on": "2001-07-02",
            "amount_paid": "1.50",
        },
    }
    # Earliest due first, as the list sorts by default.
    assert list(exported) == ["E-1", "E-2", "E-3", "E-5", "E-4"]


def test_an_export_imports_again_as_unchanged(api: TestClient, ada: Headers) -> None:
    imported(api, ada, SPREADSHEET)
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    # An invoice paid by hand at an arbitrary time of day, in part.
    made = api.post(
        "/invoices",
        json={
            "client_id": globex,
            "number": "H-1",
            "amount": "80.00",
            "due_date": "2001-05-01",
            "issue_date": "2001-04-01",
            "notes": "  spaced\tout  ",
        },
        headers=ada,
    )
    assert made.status_code == 201, made.text
    paid = api.post(
        f"/invoices/{made.json()['id']}/mark-paid",
        json={"paid_at": "2001-05-02T22:30:00-04:00", "amount_paid": "20.00"},
        headers=ada,
    )
    assert paid.status_code == 200, paid.text
    before = stored(api, ada)
    file = export(api, ada).content
    assert counts(imported(api, ada, file)) == (0, 6, 0, 0)
    assert stored(api, ada) == before


def test_an_export_moves_an_account_whole(api: TestClient, ada: Headers) -> None:
    """Imported into an empty account (in another time zone), an export recreates the
    clients and invoices, part payments included, and that account's export is the same
    file."""
    imported(api, ada, SPREADSHEET)
    globex = clients(api, ada)["accounts@globex.example"]["id"]
    for number, amount_paid in (("H-1", "20.00"), ("H-2", "95.50")):
        made = create_invoice(
            api,
            ada,
            globex,
            number=number,
            amount="80.00",
            issue_date="2001-04-01",
            due_date="2001-05-01",
        )
        paid = api.post(
            f"/invoices/{made['id']}/mark-paid",
            json={"paid_at": "2001-05-02", "amount_paid": amount_paid},
            headers=ada,
        )
        assert paid.status_code == 200, paid.text
    file = export(api, ada).content
    bob = auth_headers(api, email="bob@example.com", name="Bob", time_zone="Pacific/Auckland")
    assert counts(imported(api, bob, file)) == (7, 0, 3, 0)
    assert export(api, bob).content.split(b"\r\n")[1:] == file.split(b"\r\n")[1:]
    # Every invoice as Ada has it, but for what cannot be the same in another account (ids,
    # times, and days overdue, counted in the account's time zone).
    local = {"id", "client_id", "paid_at", "days_overdue", "created_at", "updated_at"}

    def same(headers: Headers) -> dict[str, dict[str, Any]]:
        return {
            number: {k: v for k, v in invoice.items() if k not in local}
            for number, invoice in invoices(api, headers).items()
        }

    assert same(bob) == same(ada)
    assert (invoices(api, bob)["H-1"]["amount_paid"], invoices(api, bob)["H-2"]["amount_paid"]) == (
        "20.00",
        "95.50",
    )


FILTERED = csv_file(
    "F-1,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,rush job",
    "F-2,accounts@globex.example,,2.00,,2001-01-01,2150-01-31,open,,,",
    "F-3,hello@initech.example,Initech,3.00,EUR,2001-02-01,2001-03-01,paid,2001-03-05,,",
    "F-4,hello@initech.example,,4.00,,2001-02-01,2150-06-30,draft,,,",
    "F-5,accounts@globex.example,,5.00,,2001-04-01,2001-05-01,void,,,Cancelled: Rush",
    "F-6,hello@initech.example,,6.00,,2001-01-15,2100-01-01,open,,,",
)


def test_filters_and_sorting_are_those_of_the_list(api: TestClient, ada: Headers) -> None:
    imported(api, ada, FILTERED)
    initech = clients(api, ada)["hello@initech.example"]["id"]
    cases: list[dict[str, Any]] = [
        {},
        {"status": "open"},
        {"status": "paid"},
        {"client_id": initech},
        {"overdue": "true"},
        {"overdue": "false"},
        {"due_before": "2100-01-01"},
        {"due_after": "2001-03-01"},
        {"q": "rush"},
        {"q": "initech"},
        {"status": "open", "client_id": initech, "due_after": "2001-01-01"},
        {"sort": "-number"},
        {"sort": "issue_date"},
        {"sort": "-due_date", "overdue": "false"},
    ]
    for params in cases:
        listed = api.get("/invoices", params={**params, "limit": 200}, headers=ada)
        assert listed.status_code == 200, listed.text
        expected = [item["number"] for item in listed.json()["items"]]
        assert numbers(export(api, ada, **params)) == expected, params
    assert numbers(export(api, ada, q="rush")) == ["F-1", "F-5"]


def test_bad_filters_are_refused_before_anything_is_sent(api: TestClient, ada: Headers) -> None:
    refusals = [
        ({"status": "late"}, "status"),
        ({"due_before": "yesterday"}, "due_before"),
        ({"client_id": "0"}, "client_id"),
        ({"sort": "amount"}, "sort"),
    ]
    for params, field in refusals:
        response = api.get("/invoices/export.csv", params=params, headers=ada)
        assert_error(response, 422, "invalid_input", field)
    assert_error(api.get("/invoices/export.csv"), 401, "not_authenticated")


def test_another_accounts_invoices_never_appear(api: TestClient, ada: Headers) -> None:
    imported(api, ada, SPREADSHEET)
    bob = auth_headers(api, email="bob@example.com", name="Bob")
    bobs_client = create_client(api, bob, email="bob-client@example.com")
    imported(api, bob, csv_file("BOB-1,bob-client@example.com,,9.00,,,2150-01-31,,,,"))
    assert "BOB-1" not in numbers(export(api, ada))
    assert numbers(export(api, ada, client_id=bobs_client["id"])) == []
    assert numbers(export(api, ada, q="BOB")) == []
    assert numbers(export(api, bob)) == ["BOB-1"]


FORMULAS = csv_file(
    '-001,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,=HYPERLINK("x")',
    "'=1+2,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,@SUM(A1)",
    "+44,formula@client.example,=cmd|'/c calc'!A1,1.00,EUR,2001-01-01,2001-01-31,open,,,",
    'plain,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,"\tindented"',
    "quote,accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,'kept as typed",
)


def test_formula_cells_are_neutralised_and_survive_the_round_trip(
    api: TestClient, ada: Headers
) -> None:
    imported(api, ada, FORMULAS)
    stored_numbers = set(invoices(api, ada))
    assert stored_numbers == {"-001", "=1+2", "+44", "plain", "quote"}
    response = export(api, ada)
    exported = rows(response)
    for row in exported:
        for column in ("number", "client_email", "client_name", "payment_url", "notes"):
            assert row[column][:1] not in {"=", "+", "-", "@", "\t", "\r"}, (column, row)
    by_number = {row["number"]: row for row in exported}
    assert set(by_number) == {"'-001", "'=1+2", "'+44", "plain", "quote"}
    assert by_number["'-001"]["notes"] == '\'=HYPERLINK("x")'
    assert by_number["'+44"]["client_name"] == "'=cmd|'/c calc'!A1"
    assert by_number["plain"]["notes"] == "'\tindented"
    assert by_number["quote"]["notes"] == "'kept as typed"
    before = stored(api, ada)
    assert counts(imported(api, ada, response.content)) == (0, 5, 0, 0)
    assert stored(api, ada) == before


def get_asgi(app: Any, path: str, authorization: str) -> list[bytes]:
    """The body of a GET, as the chunks the application sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        # ASGI 2.4: the server reports disconnects on send, the response need not listen.
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", authorization.encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    assert next(m["status"] for m in sent if m["type"] == "http.response.start") == 200
    return [m["body"] for m in sent if m["type"] == "http.response.body" and m.get("body")]


def test_a_large_export_is_sent_a_batch_at_a_time(api: TestClient, ada: Headers) -> None:
    many = [
        f"L-{i:04d},accounts@globex.example,,1.00,,2001-01-01,2001-01-31,open,,,"
        for i in range(1201)
    ]
    assert counts(imported(api, ada, csv_file(*many))) == (1201, 0, 0, 0)
    chunks = get_asgi(api.app, "/invoices/export.csv", ada["Authorization"])
    # 500 rows a batch: three batches, each sent as soon as it is read.
    assert len(chunks) == 3
    assert [chunk.count(b"\r\n") for chunk in chunks] == [501, 500, 201]
    body = b"".join(chunks).decode()
    assert body.count("\r\nL-") == 1201
