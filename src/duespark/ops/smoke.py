"""Asking a running DueSpark over HTTP: the smoke test, and which keys it holds.

Every seed runbook ends with the same checks by hand (``curl /healthz``, a form login, a
protected call with the token). :func:`run_smoke` does them in order, times each, and stops
at the first failure, so ``duespark smoke`` can gate a deploy or a key rotation.

The client is the standard library's ``urllib``, not an HTTP package: a handful of
sequential requests need nothing more, the server's runtime gains no dependency for a
command that runs now and then, and ``urllib`` honours ``https_proxy``/``no_proxy`` as
``curl`` in the runbooks does.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

USER_AGENT = "duespark-smoke"


class RemoteError(Exception):
    """The server could not be reached, or answered something unexpected."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise RemoteError(f"answered {self.status} with a body that is not JSON") from None


def check_base_url(url: str) -> str:
    """An http(s) URL without a trailing slash, or ValueError saying what is wrong."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url.rstrip("/")


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    form: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> Answer:
    """One request; any HTTP status is an :class:`Answer`, a network failure a RemoteError."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    prepared = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(f"cannot reach {url}: {reason}") from None


@dataclass(frozen=True)
class RemoteKeys:
    signing_key_id: str
    accepted_key_ids: list[str]


def remote_keys(base_url: str, *, timeout: float = 10) -> RemoteKeys:
    """The key ids a running server signs with and accepts (``GET /auth/keys``)."""
    answer = request("GET", f"{check_base_url(base_url)}/auth/keys", timeout=timeout)
    if answer.status != 200:
        raise RemoteError(f"GET /auth/keys answered {answer.status}")
    payload = answer.json()
    try:
        signing, accepted = payload["signing_key_id"], payload["accepted_key_ids"]
    except (KeyError, TypeError):
        raise RemoteError("GET /auth/keys answered without key ids") from None
    if not isinstance(signing, str) or not isinstance(accepted, list):
        raise RemoteError("GET /auth/keys answered malformed key ids")
    return RemoteKeys(signing, [str(kid) for kid in accepted])


@dataclass(frozen=True)
class Step:
    """One smoke step's result. ``ok`` None means skipped."""

    name: str
    ok: bool | None
    milliseconds: float
    detail: str


class _Failed(Exception):
    pass


def _error_message(answer: Answer) -> str:
    try:
        return str(answer.json()["error"]["message"])
    except (RemoteError, KeyError, TypeError):
        return answer.body[:200].decode(errors="replace")


def _expect(answer: Answer, what: str, status: int = 200) -> Any:
    if answer.status != status:
        raise _Failed(f"{what} answered {answer.status}: {_error_message(answer)}")
    return answer.json() if answer.body else None


def run_smoke(
    base_url: str,
    *,
    email: str | None,
    password: str | None,
    timeout: float = 10,
    report: Callable[[Step], None] = lambda step: None,
) -> list[Step]:
    """Run the steps in order, calling ``report`` as each ends; stop at the first failure.

    With credentials: health, readiness, login (form post), a protected call, and a logout
    so that running the smoke test leaves no session behind. Without: the first two, and
    the rest reported as skipped.
    """
    base = check_base_url(base_url)
    steps: list[Step] = []
    session: dict[str, str] = {}

    def health() -> str:
        payload = _expect(request("GET", f"{base}/healthz", timeout=timeout), "GET /healthz")
        if not isinstance(payload, dict) or payload.get("status") != "ok":
            raise _Failed(f"GET /healthz answered 200 but said {payload!r}")
        return "GET /healthz 200"

    def readiness() -> str:
        answer = request("GET", f"{base}/readyz", timeout=timeout)
        if answer.status != 200:
            raise _Failed(f"GET /readyz answered {answer.status}: {answer.body[:300]!r}")
        return "GET /readyz 200"

    def login() -> str:
        assert email is not None and password is not None
        answer = request(
            "POST",
            f"{base}/auth/login",
            form={"username": email, "password": password},
            timeout=timeout,
        )
        payload = _expect(answer, "POST /auth/login")
        if not isinstance(payload, dict) or not payload.get("access_token"):
            raise _Failed("POST /auth/login answered 200 without an access token")
        session.update(access=payload["access_token"], refresh=payload.get("refresh_token", ""))
        return f"POST /auth/login 200 as {email}"

    def protected() -> str:
        answer = request("GET", f"{base}/auth/me", token=session["access"], timeout=timeout)
        payload = _expect(answer, "GET /auth/me")
        if (
            not isinstance(payload, dict)
            or str(payload.get("email", "")).lower() != (email or "").strip().lower()
        ):
            raise _Failed("GET /auth/me answered 200 for someone else")
        return "GET /auth/me 200 with the bearer token"

    def logout() -> str:
        answer = request(
            "POST",
            f"{base}/auth/logout",
            body={"refresh_token": session["refresh"]},
            timeout=timeout,
        )
        _expect(answer, "POST /auth/logout", status=204)
        return "POST /auth/logout 204: the smoke session is closed"

    plan: list[tuple[str, Callable[[], str]]] = [("health", health), ("readiness", readiness)]
    if email and password:
        plan += [("login", login), ("protected call", protected), ("logout", logout)]
    for name, action in plan:
        started = time.perf_counter()
        try:
            detail, ok = action(), True
        except (_Failed, RemoteError) as exc:
            detail, ok = str(exc), False
        step = Step(name, ok, (time.perf_counter() - started) * 1000, detail)
        steps.append(step)
        report(step)
        if not ok:
            return steps
    if not (email and password):
        for name in ("login", "protected call", "logout"):
            step = Step(name, None, 0.0, "skipped: no credentials given")
            steps.append(step)
            report(step)
    return steps


def passed(steps: list[Step]) -> bool:
    return all(step.ok is not False for step in steps)
