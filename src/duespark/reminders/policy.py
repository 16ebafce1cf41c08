"""Reminder policies: which steps (days from the due date, with a tone) and when to send.

A policy is plain data, validated here once; planning (``schedule.py``) trusts it. An
account has one policy (the default below until it sets its own) and a client may override
it.
"""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)


class Tone(StrEnum):
    friendly = "friendly"
    neutral = "neutral"
    firm = "firm"
    final = "final"


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"

    @property
    def index(self) -> int:
        """Monday is 0, as in ``date.weekday()``."""
        return list(Weekday).index(self)


MAX_STEPS = 20
MAX_OFFSET_DAYS = 365


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offset_days: Annotated[
        int,
        Field(
            ge=-MAX_OFFSET_DAYS,
            le=MAX_OFFSET_DAYS,
            description="Days from the due date; negative is before it.",
        ),
    ]
    tone: Tone


class SendWindow(BaseModel):
    """Local business hours in the client's time zone: reminders go out only inside them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description='Local time the window opens, "HH:MM".')
    end: time = Field(description='Local time the window closes, "HH:MM".')
    days: list[Weekday] = Field(min_length=1, max_length=7)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hours_and_minutes(cls, value: object) -> object:
        if isinstance(value, str) and not _is_hh_mm(value):
            raise ValueError('must be a time of day as "HH:MM", like "09:00"')
        return value

    @field_serializer("start", "end")
    def _as_hh_mm(self, value: time) -> str:
        """Written as it is read, "HH:MM": a policy saved (or fetched by a client) must
        validate again, and the default ISO form "09:00:00" would not."""
        return value.strftime("%H:%M")

    @field_validator("days")
    @classmethod
    def _distinct_days(cls, value: list[Weekday]) -> list[Weekday]:
        if len(set(value)) != len(value):
            raise ValueError("each day may appear once")
        return sorted(value, key=lambda day: day.index)

    @model_validator(mode="after")
    def _end_after_start(self) -> SendWindow:
        if self.end <= self.start:
            raise ValueError("the window's end must be after its start")
        return self

    @property
    def weekday_indexes(self) -> frozenset[int]:
        return frozenset(day.index for day in self.days)


def _is_hh_mm(value: str) -> bool:
    hours, _, minutes = value.partition(":")
    return (
        len(hours) == 2
        and len(minutes) == 2
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    )


class ReminderPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step] = Field(max_length=MAX_STEPS)
    send_window: SendWindow

    @field_validator("steps")
    @classmethod
    def _distinct_offsets(cls, value: list[Step]) -> list[Step]:
        offsets = [step.offset_days for step in value]
        duplicates = sorted({offset for offset in offsets if offsets.count(offset) > 1})
        if duplicates:
            raise ValueError(f"each offset may appear once; repeated: {duplicates}")
        return sorted(value, key=lambda step: step.offset_days)


DEFAULT_POLICY = ReminderPolicy(
    steps=[
        Step(offset_days=-3, tone=Tone.friendly),
        Step(offset_days=0, tone=Tone.friendly),
        Step(offset_days=3, tone=Tone.neutral),
        Step(offset_days=7, tone=Tone.neutral),
        Step(offset_days=14, tone=Tone.firm),
        Step(offset_days=30, tone=Tone.final),
    ],
    send_window=SendWindow(
        start=time(9, 0),
        end=time(17, 0),
        days=[Weekday.mon, Weekday.tue, Weekday.wed, Weekday.thu, Weekday.fri],
    ),
)


class PolicySource(StrEnum):
    client = "client"
    account = "account"
    default = "default"


def resolve_policy(
    account_policy: dict | None, client_policy: dict | None = None
) -> tuple[ReminderPolicy, PolicySource]:
    """The policy that applies: the client's override, else the account's, else the default.

    Stored policies were validated when saved; they are validated again on the way out so a
    hand-edited row can never reach planning malformed.
    """
    if client_policy is not None:
        return ReminderPolicy.model_validate(client_policy), PolicySource.client
    if account_policy is not None:
        return ReminderPolicy.model_validate(account_policy), PolicySource.account
    return DEFAULT_POLICY, PolicySource.default
