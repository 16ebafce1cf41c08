"""Generated requests against every documented operation: no 500s, no answer off its schema.

Schemathesis reads the application's own ``/openapi.json`` and generates requests for each
operation, valid and invalid alike, sent as a signed-in account that owns a client, an
invoice and a reminder (so some generated ids exist). Every answer must be a non-5xx status
the document declares, with a body that matches the declared schema.

The run is seeded (``derandomize``) so CI repeats the same cases, and bounded: a fixed number of
examples per operation, with a floor on the total so a schema that shrinks cannot quietly make
the test weaker. Operations that end the session (logout, password change, key listing that
needs an operator token) are sent but with the same account each time, so later cases still
run signed in: the access token is re-issued whenever an answer says it no longer works.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import BaseModel
from schemathesis import checks
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi.checks import JsonSchemaError

from duespark.config import Settings
from duespark.db import Database
from tests.api.test_reminders import overdue_invoice, worker_pass
from tests.factories import PASSWORD, auth_headers, create_client, login

EXAMPLES_PER_OPERATION = 25
MINIMUM_CASES = 1_000
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
# Operations that would end the run's own session or account; they are fuzzed with their
# own fresh account in test_session_ending_operations_survive_generated_requests.
SESSION_ENDING = {
    ("POST", "/auth/logout"),
    ("POST", "/auth/change-password"),
}


class Account:
    """A signed-in account whose token is renewed when a generated request ends its session."""

    def __init__(self, api: TestClient, email: str) -> None:
        self.api = api
        self.email = email
        self.headers = auth_headers(api, email=email)

    def renew(self) -> None:
        self.headers = {"Authorization": f"Bearer {login(self.api, self.email)['access_token']}"}


def _operations(api: TestClient) -> list[Any]:
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(api: TestClient, account: Account, operation: Any) -> int:
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        nonlocal sent
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=account.headers)
        kwargs.pop("timeout", None)
        kwargs.pop("allow_redirects", None)
        method = kwargs.pop("method")
        url = kwargs.pop("url")
        response = account.api.request(method, url, **_httpx_kwargs(kwargs))
        response.request.read()  # a streamed (multipart) body must be readable for the checks
        sent += 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code == 401 and operation.path != "/auth/login":
            account.renew()

    run()
    return sent


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Requests-style keyword arguments as the test client takes them."""
    converted: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name == "data" and isinstance(value, (bytes, str)):
            converted["content"] = value
        elif name == "data" and isinstance(value, dict):
            # Form fields travel as text; a generated integer or boolean is sent as its text.
            converted["data"] = {key: _text(item) for key, item in value.items()}
        elif name == "files" and value:
            converted["files"] = [(key, _file(item)) for key, item in _pairs(value)]
        elif name == "cookies":
            if value:
                converted["headers"] = {
                    **converted.get("headers", {}),
                    "Cookie": "; ".join(f"{key}={item}" for key, item in value.items()),
                }
        else:
            converted[name] = value
    return converted


def _text(value: Any) -> Any:
    if isinstance(value, list):
        return [_text(item) for item in value]
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, (str, bytes)) else str(value)


def _pairs(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def _file(value: Any) -> Any:
    """A generated file part: (name, content[, type]) with text or bytes content."""
    if isinstance(value, tuple):
        return tuple(_text(part) if index == 1 else part for index, part in enumerate(value))
    return _text(value)


@pytest.fixture
def owner(api: TestClient, database: Database, settings: Settings) -> Account:
    account = Account(api, "fuzz@example.com")
    client = create_client(api, account.headers)
    overdue_invoice(api, account.headers, client["id"])
    worker_pass(database, settings)
    return account


def test_every_operation_survives_generated_requests(api: TestClient, owner: Account) -> None:
    operations = [
        operation
        for operation in _operations(api)
        if (operation.method.upper(), operation.path) not in SESSION_ENDING
    ]
    sent = sum(_fuzz(api, owner, operation) for operation in operations)
    assert sent >= MINIMUM_CASES, (
        f"only {sent} generated requests over {len(operations)} operations"
    )


def test_session_ending_operations_survive_generated_requests(api: TestClient) -> None:
    operations = [
        operation
        for operation in _operations(api)
        if (operation.method.upper(), operation.path) in SESSION_ENDING
    ]
    assert {(op.method.upper(), op.path) for op in operations} == SESSION_ENDING
    for operation in operations:
        account = Account(api, f"ending-{operation.path.rsplit('/', 1)[-1]}@example.com")
        assert _fuzz(api, account, operation) > 0
    assert login(api, "ending-logout@example.com", PASSWORD)


def test_the_harness_fails_on_an_operation_that_breaks_its_schema() -> None:
    """A canary: the same harness over a tiny app whose answer is off its documented schema."""
    broken = FastAPI()

    @broken.get("/things/{thing_id}", responses={200: {"model": Thing}})
    def read_thing(thing_id: int) -> JSONResponse:
        return JSONResponse({"id": str(thing_id)})  # documented as an integer

    with TestClient(broken, raise_server_exceptions=False) as client:
        account = Account.__new__(Account)
        account.api, account.headers = client, {}
        with pytest.raises(FailureGroup) as caught:
            _fuzz(client, account, _operations(client)[0])
    assert any(isinstance(failure, JsonSchemaError) for failure in caught.value.exceptions)


class Thing(BaseModel):
    id: int
