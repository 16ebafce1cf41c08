"""Request and response bodies of the reminder endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from duespark.reminders.policy import PolicySource, ReminderPolicy, Tone


class PolicyRead(BaseModel):
    """The policy in force, and where it comes from (client, account or the default)."""

    policy: ReminderPolicy
    source: PolicySource


class AccountReminderSettings(PolicyRead):
    paused: bool
    paused_until: date | None


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: date | None = Field(
        None, description="Resume automatically after this date; leave out to pause until resumed."
    )


class PauseState(BaseModel):
    paused: bool
    paused_until: date | None


class ReminderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int
    offset_days: int
    tone: Tone
    state: Literal["scheduled", "sent", "skipped", "cancelled", "failed"]
    reason: str
    scheduled_for: datetime
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TimelineEntry(BaseModel):
    """One step of an invoice's policy: recorded in the ledger (with an id) or still ahead."""

    reminder_id: int | None
    offset_days: int
    tone: Tone
    state: Literal["sent", "scheduled", "skipped", "cancelled", "failed", "upcoming"]
    at: datetime = Field(description="When it was sent, or when it is (or was) scheduled.")
    reason: str


class Timeline(BaseModel):
    invoice_id: int
    policy_source: PolicySource
    waiting: str | None = Field(description="Why nothing is being sent now, when that is so.")
    entries: list[TimelineEntry]


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    detail: str
    created_at: datetime


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_days: int | None = Field(
        None, ge=-365, le=365, description="A step of the invoice's policy; its tone is used."
    )
    tone: Tone | None = Field(None, description="Preview this tone instead of a step's.")


class EmailPreview(BaseModel):
    to: str
    subject: str
    text: str
    html: str


class SendStepNow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset_days: int = Field(ge=-365, le=365, description="A step of the invoice's policy.")
