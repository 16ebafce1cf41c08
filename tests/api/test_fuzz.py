"""Generated requests against every documented operation: no 500s, no answer off its schema.

Schemathesis reads the application's own ``/openapi.json`` and generates requests for each
operation in both of its modes, sent as a signed-in account that owns a client, an invoice
and a reminder (so some generated ids exist):

- *positive* cases fit the schema. Every answer must be a non-5xx status the document
  declares, with a body that matches the declared schema.
- *negative* cases break it in one or more places (a wrong type, a value out of range, a
  missing required field, an unknown enum value...). They must be refused with a 4xx
  (``negative_data_rejection``, which knows the mutations the wire makes valid again, such as
  ``"1"`` for an integer in a query string), never a 5xx, and a refusal must leave the
  stored data exactly as it was.

Every 4xx answer, whatever the mode, has the error shape of ``docs/api.md``
(``{"error": {"code", "message", "field"?, "errors"?}}``), which the document declares as its
``Error`` component (``duespark.openapi_errors``). The test also checks the shape against
the docs directly, so a wrong document cannot hide a wrong answer.

Cases are sent with the account's token: negative cases break the operation's own input, not
the credentials (``tests/api/test_errors.py`` covers missing and garbled tokens).

The run is seeded (``derandomize``) so CI repeats the same cases, and bounded: a fixed number of
examples per operation and mode, with floors on the totals so a schema that shrinks cannot
quietly make the test weaker. The test client has no timeout of its own (it calls the app
in-process), so each request runs on a helper thread and fails the test if it takes longer
than ``REQUEST_TIMEOUT_S``; the whole run fails once it passes ``RUN_BUDGET_S``; and
pytest-timeout ends the process, with every thread's stack, if even the fixtures'
teardown hangs behind a stuck request (the test client's shutdown waits for the app's
requests).

Operations that end the session (logout, password change) are fuzzed in their own test, each
with a fresh account; elsewhere the access token is re-issued whenever an answer says it no
longer works.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Annotated, Any, NoReturn, NotRequired

import pytest
import schemathesis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    with_config,
)
from schemathesis import GenerationMode, checks
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.openapi.checks import JsonSchemaError
from sqlalchemy import select
from typing_extensions import TypedDict

from duespark.config import Settings
from duespark.db import Database
from duespark.models import Base
from tests.api.test_reminders import overdue_invoice, worker_pass
from tests.factories import PASSWORD, auth_headers, create_client, login

POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
EXAMPLES_PER_OPERATION = {POSITIVE: 13, NEGATIVE: 13}
MINIMUM_CASES = {POSITIVE: 500, NEGATIVE: 500}
MINIMUM_TOTAL = 1_000
# Time bounds, far above the normal run so a slow CI machine does not fail them: each fuzz
# test sends its ~1,100 cases in 45-55 s on a two-core machine running another suite.
REQUEST_TIMEOUT_S = 15.0  # one request; the slowest (a CSV import) takes well under a second
RUN_BUDGET_S = 240.0  # one fuzz test, from the start of its fixtures
WATCHDOG_S = RUN_BUDGET_S + 120.0  # the process dies if the test or its fixtures still hang
pytestmark = pytest.mark.timeout(WATCHDOG_S, method="thread")
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, checks.negative_data_rejection]
# Generated with this token, which the account's current one replaces when sent, so that
# schemathesis neither drops nor garbles it in a negative case.
SIGNED_IN = {"Authorization": "Bearer replaced-when-sent"}
# Operations that would end the run's own session or account; they are fuzzed with their
# own fresh account in test_session_ending_operations_survive_generated_requests.
SESSION_ENDING = {
    ("POST", "/auth/logout"),
    ("POST", "/auth/change-password"),
}
# docs/api.md, "Errors": the one shape of every error answer.
Code = Annotated[str, StringConstraints(pattern=r"^[a-z_]+$")]
Text = Annotated[str, StringConstraints(min_length=1)]


@with_config(ConfigDict(extra="forbid", strict=True))
class ErrorDetail(TypedDict):
    code: Code
    message: Text
    field: NotRequired[str]
    errors: NotRequired[Annotated[list[dict[str, Any]], Field(min_length=1)]]


@with_config(ConfigDict(extra="forbid", strict=True))
class ErrorBody(TypedDict):
    error: ErrorDetail


ERROR_SHAPE = TypeAdapter(ErrorBody)
# A refused request changes nothing, except the record of a failed login (the throttle's).
WRITTEN_BY_REFUSALS = {"login_failure"}
STATUSES_THAT_MAY_WRITE = {401, 429}


class RunTimeout(AssertionError):
    """A request, or the whole run, took longer than its bound."""


class Account:
    """A signed-in account whose token is renewed when a generated request ends its session."""

    def __init__(self, api: TestClient, email: str) -> None:
        self.api = api
        self.email = email
        self.headers = auth_headers(api, email=email)

    def renew(self) -> None:
        self.headers = {"Authorization": f"Bearer {login(self.api, self.email)['access_token']}"}


class Fuzzer:
    """Sends generated cases for one test, counting them and keeping to the time bounds."""

    def __init__(self, api: TestClient, database: Database | None = None) -> None:
        self.api = api
        self.database = database
        self.sent: Counter[GenerationMode] = Counter()
        self.started = time.monotonic()
        self.stuck: str | None = None
        self.stored: dict[str, list[Any]] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz-request")

    def close(self) -> None:
        # A stuck request keeps its thread; do not wait for it (pytest-timeout has it).
        self._executor.shutdown(wait=self.stuck is None, cancel_futures=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def send(self, method: str, url: str, kwargs: dict[str, Any]) -> Any:
        if self.stuck is not None:
            raise RunTimeout(self.stuck)
        if self.elapsed() > RUN_BUDGET_S:
            self._give_up(f"the run took over {RUN_BUDGET_S:.0f} s; stopped at {method} {url}")
        future = self._executor.submit(self.api.request, method, url, **kwargs)
        try:
            return future.result(timeout=REQUEST_TIMEOUT_S)
        except FutureTimeout:
            self._give_up(f"{method} {url} did not answer within {REQUEST_TIMEOUT_S:.0f} s")

    def _give_up(self, reason: str) -> NoReturn:
        self.stuck = reason
        # Said now, on the real stderr: pytest-timeout may end the process before the
        # report of this failure is printed.
        print(f"\ntest_fuzz: {reason}", file=sys.__stderr__, flush=True)
        raise RunTimeout(reason)

    def expect_unchanged(self) -> None:
        """Before a negative case: know what is stored (still known after a refused case)."""
        if self.database is not None and self.stored is None:
            self.stored = self._read()

    def settle(self, refused: bool, what: Callable[[], str]) -> None:
        """After a case: a refused one has left the stored data as it was; any other may
        have written, so the stored data is read again before the next negative case."""
        if self.stored is None:
            return
        if not refused:
            self.stored = None
            return
        now = self._read()
        changed = [name for name, rows in self.stored.items() if now[name] != rows]
        assert not changed, f"{what()}, yet it changed stored data in {changed}"

    def _read(self) -> dict[str, list[Any]]:
        assert self.database is not None
        with self.database.engine.connect() as connection:
            return {
                table.name: list(connection.execute(select(table).order_by(*table.primary_key)))
                for table in Base.metadata.sorted_tables
                if table.name not in WRITTEN_BY_REFUSALS
            }


def _operations(api: TestClient) -> list[Any]:
    schema = schemathesis.openapi.from_dict(api.get("/openapi.json").json())
    return [result.ok() for result in schema.get_all_operations()]


def _negatable(operation: Any) -> bool:
    """Whether schemathesis has anything to break: a parameter or a body (the token is fixed)."""
    parameters = [
        *operation.path_parameters,
        *operation.query,
        *operation.headers,
        *operation.cookies,
    ]
    return bool(operation.body) or any(p.name not in SIGNED_IN for p in parameters)


def _fuzz(fuzzer: Fuzzer, account: Account, operation: Any, mode: GenerationMode) -> int:
    """Send the generated cases of one operation in one mode; return how many were sent."""
    sent = 0

    @settings(
        max_examples=EXAMPLES_PER_OPERATION[mode],
        derandomize=True,
        deadline=None,  # the bounds are REQUEST_TIMEOUT_S and RUN_BUDGET_S, enforced in send()
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=SIGNED_IN))
    def run(case: Any) -> None:
        nonlocal sent
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=account.headers)
        kwargs.pop("timeout", None)
        kwargs.pop("allow_redirects", None)
        method = kwargs.pop("method")
        url = kwargs.pop("url")
        negative = case.meta.generation.mode.is_negative
        if negative:
            fuzzer.expect_unchanged()
        response = fuzzer.send(method, url, _httpx_kwargs(kwargs))
        response.request.read()  # a streamed (multipart) body must be readable for the checks
        sent += 1
        fuzzer.sent[case.meta.generation.mode] += 1
        case.validate_response(response, checks=NEGATIVE_CHECKS if negative else CHECKS)
        status = response.status_code
        if 400 <= status < 500:
            _assert_error_shape(response)
        fuzzer.settle(
            refused=negative and 400 <= status < 500 and status not in STATUSES_THAT_MAY_WRITE,
            what=lambda: f"{method} {url} was refused with {status} {response.text[:300]}",
        )
        if status == 401 and operation.path != "/auth/login":
            account.renew()

    run()
    return sent


def _assert_error_shape(response: Any) -> None:
    try:
        ERROR_SHAPE.validate_json(response.content)
    except ValidationError as exc:
        request = response.request
        raise AssertionError(
            f"{request.method} {request.url} answered {response.status_code} off the "
            f"documented error shape: {response.text[:300]!r} ({exc})"
        ) from None


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
def fuzzer(api: TestClient, database: Database) -> Iterator[Fuzzer]:
    fuzzer = Fuzzer(api, database)
    yield fuzzer
    fuzzer.close()


@pytest.fixture
def owner(api: TestClient, database: Database, settings: Settings) -> Account:
    account = Account(api, "fuzz@example.com")
    client = create_client(api, account.headers)
    overdue_invoice(api, account.headers, client["id"])
    worker_pass(database, settings)
    return account


def test_every_operation_survives_generated_requests(
    api: TestClient, fuzzer: Fuzzer, owner: Account
) -> None:
    operations = [
        operation
        for operation in _operations(api)
        if (operation.method.upper(), operation.path) not in SESSION_ENDING
    ]
    for operation in operations:
        _fuzz(fuzzer, owner, operation, POSITIVE)
        if _negatable(operation):
            _fuzz(fuzzer, owner, operation, NEGATIVE)
    counts = f"{dict(fuzzer.sent)} over {len(operations)} operations in {fuzzer.elapsed():.0f} s"
    for mode, minimum in MINIMUM_CASES.items():
        assert fuzzer.sent[mode] >= minimum, f"too few {mode} cases: {counts}"
    assert sum(fuzzer.sent.values()) >= MINIMUM_TOTAL, f"too few cases: {counts}"


def test_session_ending_operations_survive_generated_requests(
    api: TestClient, fuzzer: Fuzzer
) -> None:
    operations = [
        operation
        for operation in _operations(api)
        if (operation.method.upper(), operation.path) in SESSION_ENDING
    ]
    assert {(op.method.upper(), op.path) for op in operations} == SESSION_ENDING
    for operation in operations:
        account = Account(api, f"ending-{operation.path.rsplit('/', 1)[-1]}@example.com")
        assert _fuzz(fuzzer, account, operation, POSITIVE) > 0
        assert _fuzz(fuzzer, account, operation, NEGATIVE) > 0
    assert login(api, "ending-logout@example.com", PASSWORD)


def _canary(app: FastAPI, mode: GenerationMode) -> BaseException:
    """The harness over a tiny app, which must fail: what it raised."""
    with TestClient(app, raise_server_exceptions=False) as client:
        account = Account.__new__(Account)
        account.api, account.headers = client, {}
        fuzzer = Fuzzer(client)
        try:
            with pytest.raises((FailureGroup, AssertionError)) as caught:
                _fuzz(fuzzer, account, _operations(client)[0], mode)
        finally:
            fuzzer.close()
    return caught.value


def _failures(raised: BaseException) -> list[BaseException]:
    return list(raised.exceptions) if isinstance(raised, FailureGroup) else [raised]


def test_the_harness_fails_on_an_operation_that_breaks_its_schema() -> None:
    """A canary: an answer off its documented schema, found by positive cases."""
    broken = FastAPI()

    @broken.get("/things/{thing_id}", responses={200: {"model": Thing}})
    def read_thing(thing_id: int) -> JSONResponse:
        return JSONResponse({"id": str(thing_id)})  # documented as an integer

    failures = _failures(_canary(broken, POSITIVE))
    assert any(isinstance(failure, JsonSchemaError) for failure in failures)


def test_the_harness_sends_invalid_requests_and_fails_on_a_500() -> None:
    """A canary: a handler that trusts its input. Valid requests pass; invalid ones 500."""
    trusting = FastAPI()
    limit = {"name": "limit", "in": "query", "required": True, "schema": {"type": "integer"}}

    @trusting.get("/things", openapi_extra={"parameters": [limit]})
    def list_things(request: Request) -> dict[str, int]:
        return {"limit": int(request.query_params["limit"])}  # a 500 on a missing or bad limit

    with TestClient(trusting) as client:
        account = Account.__new__(Account)
        account.api, account.headers = client, {}
        fuzzer = Fuzzer(client)
        assert _fuzz(fuzzer, account, _operations(client)[0], POSITIVE) > 0
        fuzzer.close()
    failures = _failures(_canary(trusting, NEGATIVE))
    assert any(isinstance(failure, ServerError) for failure in failures)


def test_the_harness_fails_on_an_error_off_the_documented_shape() -> None:
    """A canary: FastAPI's own 422 (``{"detail": [...]}``), which its own document allows."""
    plain = FastAPI()

    @plain.get("/things")
    def list_things(limit: int) -> dict[str, int]:
        return {"limit": limit}

    failures = _failures(_canary(plain, NEGATIVE))
    assert any("off the documented error shape" in str(failure) for failure in failures)


class Thing(BaseModel):
    id: int
