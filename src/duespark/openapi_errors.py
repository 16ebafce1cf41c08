"""The OpenAPI document's account of errors, made true.

Left to itself FastAPI documents a 422 as its own ``HTTPValidationError``
(``{"detail": [...]}``), gives the other declared errors no body, and leaves out the errors
every operation of a kind can answer. The API answers every error with the one shape of
``duespark.exception_handlers`` (``{"error": {"code", "message", "field"?, "errors"?}}``).
``install`` makes ``/openapi.json`` say so:

- the shape is the ``Error`` component, and every 4xx response of every operation has it;
- an operation that needs a bearer token also declares 401 (no, invalid or expired token);
- an operation that takes a JSON or multipart body also declares 400 (a body that cannot
  be parsed: ``malformed_json``, or ``bad_request`` for broken multipart data).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "Every error answer. See the Errors section of docs/api.md.",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "examples": ["invalid_input", "not_found"]},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "The input at fault, if one is."},
                "errors": {
                    "type": "array",
                    "description": "Every problem, when the input failed validation.",
                    "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            "message": {"type": "string"},
                            "line": {"type": "integer", "description": "A CSV import's line."},
                        },
                    },
                },
            },
        }
    },
}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
# Bodies that can fail to parse before validation: 400 malformed_json or bad_request.
_PARSED_BODIES = {"application/json", "multipart/form-data"}


def install(app: FastAPI) -> None:
    """Document the errors in ``app``'s OpenAPI document (built once, on first request)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault("401", {"description": "No, invalid or expired token"})
            if _PARSED_BODIES & set(operation.get("requestBody", {}).get("content", {})):
                responses.setdefault("400", {"description": "The body cannot be parsed"})
            for status_code, response in responses.items():
                if status_code.startswith("4"):
                    response["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    }
    schemas["Error"] = ERROR_SCHEMA
    text = json.dumps(document)
    for name in _FASTAPI_ERROR_SCHEMAS:  # FastAPI's own error shape, now unused
        if f'"#/components/schemas/{name}"' not in text:
            schemas.pop(name, None)
    return document
