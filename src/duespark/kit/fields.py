"""Annotated field types shared by the API schemas, each validating one idea once.

Two rules hold for every text and date type here, because the API reads request bodies in
pydantic's lax (Python) mode, which would otherwise coerce:

* text that reaches the database never contains NUL (PostgreSQL refuses it, which would be a
  500 instead of a 422), and one-line names contain no control characters at all;
* dates are ISO 8601 text (``"2026-10-31"``): a number is not taken as a Unix timestamp.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

from duespark.email.errors import InvalidEmail
from duespark.email.message import sendable_address
from duespark.kit.currencies import is_active_currency
from duespark.kit.money import AMOUNT_PATTERN, AMOUNT_SHAPE
from duespark.kit.time_zones import is_time_zone

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}[0-9:.,+\-Zz]*")


def _check_time_zone(value: str) -> str:
    if not is_time_zone(value):
        raise ValueError(f'"{value}" is not an IANA time zone name (like "Europe/Berlin")')
    return value


def _check_currency(value: str) -> str:
    if not is_active_currency(value):
        raise ValueError(f'"{value}" is not an ISO 4217 currency code in use (like "EUR")')
    return value


def _lower(value: str) -> str:
    return value.lower()


def _sendable(value: str) -> str:
    """Refuse what the mail layer would refuse later, by the sender's own rules: an
    address accepted here can never turn a reminder dead in the relay."""
    try:
        sendable_address(value, what="this address")
    except InvalidEmail as exc:
        raise ValueError(str(exc)) from None
    return value


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain line breaks, tabs or other control characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _amount_text(value: str) -> str:
    # The currency's precision is checked later, by parse_amount, once the currency is known.
    if not AMOUNT_PATTERN.fullmatch(value):
        raise ValueError(AMOUNT_SHAPE)
    return value


def _iso_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError('must be a date written YYYY-MM-DD, like "2026-10-31"')


def _date_or_timestamp(value: Any) -> date | datetime:
    """One validator rather than a union of two types, so that an error names the field
    itself instead of the union member that refused it."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError('a timestamp needs an offset, like "2026-10-31T14:30:00Z"')
        return value
    if isinstance(value, date):
        return value
    raise ValueError(
        'must be a date ("2026-10-31") or a timestamp with an offset ("2026-10-31T14:30:00Z")'
    )


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_time_zone)]
CurrencyCode = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$"),
    AfterValidator(_check_currency),
]
Email = Annotated[
    EmailStr,
    StringConstraints(max_length=254),
    AfterValidator(_lower),
    AfterValidator(_sendable),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_single_line),
]
OptionalName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(_single_line)
]
# Notes keep line breaks and tabs (and the vertical tab word processors paste): only NUL goes.
Notes = Annotated[str, Field(max_length=10_000), AfterValidator(_no_nul)]
Locale = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$")
]
AmountText = Annotated[
    str,
    Field(
        max_length=24,
        examples=["1250.00"],
        description="A decimal string with a dot, no sign and no separators.",
        json_schema_extra={"pattern": f"^{AMOUNT_PATTERN.pattern}$"},
    ),
    AfterValidator(_amount_text),
]
IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
DateOrTimestamp = Annotated[
    date | datetime,
    PlainValidator(_date_or_timestamp),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]}
    ),
]


def refuse_null(value: object) -> object:
    """For PATCH bodies: a field may be left out, but not set to null, unless the column is
    nullable. Use as a ``mode="before"`` field validator (it does not run on defaults)."""
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value
