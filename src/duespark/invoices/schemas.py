"""Request and response bodies of the /invoices endpoints."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    Strict,
    StringConstraints,
    field_validator,
)

from duespark.invoices.status import InvoiceStatus, days_overdue
from duespark.kit.fields import (
    AmountText,
    CurrencyCode,
    DateOrTimestamp,
    IsoDate,
    Notes,
    refuse_null,
)
from duespark.kit.money import format_amount
from duespark.kit.pagination import MAX_ID
from duespark.models import Invoice

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)


def _sane_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


def _sane_moment(value: datetime | date) -> datetime | date:
    """Bound a timestamp by its own calendar date: near year 1 or 9999, converting it to UTC
    overflows, which would be a 500 when it is stored."""
    _sane_date(value.date() if isinstance(value, datetime) else value)
    return value


InvoiceDate = Annotated[IsoDate, AfterValidator(_sane_date)]
InvoiceNumber = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
# Strict: lax mode would take ``true`` as client 1 and ``"5"`` or ``5.0`` as client 5.
ClientId = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]
PaymentUrl = Annotated[HttpUrl, Field(max_length=2000)]


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: ClientId
    number: InvoiceNumber
    amount: AmountText
    currency: CurrencyCode | None = Field(
        None, description="ISO 4217 code; defaults to the client's default currency."
    )
    issue_date: InvoiceDate | None = Field(
        None, description="Defaults to today in the account's time zone."
    )
    due_date: InvoiceDate
    status: Literal["draft", "open"] = "open"
    payment_url: PaymentUrl | None = None
    notes: Notes = ""


class InvoiceUpdate(BaseModel):
    """A partial update. ``status`` here only moves between draft and open; paying, voiding
    and reopening are actions with their own endpoints."""

    model_config = ConfigDict(extra="forbid")

    client_id: ClientId | None = None
    number: InvoiceNumber | None = None
    amount: AmountText | None = None
    currency: CurrencyCode | None = None
    issue_date: InvoiceDate | None = None
    due_date: InvoiceDate | None = None
    status: Literal["draft", "open"] | None = None
    payment_url: PaymentUrl | None = None
    notes: Notes | None = None

    _no_nulls = field_validator(
        "client_id",
        "number",
        "amount",
        "currency",
        "issue_date",
        "due_date",
        "status",
        "notes",
        mode="before",
    )(refuse_null)


class MarkPaid(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_at: Annotated[DateOrTimestamp, AfterValidator(_sane_moment)] | None = Field(
        None,
        description=(
            "When the money arrived: a timestamp with offset, or a date (the start of that day "
            "in the account's time zone); defaults to now."
        ),
    )
    amount_paid: AmountText | None = Field(None, description="Defaults to the invoice amount.")


class InvoiceRead(BaseModel):
    """An invoice as the API shows it: amounts as decimal strings, overdue derived from
    ``today`` in the account's time zone."""

    id: int
    client_id: int
    number: str
    amount: str
    currency: str
    issue_date: date
    due_date: date
    status: InvoiceStatus
    is_overdue: bool
    days_overdue: int
    paid_at: datetime | None
    amount_paid: str | None
    payment_url: str | None
    notes: str
    reminders_paused: bool
    reminders_paused_until: date | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_invoice(cls, invoice: Invoice, *, today: date) -> InvoiceRead:
        status = InvoiceStatus(invoice.status)
        overdue_days = days_overdue(status=status, due_date=invoice.due_date, today=today)
        return cls(
            id=invoice.id,
            client_id=invoice.client_id,
            number=invoice.number,
            amount=format_amount(invoice.amount_minor, invoice.currency),
            currency=invoice.currency,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            status=invoice.status,
            is_overdue=overdue_days > 0,
            days_overdue=overdue_days,
            paid_at=invoice.paid_at,
            amount_paid=(
                format_amount(invoice.amount_paid_minor, invoice.currency)
                if invoice.amount_paid_minor is not None
                else None
            ),
            payment_url=invoice.payment_url,
            notes=invoice.notes,
            reminders_paused=invoice.reminders_paused,
            reminders_paused_until=invoice.reminders_paused_until,
            created_at=invoice.created_at,
            updated_at=invoice.updated_at,
        )


class InvoiceSort(StrEnum):
    due_date = "due_date"
    due_date_desc = "-due_date"
    issue_date = "issue_date"
    issue_date_desc = "-issue_date"
    number = "number"
    number_desc = "-number"
    created_at = "created_at"
    created_at_desc = "-created_at"
