"""The invoice CSV format: its columns, reading a file row by row, and the checks a row can
pass without a database.

One format serves import and export, so an exported file imports again as "unchanged":

=============  ==========================================================================
column         meaning
=============  ==========================================================================
number         required; the invoice number, unique within the account
client_email   required; the client, matched case-insensitively within the account
client_name    required only when no client has that email yet (then one is created)
amount         required; a decimal with a dot, no sign, no separators: ``1250.00``
currency       ISO 4217; blank means the client's default currency (existing clients)
issue_date     ``YYYY-MM-DD``; blank means today in the account's time zone
due_date       required; ``YYYY-MM-DD``, not before the issue date
status         ``open`` (default), ``paid``, ``draft`` or ``void``
paid_on        ``YYYY-MM-DD``; required when the status is paid, refused otherwise
amount_paid    a decimal like ``amount``, more than zero: what a paid invoice received (as
               ``mark-paid``'s ``amount_paid``); blank means the whole amount. Only a paid
               invoice has one (blank or zero otherwise). Optional: older files lack it
payment_url    an http(s) link, or blank
notes          free text, or blank
=============  ==========================================================================

The header row names the columns, in any order and any letter case; unknown columns are
refused. Each field is checked by the same annotated types as the JSON API's
``InvoiceCreate`` and ``ClientCreate``, so a value is refused here exactly when the API
would refuse it, with the same message.

Compared with a stored invoice (:func:`differences`), a blank ``amount_paid`` matches any
paid amount, as a blank ``issue_date`` matches any issue date, so a file written before the
column existed imports again as "unchanged".

Reading never holds the file: :class:`RecordReader` decodes one physical line at a time (so
a byte that is not UTF-8 is reported with its line number) and hands lines to
:func:`csv.reader`. Line numbers are physical lines of the file, the header being line 1.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula. Export writes such text cells with a leading apostrophe
(:func:`neutralise`), and import removes exactly that apostrophe again (:func:`restore`),
so ``-001`` survives the round trip as ``-001``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, BinaryIO, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from duespark.invoices.schemas import InvoiceDate, InvoiceNumber, PaymentUrl
from duespark.kit.fields import AmountText, CurrencyCode, Email, Name, Notes
from duespark.kit.money import AmountError, format_amount, parse_amount

COLUMNS = (
    "number",
    "client_email",
    "client_name",
    "amount",
    "currency",
    "issue_date",
    "due_date",
    "status",
    "paid_on",
    "amount_paid",
    "payment_url",
    "notes",
)
REQUIRED_COLUMNS = ("number", "client_email", "amount", "due_date")
# Free text a spreadsheet could take for a formula; the other columns hold codes, digits
# and dates, which cannot start with a formula character once valid.
TEXT_COLUMNS = frozenset({"number", "client_email", "client_name", "payment_url", "notes"})
FORMULA_STARTS = frozenset("=+-@\t\r")

READ_CHUNK_BYTES = 64 * 1024
MAX_LINE_BYTES = 1_000_000
BOM = "\ufeff"

# Digits with a thousands separator or a decimal comma: "1,250.00", "1.250,00", "1 250".
_SEPARATED_AMOUNT = re.compile(r"[0-9][0-9.,'\s\u00a0\u202f]*")
SEPARATOR_MESSAGE = (
    'must be written with a dot for the decimals and no thousands separators: "1250.00", '
    'not "1,250.00" or "1.250,00"'
)
# The API's own wording for the rules it checks in the invoice service.
DUE_BEFORE_ISSUE = "The due date cannot be before the issue date."
PAID_IN_FUTURE = "A payment cannot be dated in the future."
PAID_NOTHING = "amount_paid must be more than zero."


@dataclass(frozen=True)
class RowError:
    """One problem with one row: ``field`` is the column at fault, or None for the row."""

    line: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class UnreadableFile(Exception):
    """The file cannot be read on from here (not UTF-8, broken quoting, a bad header): no
    row after this point can be trusted, so the whole import stops."""

    def __init__(self, line: int, message: str, *, field: str | None = None) -> None:
        super().__init__(f"line {line}: {message}")
        self.error = RowError(line=line, field=field, message=message)


_EMAIL = TypeAdapter(Email)


@lru_cache(maxsize=4096)
def _valid_email(text: str) -> str:
    """``Email`` as the API checks it, remembered: a file names the same few clients on
    thousands of rows, and checking an address is the slowest part of reading a row."""
    try:
        return _EMAIL.validate_python(text)
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None


def _check_email(value: object) -> object:
    return _valid_email(value) if isinstance(value, str) else value


class CsvRow(BaseModel):
    """One row's values, each checked by the API's own field type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    number: InvoiceNumber
    client_email: Annotated[str, BeforeValidator(_check_email)]
    client_name: Name | None = None
    amount: AmountText
    currency: CurrencyCode | None = None
    issue_date: InvoiceDate | None = None
    due_date: InvoiceDate
    status: Literal["open", "paid", "draft", "void"] = "open"
    paid_on: InvoiceDate | None = None
    amount_paid: AmountText | None = None
    payment_url: PaymentUrl | None = None
    notes: Notes = ""


@dataclass(frozen=True)
class Header:
    """Where each known column sits in a row."""

    positions: dict[str, int]
    width: int


@dataclass(frozen=True)
class InvoiceFacts:
    """What makes two invoices with the same number "the same" for an import. A row's
    ``issue_date`` or ``amount_paid_minor`` of None (left blank) matches any value. A stored
    paid invoice's ``amount_paid_minor`` of None means the whole amount (see
    :func:`paid_minor`)."""

    client_email: str
    amount_minor: int
    currency: str
    issue_date: date | None
    due_date: date
    status: str
    paid_on: date | None
    payment_url: str | None
    notes: str
    amount_paid_minor: int | None = None


def paid_minor(facts: InvoiceFacts) -> int | None:
    """What a paid invoice received, in minor units (its whole amount when no paid amount
    is recorded, as analytics counts it); None for an invoice that is not paid."""
    if facts.status != "paid":
        return None
    return facts.amount_paid_minor if facts.amount_paid_minor is not None else facts.amount_minor


class RecordReader:
    """The records of a CSV file as ``(line, cells)``, read a chunk at a time.

    ``bytes_read`` counts the bytes taken from the source (a chunk ahead of the records);
    ``bytes_consumed`` those of the lines handed to the CSV parser so far, which after the
    last record of a batch is exactly where that record ends: the measure for progress
    bars. At the end of the file both are its size.
    """

    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.bytes_read = 0
        self.bytes_consumed = 0
        self._lines_read = 0

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self._lines(), strict=True)
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise UnreadableFile(
                    reader.line_num or 1, f"the CSV cannot be read here ({exc})"
                ) from None
            yield start, cells

    def _lines(self) -> Iterator[str]:
        pending = b""
        while True:
            chunk = self.source.read(READ_CHUNK_BYTES)
            self.bytes_read += len(chunk)
            lines = (pending + chunk).splitlines(keepends=True)
            # The last piece may be cut short (even between "\r" and "\n"): keep it for the
            # next chunk, unless this was the end of the file.
            pending = lines.pop() if chunk and lines else b""
            for raw in lines:
                self.bytes_consumed += len(raw)
                yield self._decode(raw)
            if len(pending) > MAX_LINE_BYTES:
                raise UnreadableFile(
                    self._lines_read + 1, f"the line is longer than {MAX_LINE_BYTES} bytes"
                )
            if not chunk:
                return

    def _decode(self, raw: bytes) -> str:
        self._lines_read += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableFile(
                self._lines_read,
                f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                'save it as "CSV UTF-8" and try again',
            ) from None
        return text.removeprefix(BOM) if self._lines_read == 1 else text


def read_header(cells: list[str]) -> Header:
    """The columns of the header row, or UnreadableFile naming the column at fault."""
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = cell.strip().lower()
        if not name:
            raise UnreadableFile(1, f"column {index + 1} of the header has no name")
        if name not in COLUMNS:
            raise UnreadableFile(
                1,
                f'unknown column "{cell.strip()}"; the columns are {", ".join(COLUMNS)}',
                field=cell.strip(),
            )
        if name in positions:
            raise UnreadableFile(1, f'the column "{name}" appears twice', field=name)
        positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        raise UnreadableFile(
            1, f"the header lacks the required column(s) {', '.join(missing)}", field=missing[0]
        )
    return Header(positions=positions, width=len(cells))


def is_blank(cells: list[str]) -> bool:
    """An empty line, or a row of empty cells (spreadsheets write those at the end)."""
    return not any(cell.strip() for cell in cells)


def parse_row(header: Header, cells: list[str], line: int) -> CsvRow | list[RowError]:
    """The row's values, or every problem with it that needs no database to see."""
    if len(cells) != header.width:
        return [
            RowError(line, None, f"the row has {len(cells)} values; the header has {header.width}")
        ]
    values = {name: _cell(name, cells[index]) for name, index in header.positions.items()}
    present = {name: value for name, value in values.items() if value != ""}
    try:
        row = CsvRow.model_validate(present)
    except ValidationError as exc:
        return [_row_error(line, error, present) for error in exc.errors()]
    errors = _row_rules(row, line)
    return errors or row


def _cell(name: str, text: str) -> str:
    """A cell as the field sees it: spaces around codes and dates dropped (notes keep
    theirs), and the export's formula apostrophe removed from text."""
    if name != "notes":
        text = text.strip()
    return restore(text) if name in TEXT_COLUMNS else text


def _row_rules(row: CsvRow, line: int) -> list[RowError]:
    errors: list[RowError] = []
    if row.status == "paid" and row.paid_on is None:
        errors.append(RowError(line, "paid_on", "required when the status is paid"))
    if row.status != "paid" and row.paid_on is not None:
        errors.append(
            RowError(
                line, "paid_on", f"only a paid invoice has a payment date; this one is {row.status}"
            )
        )
    if row.issue_date is not None and row.due_date < row.issue_date:
        errors.append(RowError(line, "due_date", DUE_BEFORE_ISSUE))
    if row.currency is not None:
        errors += amount_errors(row, row.currency, line)
    if row.amount_paid is not None:
        paid_nothing = is_zero(row.amount_paid)
        if row.status == "paid" and paid_nothing:
            errors.append(RowError(line, "amount_paid", PAID_NOTHING))
        if row.status != "paid" and not paid_nothing:
            errors.append(
                RowError(
                    line,
                    "amount_paid",
                    f"only a paid invoice has a paid amount; this one is {row.status}",
                )
            )
    return errors


def amount_errors(row: CsvRow, currency: str, line: int) -> list[RowError]:
    """The row's amounts that ``currency`` cannot hold (too many decimals, too large)."""
    errors: list[RowError] = []
    for field in ("amount", "amount_paid"):
        problem = amount_problem(getattr(row, field), currency, field=field)
        if problem is not None:
            errors.append(RowError(line, field, problem))
    return errors


def amount_problem(amount: str | None, currency: str, *, field: str = "amount") -> str | None:
    """The API's message for an amount its currency cannot hold, or None (also for a
    blank amount)."""
    if amount is None:
        return None
    try:
        parse_amount(amount, currency)
    except AmountError as exc:
        return f"{field} {exc}."
    return None


def is_zero(amount: str) -> bool:
    """Whether an amount already checked by ``AmountText`` is zero ("0", "0.00")."""
    return Decimal(amount) == 0


def differences(row: InvoiceFacts, stored: InvoiceFacts) -> list[str]:
    """The columns in which a row differs from the stored invoice of the same number."""
    pairs = {
        "client_email": (row.client_email, stored.client_email),
        "amount": (row.amount_minor, stored.amount_minor),
        "currency": (row.currency, stored.currency),
        "issue_date": (row.issue_date or stored.issue_date, stored.issue_date),
        "due_date": (row.due_date, stored.due_date),
        "status": (row.status, stored.status),
        "paid_on": (row.paid_on, stored.paid_on),
        "amount_paid": (
            row.amount_paid_minor if row.amount_paid_minor is not None else paid_minor(stored),
            paid_minor(stored),
        ),
        "payment_url": (row.payment_url, stored.payment_url),
        "notes": (row.notes, stored.notes),
    }
    return [column for column in COLUMNS if column in pairs and len(set(pairs[column])) > 1]


def export_cells(number: str, client_name: str, facts: InvoiceFacts, amount: str) -> list[str]:
    """One invoice as a row of :data:`COLUMNS`, text cells neutralised. A paid invoice's
    ``amount_paid`` is always written, even when it is the whole amount."""
    paid = paid_minor(facts)
    values = {
        "number": number,
        "client_email": facts.client_email,
        "client_name": client_name,
        "amount": amount,
        "currency": facts.currency,
        "issue_date": facts.issue_date.isoformat() if facts.issue_date else "",
        "due_date": facts.due_date.isoformat(),
        "status": facts.status,
        "paid_on": facts.paid_on.isoformat() if facts.paid_on else "",
        "amount_paid": format_amount(paid, facts.currency) if paid is not None else "",
        "payment_url": facts.payment_url or "",
        "notes": facts.notes,
    }
    return [neutralise(values[name]) if name in TEXT_COLUMNS else values[name] for name in COLUMNS]


def neutralise(text: str) -> str:
    """Text a spreadsheet will show as text: a leading apostrophe before a formula
    character, and before apostrophes that lead to one, so :func:`restore` can undo it."""
    return "'" + text if _formula_like(text) else text


def restore(text: str) -> str:
    """Undo :func:`neutralise`; text it would not have changed is returned as it is."""
    return text[1:] if text.startswith("'") and _formula_like(text[1:]) else text


def _formula_like(text: str) -> bool:
    first = text.lstrip("'")[:1]
    return first != "" and first in FORMULA_STARTS


def _row_error(line: int, error: Any, values: dict[str, str]) -> RowError:
    """A field error in the API's wording (see ``exception_handlers``), except for amounts
    (``amount``, ``amount_paid``) written with separators, which get a message that says
    what to change."""
    field = str(error["loc"][0]) if error.get("loc") else None
    if error.get("type") == "missing":
        message = "required"
    elif error.get("type") == "extra_forbidden":
        message = "unknown field"
    elif field in {"amount", "amount_paid"} and _has_separators(values.get(field, "")):
        message = SEPARATOR_MESSAGE
    else:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return RowError(line, field, message)


def _has_separators(amount: str) -> bool:
    return bool(_SEPARATED_AMOUNT.fullmatch(amount)) and (
        bool(re.search(r"[,'\s\u00a0\u202f]", amount)) or amount.count(".") > 1
    )
