"""Invoice use cases: create, edit, list, and the state changes (open, pay, void, reopen).

Every lookup is scoped to the account; services flush, never commit. A rule that needs no
database lives in ``invoices/status.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duespark.clients import service as client_service
from duespark.clock import local_today
from duespark.errors import Conflict, InvalidInput, NotFound
from duespark.invoices import repository as invoice_repository
from duespark.invoices.repository import InvoiceFilters
from duespark.invoices.schemas import InvoiceCreate, InvoiceSort, InvoiceUpdate, MarkPaid
from duespark.invoices.status import Action, InvoiceStatus, TransitionRefused, next_status
from duespark.kit.money import AmountError, format_amount, parse_amount
from duespark.kit.pagination import PageParams
from duespark.models import Client, Invoice, User
from duespark.reminders import repository as reminder_repository

FUTURE_PAYMENT_LEEWAY = timedelta(minutes=5)
EDITABLE_WHEN_CLOSED = frozenset({"notes", "payment_url"})


def get_invoice(session: Session, user: User, invoice_id: int) -> Invoice:
    """The account's invoice, or NotFound: another account's invoice does not exist here."""
    invoice = invoice_repository.get(session, user_id=user.id, invoice_id=invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found.")
    return invoice


def list_invoices(
    session: Session,
    user: User,
    *,
    filters: InvoiceFilters,
    sort: InvoiceSort,
    page: PageParams,
    now: datetime,
) -> tuple[list[Invoice], int]:
    return invoice_repository.list_page(
        session,
        user_id=user.id,
        filters=filters,
        today=local_today(now, user.time_zone),
        sort=sort,
        page=page,
    )


def create_invoice(session: Session, user: User, *, data: InvoiceCreate, now: datetime) -> Invoice:
    # Every 422 before any 409: bad input is reported as such even when the number is taken.
    client = _client_for(session, user, data.client_id)
    currency = data.currency or client.default_currency
    amount_minor = _parse(data.amount, currency, field="amount")
    issue_date = data.issue_date or local_today(now, user.time_zone)
    _check_dates(issue_date, data.due_date)
    _check_number_free(session, user, data.number)
    invoice = Invoice(
        user_id=user.id,
        client_id=client.id,
        number=data.number,
        amount_minor=amount_minor,
        currency=currency,
        issue_date=issue_date,
        due_date=data.due_date,
        status=data.status,
        payment_url=str(data.payment_url) if data.payment_url else None,
        notes=data.notes,
        created_at=now,
        updated_at=now,
    )
    _flush_new(session, invoice)
    _record(session, invoice, "created", f"{invoice.status}, due {invoice.due_date}", now)
    return invoice


def update_invoice(
    session: Session, user: User, invoice_id: int, *, data: InvoiceUpdate, now: datetime
) -> Invoice:
    invoice = get_invoice(session, user, invoice_id)
    changes = data.model_dump(exclude_unset=True)
    if invoice.status in {"paid", "void"} and set(changes) - EDITABLE_WHEN_CLOSED:
        raise Conflict(
            f"A {invoice.status} invoice can only have its notes and payment link changed; "
            "reopen it first."
        )
    # Every 422 before any 409, and nothing assigned until all checks passed.
    client_id = (
        _client_for(session, user, changes["client_id"]).id
        if "client_id" in changes
        else invoice.client_id
    )
    currency, amount_minor = invoice.currency, invoice.amount_minor
    if "amount" in changes or "currency" in changes:
        # A new currency alone re-reads the amount in it: 1250.00 USD cannot become JPY.
        currency = changes.get("currency") or invoice.currency
        amount = changes.get("amount") or format_amount(invoice.amount_minor, invoice.currency)
        amount_minor = _parse(amount, currency, field="amount")
    issue_date = changes.get("issue_date", invoice.issue_date)
    due_date = changes.get("due_date", invoice.due_date)
    _check_dates(issue_date, due_date)
    if "number" in changes and changes["number"] != invoice.number:
        _check_number_free(session, user, changes["number"], except_id=invoice.id)
        invoice.number = changes["number"]
    invoice.client_id = client_id
    invoice.amount_minor, invoice.currency = amount_minor, currency
    invoice.issue_date, invoice.due_date = issue_date, due_date
    if "status" in changes and changes["status"] != invoice.status:
        _apply(invoice, Action(changes["status"]))
        reason = "invoice returned to draft" if invoice.status == "draft" else None
        _record(session, invoice, invoice.status, "", now, cancel_reason=reason)
    if "payment_url" in changes:
        url = changes["payment_url"]
        invoice.payment_url = str(data.payment_url) if url is not None else None
    if "notes" in changes:
        invoice.notes = changes["notes"]
    invoice.updated_at = now
    _flush_existing(session)
    return invoice


def mark_paid(
    session: Session, user: User, invoice_id: int, *, data: MarkPaid, now: datetime
) -> Invoice:
    invoice = get_invoice(session, user, invoice_id)
    paid_at = _paid_at(data.paid_at, user, now)
    amount_paid = (
        _parse(data.amount_paid, invoice.currency, field="amount_paid")
        if data.amount_paid is not None
        else invoice.amount_minor
    )
    if amount_paid == 0:
        raise InvalidInput("amount_paid must be more than zero.", field="amount_paid")
    _apply(invoice, Action.mark_paid)
    invoice.paid_at = paid_at
    invoice.paid_on = local_today(paid_at, user.time_zone)
    invoice.amount_paid_minor = amount_paid
    invoice.updated_at = now
    paid = format_amount(amount_paid, invoice.currency)
    detail = f"{paid} {invoice.currency} on {local_today(paid_at, user.time_zone)}"
    _record(session, invoice, "paid", detail, now, cancel_reason="invoice was paid")
    return invoice


def void_invoice(session: Session, user: User, invoice_id: int, *, now: datetime) -> Invoice:
    invoice = get_invoice(session, user, invoice_id)
    _apply(invoice, Action.void)
    invoice.updated_at = now
    _record(session, invoice, "voided", "", now, cancel_reason="invoice was voided")
    return invoice


def reopen_invoice(session: Session, user: User, invoice_id: int, *, now: datetime) -> Invoice:
    """Back to open: the payment (if any) is forgotten, and reminders may resume."""
    invoice = get_invoice(session, user, invoice_id)
    _apply(invoice, Action.reopen)
    invoice.paid_at = None
    invoice.paid_on = None
    invoice.amount_paid_minor = None
    invoice.updated_at = now
    _record(session, invoice, "reopened", "", now)
    return invoice


def delete_invoice(session: Session, user: User, invoice_id: int, *, now: datetime) -> None:
    """Only drafts and void invoices can be deleted: an open or paid invoice is history."""
    invoice = get_invoice(session, user, invoice_id)
    if invoice.status not in {"draft", "void"}:
        raise Conflict(f"A {invoice.status} invoice cannot be deleted; void it instead.")
    # Withdraw any email still waiting, so it cannot go out once the ledger row is gone.
    reminder_repository.cancel_scheduled(
        session, invoice_id=invoice.id, reason="invoice was deleted", now=now
    )
    invoice_repository.delete(session, invoice)


def _paid_at(value: datetime | date | None, user: User, now: datetime) -> datetime:
    """The payment instant: ``now``, the given timestamp, or for a bare date the start of that
    day in the account's time zone (never in the future for today's date)."""
    future = InvalidInput("A payment cannot be dated in the future.", field="paid_at")
    if value is None:
        return now
    if isinstance(value, datetime):
        if value > now + FUTURE_PAYMENT_LEEWAY:
            raise future
        return value
    if value > local_today(now, user.time_zone):
        raise future
    return datetime.combine(value, time(), tzinfo=ZoneInfo(user.time_zone)).astimezone(UTC)


def _record(
    session: Session,
    invoice: Invoice,
    kind: str,
    detail: str,
    now: datetime,
    *,
    cancel_reason: str | None = None,
) -> None:
    """Log the change on the invoice's activity, and when it ends chasing (paid, void,
    back to draft) withdraw every reminder not yet sent, in the same transaction."""
    if cancel_reason is not None:
        reminder_repository.cancel_scheduled(
            session, invoice_id=invoice.id, reason=cancel_reason, now=now
        )
    reminder_repository.add_activity(
        session, user_id=invoice.user_id, invoice_id=invoice.id, kind=kind, detail=detail, now=now
    )
    session.flush()


def _apply(invoice: Invoice, action: Action) -> None:
    try:
        invoice.status = next_status(InvoiceStatus(invoice.status), action).value
    except TransitionRefused as exc:
        raise Conflict(str(exc), field="status") from None


def _client_for(session: Session, user: User, client_id: int) -> Client:
    try:
        return client_service.get_client(session, user, client_id)
    except NotFound:
        raise InvalidInput("No such client in this account.", field="client_id") from None


def _parse(amount: str, currency: str, *, field: str) -> int:
    try:
        return parse_amount(amount, currency)
    except AmountError as exc:
        raise InvalidInput(f"{field} {exc}.", field=field) from None


def _check_dates(issue_date: date, due_date: date) -> None:
    if due_date < issue_date:
        raise InvalidInput("The due date cannot be before the issue date.", field="due_date")


def _check_number_free(
    session: Session, user: User, number: str, *, except_id: int | None = None
) -> None:
    if invoice_repository.number_taken(
        session, user_id=user.id, number=number, except_id=except_id
    ):
        raise Conflict(f'Invoice number "{number}" is already used.', field="number")


def _flush_new(session: Session, invoice: Invoice) -> None:
    try:
        invoice_repository.add(session, invoice)
    except IntegrityError:
        raise Conflict(
            f'Invoice number "{invoice.number}" is already used.', field="number"
        ) from None


def _flush_existing(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("The invoice number is already used.", field="number") from None
