"""Request and response bodies of the /templates endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from duespark.reminders.policy import Tone
from duespark.reminders.rendering import MAX_SUBJECT_LENGTH

MAX_BODY_LENGTH = 10_000


def _no_nul(value: str) -> str:
    # PostgreSQL refuses NUL in text; refusing it here makes that a 422, not a 500.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SubjectSource = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SUBJECT_LENGTH,
        description="One line; may use the variables of GET /templates/variables.",
        examples=["Reminder: invoice {{ invoice_number }} is overdue"],
    ),
    AfterValidator(_no_nul),
]
BodySource = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_BODY_LENGTH,
        description="Plain text; a blank line starts a paragraph. {% if %} blocks allowed.",
        examples=["Hello {{ contact_name }},\n\nInvoice {{ invoice_number }} is due."],
    ),
    AfterValidator(_no_nul),
]


class TemplateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: SubjectSource
    body: BodySource


class TemplateDraft(BaseModel):
    """An unsaved draft to preview; a field left out is taken from the current template."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectSource | None = None
    body: BodySource | None = None


class TemplateRead(BaseModel):
    tone: Tone
    subject: str
    body: str
    is_default: bool = Field(description="True while the account uses DueSpark's wording.")


class TemplateList(BaseModel):
    items: list[TemplateRead]


class RenderedEmailRead(BaseModel):
    subject: str
    text: str
    html: str
