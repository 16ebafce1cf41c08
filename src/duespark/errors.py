"""Errors that carry their meaning, rendered once at each edge.

Domain code raises these; the JSON handler (``duespark.exception_handlers``) turns them into
``{"error": {"code", "message", "field"?}}`` with the status below, and the CLI turns them
into exit codes. An error a user can cause must be one of these: anything else is a bug and
becomes a logged 500.

The tree::

    DueSparkError (500)
    ├── InvalidInput (422)             input that parsed but breaks a rule; may name a field
    ├── NotAuthenticated (401)         missing, expired or invalid credentials
    ├── NotFound (404)                 absent, or belonging to another account
    ├── Conflict (409)                 duplicate, or a state change the state machine refuses
    ├── TooManyRequests (429)          throttled; carries Retry-After
    └── ServiceUnavailable (503)       the database is unreachable or the schema is behind
"""

from __future__ import annotations


class DueSparkError(Exception):
    """Base of every error DueSpark raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}


class InvalidInput(DueSparkError):
    status_code = 422
    code = "invalid_input"


class NotAuthenticated(DueSparkError):
    status_code = 401
    code = "not_authenticated"

    def __init__(self, message: str = "Not authenticated.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFound(DueSparkError):
    status_code = 404
    code = "not_found"


class Conflict(DueSparkError):
    status_code = 409
    code = "conflict"


class TooManyRequests(DueSparkError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        self.retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(message, headers={"Retry-After": str(self.retry_after_seconds)})


class ServiceUnavailable(DueSparkError):
    status_code = 503
    code = "service_unavailable"
