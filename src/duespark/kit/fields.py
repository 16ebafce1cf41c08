"""Annotated field types shared by the API schemas, each validating one idea once."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field, StringConstraints

from duespark.kit.currencies import is_active_currency
from duespark.kit.time_zones import is_time_zone


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


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_time_zone)]
CurrencyCode = Annotated[
    str,
    StringConstraints(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$"),
    AfterValidator(_check_currency),
]
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(_lower)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Notes = Annotated[str, Field(max_length=10_000)]
Locale = Annotated[
    str, StringConstraints(max_length=35, pattern=r"^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$")
]
AmountText = Annotated[
    str,
    Field(
        max_length=24,
        pattern=r"^\d{1,15}(\.\d{1,4})?$",
        examples=["1250.00"],
        description="A decimal string with a dot, no sign and no separators.",
    ),
]


def refuse_null(value: object) -> object:
    """For PATCH bodies: a field may be left out, but not set to null, unless the column is
    nullable. Use as a ``mode="before"`` field validator (it does not run on defaults)."""
    if value is None:
        raise ValueError("must not be null (leave the field out to keep its value)")
    return value
