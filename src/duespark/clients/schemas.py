"""Request and response bodies of the /clients endpoints."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from duespark.kit.fields import (
    CurrencyCode,
    Email,
    IsoDate,
    Locale,
    Name,
    Notes,
    OptionalName,
    TimeZoneName,
    refuse_null,
)


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    contact_name: OptionalName | None = None
    time_zone: TimeZoneName
    locale: Locale = "en"
    default_currency: CurrencyCode
    notes: Notes = ""
    reminders_paused_until: IsoDate | None = None


class ClientUpdate(BaseModel):
    """A partial update: fields left out keep their values; nullable ones may be cleared."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    email: Email | None = None
    contact_name: OptionalName | None = None
    time_zone: TimeZoneName | None = None
    locale: Locale | None = None
    default_currency: CurrencyCode | None = None
    notes: Notes | None = None
    reminders_paused_until: IsoDate | None = None

    _no_nulls = field_validator(
        "name", "email", "time_zone", "locale", "default_currency", "notes", mode="before"
    )(refuse_null)


class ClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str
    contact_name: str | None
    time_zone: str
    locale: str
    default_currency: str
    notes: str
    reminders_paused_until: date | None
    reminders_paused: bool = Field(
        description="Paused until resumed (POST /clients/{id}/pause without a date)."
    )
    created_at: datetime
    updated_at: datetime


class ClientSort(StrEnum):
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"
