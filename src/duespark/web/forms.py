"""Submitted forms, validated by the same Pydantic schemas as the API, errors per field.

A view reads the fields it expects into a :class:`FormState` (the text exactly as typed,
so a failed form shows it again), turns it into a payload, and validates the payload with
the API's schema (``ClientCreate``, ``InvoiceUpdate``, ``MarkPaid``, ...): the rules and
the messages are the API's. Each problem lands on its field; the template shows it next to
the field and in a summary at the top.

A blank field means "not given" by default, so a required field left blank is "required"
and an optional one takes its default. Update forms say which blank fields clear a value
(``nullable``: ``None``; ``keep_blank``: ``""``) and which may not be blank (``required``):
a blank name must be an error, never "keep the old name".

Service errors that name a field (a taken invoice number, a due date before the issue
date) are shown on that field too, with the service's own status (422, 409). Call the
service inside :func:`savepoint`, so that its writes are undone when it refuses and the
request's transaction can still commit what it should (nothing, usually).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict

from duespark.errors import DueSparkError

Model = TypeVar("Model", bound=BaseModel)
Result = TypeVar("Result")
REQUIRED = "Required."


@dataclass
class FormState:
    """What the user typed, and what is wrong with it."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None  # a problem with the form as a whole
    status_code: int = 422  # the answer's status when the form is shown again

    @classmethod
    def read(cls, form: ImmutableMultiDict[str, Any], names: Iterable[str]) -> FormState:
        """The submitted text of each field (a posted form or a query string); a missing
        field, or a file, reads as blank."""
        values = {}
        for name in names:
            value = form.get(name)
            values[name] = value if isinstance(value, str) else ""
        return cls(values=values)

    @property
    def failed(self) -> bool:
        return bool(self.errors or self.message)

    def add_error(self, name: str, message: str) -> None:
        """Record a problem on a field; the first one found for a field is the one shown."""
        if name in self.values:
            self.errors.setdefault(name, message)
        elif self.message is None:
            self.message = message

    def refuse(self, error: DueSparkError) -> None:
        """Show a service's refusal on the field it names, else above the form, and
        answer with its status (409 for a taken invoice number, say)."""
        self.status_code = error.status_code
        if error.field:
            self.add_error(error.field, error.message)
        else:
            self.message = error.message

    def summary(self) -> list[tuple[str, str]]:
        """Every field error, in the order the fields appear."""
        return [(name, self.errors[name]) for name in self.values if name in self.errors]

    def payload(
        self,
        *,
        required: Iterable[str] = (),
        nullable: Iterable[str] = (),
        keep_blank: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The values for a schema: blank fields left out, unless ``nullable`` (None) or
        ``keep_blank`` (""); a blank ``required`` field is an error right away."""
        required, nullable, keep_blank = set(required), set(nullable), set(keep_blank)
        data: dict[str, Any] = {}
        for name, value in self.values.items():
            if value.strip():
                data[name] = value
            elif name in required:
                self.add_error(name, REQUIRED)
            elif name in nullable:
                data[name] = None
            elif name in keep_blank:
                data[name] = value
        return data


def validate(schema: type[Model], data: dict[str, Any], state: FormState) -> Model | None:
    """The schema's model of ``data``, or None with every problem recorded on ``state``
    (also when ``state`` already held errors: all of them are shown at once)."""
    try:
        model = schema.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            location = error.get("loc") or ()
            name = str(location[0]) if location else ""
            state.add_error(name, error_message(error))
        return None
    return None if state.failed else model


def error_message(error: Any) -> str:
    """A Pydantic error as a sentence, with the API's wording for missing fields."""
    kind = error.get("type")
    if kind == "missing":
        return REQUIRED
    if kind == "extra_forbidden":
        return "Unknown field."
    message = str(error.get("msg", "Invalid.")).removeprefix("Value error, ")
    message = message[:1].upper() + message[1:]
    return message if message.endswith(".") else message + "."


def as_id(text: str) -> int | str:
    """A select's value as the integer id the schemas expect (they take no text for an
    id), or the text itself, which the schema then refuses with its own message."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else text


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """Run a service call so that, when it raises, whatever it wrote is undone and the
    request's transaction stays usable (to render the refusal and to commit nothing)."""
    with session.begin_nested():
        yield


def attempt(session: Session, form: FormState, action: Callable[[], Result]) -> Result | None:
    """Run a form's service call in a :func:`savepoint`: its answer, or None when the
    service refused (the refusal is then on ``form`` and nothing it wrote is kept)."""
    try:
        with savepoint(session):
            return action()
    except DueSparkError as error:
        form.refuse(error)
        return None
