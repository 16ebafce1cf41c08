"""The ``Idempotency-Key`` request header, validated like any other input."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Any unique string (a UUID is a good choice). A retry with the same key and the "
            "same request gets the first answer again instead of creating a second resource; "
            "the same key with a different request is refused (422). Keys are kept 24 hours."
        ),
    ),
]
