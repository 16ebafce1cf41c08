"""The invoice CSV format without a database: reading files line by line, the header, the
checks of one row, the comparison behind "unchanged", and formula neutralisation."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duespark.invoices import csv_format
from duespark.invoices.csv_format import (
    COLUMNS,
    SEPARATOR_MESSAGE,
    CsvRow,
    Header,
    InvoiceFacts,
    RecordReader,
    RowError,
    UnreadableFile,
    differences,
    export_cells,
    neutralise,
    parse_row,
    read_header,
    restore,
)
from duespark.kit.money import AMOUNT_SHAPE

HEADER = read_header(["number", "client_email", "amount", "currency", "due_date"])


class Trickle(io.RawIOBase):
    """A file that hands out one byte per read, so every chunk boundary gets tried."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.data.read(1)


def records(data: bytes) -> list[tuple[int, list[str]]]:
    return list(RecordReader(io.BytesIO(data)))


def unreadable(data: bytes) -> RowError:
    with pytest.raises(UnreadableFile) as refused:
        records(data)
    return refused.value.error


def row(**cells: str) -> CsvRow | list[RowError]:
    """parse_row over a header of exactly the given columns."""
    header = read_header(list(cells))
    return parse_row(header, list(cells.values()), line=7)


def valid(**cells: str) -> CsvRow:
    parsed = row(**cells)
    assert isinstance(parsed, CsvRow), parsed
    return parsed


def refused(**cells: str) -> list[tuple[str | None, str]]:
    parsed = row(**cells)
    assert isinstance(parsed, list), parsed
    assert {error.line for error in parsed} == {7}
    return [(error.field, error.message) for error in parsed]


MINIMAL = {
    "number": "INV-1",
    "client_email": "a@example.com",
    "amount": "10.00",
    "due_date": "2025-01-31",
}


# ── reading lines ─────────────────────────────────────────────────────────────────────────

QUOTED = b'number,notes\r\nA-1,"Hello, world"\r\nA-2,"two\r\nlines, ""quoted"""\r\nA-3,last\r\n'
QUOTED_RECORDS = [
    (1, ["number", "notes"]),
    (2, ["A-1", "Hello, world"]),
    (3, ["A-2", 'two\r\nlines, "quoted"']),
    (5, ["A-3", "last"]),
]


def test_records_carry_their_first_physical_line() -> None:
    assert records(QUOTED) == QUOTED_RECORDS


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"])
def test_any_line_ending(newline: bytes) -> None:
    data = QUOTED.replace(b"\r\n", newline)
    expected = [
        (line, [c.replace("\r\n", newline.decode()) for c in r]) for line, r in QUOTED_RECORDS
    ]
    assert records(data) == expected


def test_chunk_boundaries_change_nothing() -> None:
    """Even a "\\r\\n" split between two reads is one line ending."""
    data = "\ufeff".encode() + QUOTED + "A-4,Ünïcödé €\r\n".encode()
    reader = RecordReader(Trickle(data))  # type: ignore[arg-type]
    assert list(reader) == [*QUOTED_RECORDS, (6, ["A-4", "Ünïcödé €"])]
    assert reader.bytes_read == len(data)


def test_a_byte_order_mark_is_dropped_from_the_first_line_only() -> None:
    data = b"\xef\xbb\xbfnumber,notes\r\nA-1,\xef\xbb\xbfkept\r\n"
    assert records(data) == [(1, ["number", "notes"]), (2, ["A-1", "\ufeffkept"])]


def test_text_that_is_not_utf8_is_refused_with_its_line() -> None:
    error = unreadable("number,notes\r\nA-1,ok\r\nA-2,café\r\n".encode("latin-1"))
    assert error.line == 3 and "not UTF-8" in error.message and "0xe9" in error.message


def test_a_quote_left_open_is_refused() -> None:
    error = unreadable(b'number,notes\r\nA-1,"never closed\r\nA-2,x\r\n')
    assert error.line == 3 and "cannot be read" in error.message


def test_text_after_a_closing_quote_is_refused() -> None:
    assert unreadable(b'number,notes\r\nA-1,"a"b\r\n').line == 2


def test_a_line_without_end_is_refused_before_it_fills_memory() -> None:
    error = unreadable(b"number\r\n" + b"x" * (csv_format.MAX_LINE_BYTES + 2))
    assert error.line == 2 and "longer than" in error.message


# ── the header ────────────────────────────────────────────────────────────────────────────


def test_header_is_case_insensitive_in_any_order() -> None:
    header = read_header([" Due_Date ", "AMOUNT", "Client_Email", "number"])
    assert header == Header(
        positions={"due_date": 0, "amount": 1, "client_email": 2, "number": 3}, width=4
    )


@pytest.mark.parametrize(
    ("cells", "field", "needle"),
    [
        ([*MINIMAL, "Discount"], "Discount", 'unknown column "Discount"'),
        ([*MINIMAL, "amount"], "amount", 'the column "amount" appears twice'),
        ([*MINIMAL, ""], None, "column 5 of the header has no name"),
        (["number", "client_email", "amount"], "due_date", "lacks the required column(s) due_date"),
        (["1250.00", "a@example.com"], "1250.00", "unknown column"),
    ],
)
def test_bad_headers_are_refused(cells: list[str], field: str | None, needle: str) -> None:
    with pytest.raises(UnreadableFile) as refused_header:
        read_header(cells)
    error = refused_header.value.error
    assert (error.line, error.field) == (1, field)
    assert needle in error.message


def test_unknown_column_message_lists_the_columns() -> None:
    with pytest.raises(UnreadableFile) as refused_header:
        read_header([*MINIMAL, "vat"])
    assert ", ".join(COLUMNS) in refused_header.value.error.message


# ── one row ───────────────────────────────────────────────────────────────────────────────


def test_a_row_with_every_column() -> None:
    parsed = valid(
        number=" INV-7 ",
        client_email=" Accounts@Globex.Example ",
        client_name="Globex",
        amount="1250.5",
        currency="EUR",
        issue_date="2025-01-01",
        due_date="2025-01-31",
        status="paid",
        paid_on="2025-02-03",
        payment_url="https://pay.example/inv/7",
        notes="  Thanks,\nsee you  ",
    )
    assert (parsed.number, parsed.client_email, parsed.client_name) == (
        "INV-7",
        "accounts@globex.example",
        "Globex",
    )
    assert (parsed.amount, parsed.currency, parsed.status) == ("1250.5", "EUR", "paid")
    assert (parsed.issue_date, parsed.due_date, parsed.paid_on) == (
        date(2025, 1, 1),
        date(2025, 1, 31),
        date(2025, 2, 3),
    )
    assert str(parsed.payment_url) == "https://pay.example/inv/7"
    assert parsed.notes == "  Thanks,\nsee you  "  # notes keep their spaces


def test_blank_cells_take_the_defaults() -> None:
    parsed = valid(**MINIMAL, client_name="", currency="", issue_date="", status="", notes="")
    assert (parsed.client_name, parsed.currency, parsed.issue_date) == (None, None, None)
    assert (parsed.status, parsed.paid_on, parsed.payment_url, parsed.notes) == (
        "open",
        None,
        None,
        "",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("number", "", "required"),
        ("number", "N" * 65, "String should have at most 64 characters"),
        (
            "client_email",
            "not-an-email",
            "value is not a valid email address: An email address must have an @-sign.",
        ),
        ("amount", "", "required"),
        ("amount", "-5", AMOUNT_SHAPE),
        ("amount", "12.5 EUR", AMOUNT_SHAPE),
        ("amount", "1,250.00", SEPARATOR_MESSAGE),
        ("amount", "1.250,00", SEPARATOR_MESSAGE),
        ("amount", "1 250", SEPARATOR_MESSAGE),
        ("amount", "1.250.000", SEPARATOR_MESSAGE),
        ("amount", "1'250", SEPARATOR_MESSAGE),
        ("amount", "12.345", 'amount EUR has 2 decimal places; "12.345" has 3.'),
        ("currency", "eur", "String should match pattern '^[A-Z]{3}$'"),
        ("currency", "DEM", '"DEM" is not an ISO 4217 currency code in use (like "EUR")'),
        ("due_date", "31/01/2025", 'must be a date written YYYY-MM-DD, like "2026-10-31"'),
        ("due_date", "2250-01-01", "must be between 1970-01-01 and 2199-12-31"),
        ("payment_url", "javascript:alert(1)", "URL scheme should be 'http' or 'https'"),
        ("notes", "bad\x00byte", "must not contain NUL characters"),
    ],
)
def test_each_field_is_checked_like_the_api(column: str, value: str, message: str) -> None:
    cells = {**MINIMAL, "currency": "EUR", column: value}
    assert refused(**cells) == [(column, message)]


def test_every_problem_of_a_row_is_reported() -> None:
    problems = refused(number="", client_email="x", amount="1,0", due_date="soon")
    assert [field for field, _ in problems] == ["number", "client_email", "amount", "due_date"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"status": "paid"}, [("paid_on", "required when the status is paid")]),
        (
            {"status": "open", "paid_on": "2025-01-05"},
            [("paid_on", "only a paid invoice has a payment date; this one is open")],
        ),
        (
            {"issue_date": "2025-02-01"},
            [("due_date", "The due date cannot be before the issue date.")],
        ),
        ({"status": "sent"}, [("status", "Input should be 'open', 'paid', 'draft' or 'void'")]),
    ],
)
def test_rules_across_columns(cells: dict[str, str], expected: list[tuple[str, str]]) -> None:
    assert refused(**{**MINIMAL, **cells}) == expected


def test_a_row_of_the_wrong_width_is_refused_whole() -> None:
    parsed = parse_row(HEADER, ["INV-1", "a@example.com", "1.00"], line=4)
    assert parsed == [RowError(4, None, "the row has 3 values; the header has 5")]


def test_formula_apostrophes_come_off_text_cells_only() -> None:
    parsed = valid(**{**MINIMAL, "number": "'-001", "notes": "'=SUM(A1)"})
    assert (parsed.number, parsed.notes) == ("-001", "=SUM(A1)")
    assert refused(**{**MINIMAL, "amount": "'-5"}) == [("amount", AMOUNT_SHAPE)]


# ── "unchanged" ───────────────────────────────────────────────────────────────────────────

STORED = InvoiceFacts(
    client_email="a@example.com",
    amount_minor=1000,
    currency="EUR",
    issue_date=date(2025, 1, 1),
    due_date=date(2025, 1, 31),
    status="paid",
    paid_on=date(2025, 2, 1),
    payment_url=None,
    notes="",
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"issue_date": None}, []),  # left blank: any issue date matches
        ({"issue_date": date(2025, 1, 2)}, ["issue_date"]),
        ({"client_email": "b@example.com"}, ["client_email"]),
        ({"amount_minor": 1001, "currency": "USD"}, ["amount", "currency"]),
        ({"status": "open", "paid_on": None}, ["status", "paid_on"]),
        ({"payment_url": "https://pay.example/"}, ["payment_url"]),
        ({"notes": " "}, ["notes"]),
    ],
)
def test_differences_name_the_columns(change: dict, expected: list[str]) -> None:
    assert differences(replace(STORED, **change), STORED) == expected


# ── export and formula neutralisation ─────────────────────────────────────────────────────


def test_export_cells_follow_the_columns() -> None:
    cells = export_cells("=1+1", "@Globex", STORED, "10.00")
    assert dict(zip(COLUMNS, cells, strict=True)) == {
        "number": "'=1+1",
        "client_email": "a@example.com",
        "client_name": "'@Globex",
        "amount": "10.00",
        "currency": "EUR",
        "issue_date": "2025-01-01",
        "due_date": "2025-01-31",
        "status": "paid",
        "paid_on": "2025-02-01",
        "amount_paid": "10.00",
        "payment_url": "",
        "notes": "",
    }


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+33 1 23", "'+33 1 23"),
        ("-001", "'-001"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("'=already", "''=already"),
        ("plain", "plain"),
        ("'quoted", "'quoted"),
        ("a-b", "a-b"),
        ("", ""),
    ],
)
def test_neutralise(text: str, shown: str) -> None:
    assert neutralise(text) == shown
    assert restore(shown) == text


@given(st.text())
def test_restore_undoes_neutralise_and_no_formula_survives(text: str) -> None:
    shown = neutralise(text)
    assert restore(shown) == text
    assert shown[:1] not in csv_format.FORMULA_STARTS or shown == ""
