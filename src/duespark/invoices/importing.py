"""Importing invoices from a CSV file: the use case behind ``POST /invoices/import`` and
``duespark import invoices``. The columns and the checks that need no database are in
``invoices/csv_format.py``.

What an import promises:

* **All or nothing.** The import runs in a savepoint of the caller's transaction. When any
  row is bad it raises :class:`InvalidRows` listing every bad row, and the savepoint is
  rolled back: nothing is written, even by a caller that catches the error. With
  ``skip_invalid`` the good rows are written and the bad ones reported. A file that cannot
  be read on (not UTF-8, broken quoting, a bad header) writes nothing either way.
* **Idempotent.** An invoice is identified by its number within the account. A row whose
  number exists with the same details is "unchanged"; with other details it is a bad row.
  A number that a good row of the file already had is a bad row (a bad row does not take
  its number). Importing a file twice therefore creates nothing the second time.
* **The same as by hand.** Fields are checked with the API's types and messages; clients
  missing by email are created with the account's time zone and the row's currency; an
  invoice is created with the same fields and "created" activity as ``POST /invoices``,
  and paid and void rows then go through ``invoice_service.mark_paid`` and
  ``void_invoice``, so their derived fields, activity and reminder cancellation are those
  of the API's actions. ``paid_on`` is the start of that day in the account's time zone,
  and ``amount_paid`` the amount paid (blank: the whole amount), as ``mark-paid`` takes
  them. As in the API, only a paid invoice has a paid amount (a part payment does not
  leave an invoice open), it is more than zero, and it may exceed the amount.
* **Flat memory.** Rows are read, checked and written a batch at a time, as plain rows
  rather than ORM objects; ``progress`` hears after each batch how many bytes of the file
  it has consumed. What is kept across batches is small per row: the numbers of
  the good rows (to report a repeat with the line that had it first) and the clients by
  email.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, BinaryIO

from pydantic import BaseModel, Field
from sqlalchemy import BindParameter, bindparam, func, insert, select
from sqlalchemy.orm import Session

from duespark.clients import service as client_service
from duespark.clients.schemas import ClientCreate
from duespark.clock import local_today
from duespark.errors import InvalidInput
from duespark.invoices import service as invoice_service
from duespark.invoices.csv_format import (
    DUE_BEFORE_ISSUE,
    PAID_IN_FUTURE,
    CsvRow,
    InvoiceFacts,
    RecordReader,
    RowError,
    UnreadableFile,
    amount_errors,
    differences,
    is_blank,
    parse_row,
    read_header,
)
from duespark.invoices.exporting import stored_facts, stored_facts_query
from duespark.invoices.schemas import MarkPaid
from duespark.kit.money import parse_amount
from duespark.models import Client, Invoice, InvoiceActivity, User

# An upload of 50 MB holds about 300,000 invoices; the HTTP edge refuses larger bodies.
IMPORT_MAX_BYTES = 50_000_000
BATCH_ROWS = 500
# A file that is wrong throughout would otherwise answer with one entry per line.
MAX_LISTED_ERRORS = 1000

Progress = Callable[[int], None]


class RowErrorRead(BaseModel):
    line: int = Field(description="The physical line in the file; the header is line 1.")
    field: str | None = Field(description="The column at fault, or null for the whole row.")
    message: str


class ImportRead(BaseModel):
    """What an import did. ``errors`` lists the bad rows (at most 1,000 entries)."""

    created: int
    unchanged: int
    clients_created: int
    skipped: int = Field(description="Bad rows left out (only with skip_invalid).")
    errors: list[RowErrorRead]


class InvalidRows(InvalidInput):
    """Rows are bad and nothing was written; ``errors`` says where and why."""

    code = "invalid_rows"

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


def import_invoices(
    session: Session,
    user: User,
    source: BinaryIO,
    *,
    now: datetime,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportRead:
    """Import the CSV file ``source`` (binary, read once, front to back) into the account.

    ``progress`` is called after each batch with the number of bytes of the file consumed
    so far (up to the batch's last row), and once more at the end of the file if blank
    lines followed that row: the last call says the file's size.
    """
    job = _Import(session, user, now=now, skip_invalid=skip_invalid)
    reader = RecordReader(source)
    reported = 0
    with session.begin_nested():
        try:
            for batch in _batches(_parsed(reader)):
                job.run_batch(batch)
                if progress is not None:
                    reported = reader.bytes_consumed
                    progress(reported)
            if progress is not None and reader.bytes_consumed > reported:
                progress(reader.bytes_consumed)
        except UnreadableFile as exc:
            raise InvalidRows(
                f"The file cannot be read: line {exc.error.line}: {exc.error.message}. "
                "Nothing was imported.",
                [exc.error],
            ) from None
        if job.bad_rows and not skip_invalid:
            raise InvalidRows(job.failure_message(), job.errors)
    return job.report()


Parsed = tuple[int, CsvRow | list[RowError]]


def _parsed(reader: RecordReader) -> Iterator[Parsed]:
    records = iter(reader)
    first = next(records, None)
    if first is None or is_blank(first[1]):
        raise UnreadableFile(1, "the first line must name the columns (number, client_email, …)")
    header = read_header(first[1])
    for line, cells in records:
        if not is_blank(cells):
            yield line, parse_row(header, cells, line)


def _batches(rows: Iterable[Parsed]) -> Iterator[list[Parsed]]:
    remaining = iter(rows)
    while batch := list(islice(remaining, BATCH_ROWS)):
        yield batch


@dataclass(frozen=True)
class _KnownClient:
    """A client of the account, by email. ``id`` is None for one the import would have
    created had it still been writing (after a bad row, an atomic import only checks)."""

    id: int | None
    default_currency: str


class _Import:
    """The state of one import across batches: counts, errors, numbers seen, clients."""

    def __init__(self, session: Session, user: User, *, now: datetime, skip_invalid: bool):
        self.session = session
        self.user = user
        self.now = now
        self.today = local_today(now, user.time_zone)
        self.skip_invalid = skip_invalid
        self.numbers: dict[str, int] = {}
        self.clients: dict[str, _KnownClient | None] = {}
        self.created = self.unchanged = self.clients_created = self.bad_rows = 0
        self.errors: list[RowError] = []
        self.errors_left_out = 0

    @property
    def writing(self) -> bool:
        """An atomic import stops writing at its first bad row: it will be rolled back."""
        return self.skip_invalid or self.bad_rows == 0

    def run_batch(self, batch: list[Parsed]) -> None:
        rows = [row for _, row in batch if isinstance(row, CsvRow)]
        stored = self._stored({row.number for row in rows})
        self._load_clients({row.client_email for row in rows})
        pending: list[tuple[dict[str, Any], CsvRow]] = []
        for line, row in batch:
            if isinstance(row, list):
                self._refuse(row)
                continue
            values = self._resolve(line, row, stored)
            if values is not None:
                pending.append((values, row))
        if self.writing:
            self._write(pending)

    def _resolve(
        self, line: int, row: CsvRow, stored: dict[str, InvoiceFacts]
    ) -> dict[str, Any] | None:
        """The columns of the invoice to create for a valid new row; None for a row that
        is unchanged or bad, or when the import no longer writes."""
        if row.number in self.numbers:
            first = self.numbers[row.number]
            message = f'invoice number "{row.number}" is repeated; line {first} has it too'
            self._refuse([RowError(line, "number", message)])
            return None
        client = self.clients.get(row.client_email)
        currency = row.currency or (client.default_currency if client else None)
        if row.number in stored:
            if self._compare(line, row, currency, stored[row.number]):
                self.numbers[row.number] = line
            return None
        errors = self._new_row_errors(line, row, client, currency)
        if errors:
            self._refuse(errors)
            return None
        assert currency is not None  # a new client's row names its currency
        if client is None:
            client = self._add_client(row, currency)
        self.numbers[row.number] = line
        self.created += 1
        if not self.writing or client.id is None:
            return None
        # The columns invoice_service.create_invoice sets. Paid and void invoices are
        # created open, then paid or voided through the service.
        return {
            "user_id": self.user.id,
            "client_id": client.id,
            "number": row.number,
            "amount_minor": parse_amount(row.amount, currency),
            "currency": currency,
            "issue_date": row.issue_date or self.today,
            "due_date": row.due_date,
            "status": "draft" if row.status == "draft" else "open",
            "payment_url": str(row.payment_url) if row.payment_url else None,
            "notes": row.notes,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _new_row_errors(
        self, line: int, row: CsvRow, client: _KnownClient | None, currency: str | None
    ) -> list[RowError]:
        """What is wrong with a row for a new invoice, beyond the checks of parse_row."""
        errors: list[RowError] = []
        if client is None:
            unknown = f"required: no client has the email {row.client_email} yet"
            if row.client_name is None:
                errors.append(RowError(line, "client_name", unknown))
            if row.currency is None:
                errors.append(RowError(line, "currency", unknown))
        if currency is not None and row.currency is None:
            errors += amount_errors(row, currency, line)
        if row.issue_date is None and row.due_date < self.today:
            errors.append(RowError(line, "due_date", DUE_BEFORE_ISSUE))
        if row.paid_on is not None and row.paid_on > self.today:
            errors.append(RowError(line, "paid_on", PAID_IN_FUTURE))
        return errors

    def _compare(self, line: int, row: CsvRow, currency: str | None, stored: InvoiceFacts) -> bool:
        """Count the row unchanged (True) or refuse it for differing from what is stored."""
        currency = currency or stored.currency
        problems = amount_errors(row, currency, line)
        if problems:
            self._refuse(problems)
            return False
        # A paid amount on a row that is not paid is zero (parse_row refuses any other).
        paid = row.amount_paid if row.status == "paid" else None
        mine = InvoiceFacts(
            client_email=row.client_email,
            amount_minor=parse_amount(row.amount, currency),
            currency=currency,
            issue_date=row.issue_date,
            due_date=row.due_date,
            status=row.status,
            paid_on=row.paid_on,
            payment_url=str(row.payment_url) if row.payment_url else None,
            notes=row.notes,
            amount_paid_minor=parse_amount(paid, currency) if paid is not None else None,
        )
        changed = differences(mine, stored)
        if not changed:
            self.unchanged += 1
            return True
        message = (
            f'invoice number "{row.number}" already exists with different details '
            f"({', '.join(changed)})"
        )
        self._refuse([RowError(line, "number", message)])
        return False

    def _add_client(self, row: CsvRow, currency: str) -> _KnownClient:
        """The row's client, created now when the import is writing. Later rows with the
        same email find it in ``clients`` and share it."""
        client_id = None
        if self.writing:
            data = ClientCreate(
                name=row.client_name or "",
                email=row.client_email,
                time_zone=self.user.time_zone,
                default_currency=currency,
            )
            client_id = client_service.create_client(
                self.session, self.user, data=data, now=self.now
            ).id
            self.clients_created += 1
        known = _KnownClient(id=client_id, default_currency=currency)
        self.clients[row.client_email] = known
        return known

    def _write(self, pending: list[tuple[dict[str, Any], CsvRow]]) -> None:
        """Insert a batch of new invoices with their "created" activity (as
        ``invoice_service.create_invoice`` records it), then pay or void the ones whose rows
        ask for it, through the service. The inserts are bulk inserts of plain rows: an ORM
        object per row would cost several times the time and memory."""
        if not pending:
            return
        session = self.session
        session.execute(insert(Invoice), [values for values, _ in pending])
        ids = self._ids_of([row.number for _, row in pending])
        session.execute(
            insert(InvoiceActivity),
            [
                {
                    "user_id": self.user.id,
                    "invoice_id": ids[row.number],
                    "kind": "created",
                    "detail": f"{values['status']}, due {values['due_date']}",
                    "created_at": self.now,
                }
                for values, row in pending
            ],
        )
        for _, row in pending:
            if row.status == "paid":
                paid = MarkPaid(paid_at=row.paid_on, amount_paid=row.amount_paid)
                invoice_service.mark_paid(
                    session, self.user, ids[row.number], data=paid, now=self.now
                )
            elif row.status == "void":
                invoice_service.void_invoice(session, self.user, ids[row.number], now=self.now)
        session.flush()

    def _refuse(self, errors: list[RowError]) -> None:
        self.bad_rows += 1
        room = MAX_LISTED_ERRORS - len(self.errors)
        self.errors.extend(errors[: max(room, 0)])
        self.errors_left_out += max(len(errors) - max(room, 0), 0)

    def _stored(self, numbers: set[str]) -> dict[str, InvoiceFacts]:
        """The account's invoices with these numbers, as comparable facts."""
        if not numbers:
            return {}
        rows = self.session.execute(
            stored_facts_query(self.user.id).where(Invoice.number.in_(_literal(numbers)))
        )
        return {row.number: stored_facts(row, self.user.time_zone) for row in rows}

    def _ids_of(self, numbers: list[str]) -> dict[str, int]:
        query = select(Invoice.number, Invoice.id).where(
            Invoice.user_id == self.user.id, Invoice.number.in_(_literal(numbers))
        )
        return {number: invoice_id for number, invoice_id in self.session.execute(query)}

    def _load_clients(self, emails: set[str]) -> None:
        """Look up, once each, the emails not met before. When several clients share an
        email, the oldest is the one rows are matched to."""
        missing = emails - self.clients.keys()
        if not missing:
            return
        self.clients.update(dict.fromkeys(missing))
        query = (
            select(Client.id, func.lower(Client.email), Client.default_currency)
            .where(Client.user_id == self.user.id, func.lower(Client.email).in_(_literal(missing)))
            .order_by(Client.id.desc())
        )
        for client_id, email, currency in self.session.execute(query):
            self.clients[email] = _KnownClient(id=client_id, default_currency=currency)

    def failure_message(self) -> str:
        listed = (
            f" The first {len(self.errors)} problems are listed." if self.errors_left_out else ""
        )
        rows = "row is" if self.bad_rows == 1 else "rows are"
        return f"{self.bad_rows} {rows} invalid; nothing was imported.{listed}"

    def report(self) -> ImportRead:
        return ImportRead(
            created=self.created,
            unchanged=self.unchanged,
            clients_created=self.clients_created,
            skipped=self.bad_rows,
            errors=[RowErrorRead(**error.as_dict()) for error in self.errors],
        )


def _literal(values: Iterable[str]) -> BindParameter[Any]:
    """An ``IN`` list written into the statement as quoted literals rather than as one
    bound parameter per value. With hundreds of parameters, psycopg re-parses the statement
    on every batch, and PostgreSQL's generic plan for a prepared statement compares each
    value in turn against every invoice of the account: an import became quadratic."""
    return bindparam("values", list(values), expanding=True, literal_execute=True)
