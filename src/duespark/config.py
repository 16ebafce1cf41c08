"""One validated ``Settings`` object, read from the environment once at start-up.

Every process (server, worker, CLI) calls :func:`load_settings` once and passes the result
down; nothing else reads ``os.environ``. Dangerous values are refused here, with a message
that says what to do, rather than discovered later:

* in production a strong ``SECRET_KEY`` is required (no generated or placeholder keys), and
  so is a real email configuration (no development mail folder);
* in development, when ``SECRET_KEY`` is unset, a random key is generated once and kept in a
  file beside the SQLite database, so restarting the server does not log anybody out.
"""

from __future__ import annotations

import os
import re
import secrets
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url

MIN_SECRET_KEY_LENGTH = 32
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "secret-key", "dev", "test"})
DEFAULT_DATABASE_URL = "sqlite:///./duespark.db"
DEFAULT_DRAIN_SECONDS = 10.0
MAX_DRAIN_SECONDS = 600.0
MIN_METRICS_TOKEN_LENGTH = 24
METRICS_TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9\-._~+/]{{{MIN_METRICS_TOKEN_LENGTH},256}}=*")


class ConfigError(Exception):
    """The environment describes a configuration DueSpark refuses to run with."""


class Environment(StrEnum):
    development = "development"
    production = "production"


def _split_keys(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseModel):
    """DueSpark's configuration (see PRODUCT.md, "Configuration")."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    secret_key: str | None = Field(None, validation_alias="SECRET_KEY")
    secret_key_fallbacks: list[str] = Field(
        default_factory=list, validation_alias="SECRET_KEY_FALLBACKS"
    )
    env: Environment = Field(Environment.development, validation_alias="DUESPARK_ENV")
    email_url: str | None = Field(None, validation_alias="DUESPARK_EMAIL_URL")
    email_from: str | None = Field(None, validation_alias="DUESPARK_EMAIL_FROM")
    base_url: str = Field("http://127.0.0.1:8000", validation_alias="DUESPARK_BASE_URL")
    access_token_minutes: int = Field(
        15, ge=1, le=24 * 60, validation_alias="DUESPARK_ACCESS_TOKEN_MINUTES"
    )
    outbox_lease_seconds: int = Field(
        600, ge=1, le=24 * 3600, validation_alias="DUESPARK_OUTBOX_LEASE_SECONDS"
    )
    refresh_token_days: int = Field(
        30, ge=1, le=365, validation_alias="DUESPARK_REFRESH_TOKEN_DAYS"
    )
    # Seconds between SIGTERM and the server no longer accepting: /readyz answers 503 at
    # once, and the load balancer needs a few probe intervals to stop routing here.
    drain_seconds: float = Field(
        DEFAULT_DRAIN_SECONDS, ge=0, le=MAX_DRAIN_SECONDS, validation_alias="DUESPARK_DRAIN_SECONDS"
    )
    # Bearer token for GET /metrics (see duespark.observability.metrics): unset, /metrics is
    # open in development and refused in production, so it is never public by accident.
    metrics_token: str | None = Field(None, validation_alias="DUESPARK_METRICS_TOKEN")

    @field_validator("secret_key_fallbacks", mode="before")
    @classmethod
    def _parse_fallbacks(cls, value: object) -> object:
        return _split_keys(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("DUESPARK_BASE_URL must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("metrics_token")
    @classmethod
    def _check_metrics_token(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not METRICS_TOKEN_PATTERN.fullmatch(value):
            raise ValueError(
                f"DUESPARK_METRICS_TOKEN must be {MIN_METRICS_TOKEN_LENGTH} to 256 characters "
                "of letters, digits and -._~+/ (a bearer token); generate one with "
                "`openssl rand -hex 32`"
            )
        if len(set(value)) < 8:
            raise ValueError("DUESPARK_METRICS_TOKEN is too guessable; generate a random token")
        return value

    @field_validator("email_url")
    @classmethod
    def _check_email_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"smtp", "smtps", "file", "console"}:
            raise ValueError(
                "DUESPARK_EMAIL_URL must start with smtp://, smtps://, file:// or console:"
            )
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        for key in [self.secret_key, *self.secret_key_fallbacks]:
            if key is not None:
                check_key_strength(key)
        if self.env is Environment.production and self.secret_key is None:
            raise ValueError(
                "SECRET_KEY is required when DUESPARK_ENV=production; "
                "generate one with `duespark keys generate` or `openssl rand -base64 32`"
            )
        if self.env is Environment.production and not (self.email_url and self.email_from):
            raise ValueError(
                "DUESPARK_EMAIL_URL and DUESPARK_EMAIL_FROM are required when "
                "DUESPARK_ENV=production, or reminders would never leave the server"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL or an in-memory database."""
        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        if not database or database == ":memory:":
            return None
        return Path(database)

    @property
    def signing_key(self) -> str:
        """The key new tokens are signed with. Always set once :func:`load_settings` returns."""
        if self.secret_key is None:
            raise ConfigError("no SECRET_KEY: settings were not loaded with load_settings()")
        return self.secret_key


def check_key_strength(key: str) -> None:
    """Refuse keys that are short, placeholders, or made of a handful of characters."""
    if key.strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError("SECRET_KEY is a placeholder value; generate a random key")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
            f"(this one has {len(key)}); generate one with `openssl rand -base64 32`"
        )
    if len(set(key)) < 10:
        raise ValueError("SECRET_KEY has too few distinct characters to be random")


def normalise_database_url(value: str) -> str:
    """Accept the URL forms operators paste (``postgres://`` from Fly.io, plain
    ``postgresql://``) and pin the driver DueSpark is tested with (psycopg 3)."""
    value = value.strip()
    if value.startswith("postgres://"):
        value = "postgresql://" + value.removeprefix("postgres://")
    if value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    try:
        url = make_url(value)
    except Exception as exc:
        raise ValueError(f"DATABASE_URL is not a valid database URL: {exc}") from exc
    if url.drivername not in {"sqlite", "sqlite+pysqlite", "postgresql+psycopg"}:
        raise ValueError("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    return value


def secret_key_file(settings: Settings) -> Path:
    """Where a development key is kept: beside the SQLite file, else in the working folder."""
    database = settings.sqlite_path
    if database is not None:
        return database.with_name(database.name + ".secret-key")
    return Path(".duespark-secret-key")


def _development_key(settings: Settings) -> str:
    path = secret_key_file(settings)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise :class:`ConfigError` with a readable message.

    ``environ`` defaults to the process environment; tests pass their own mapping.
    """
    source = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(
            {key: value for key, value in source.items() if key in _ENV_NAMES}
        )
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    if settings.secret_key is None:
        key = _development_key(settings)
        settings = settings.model_copy(update={"secret_key": key})
    return settings


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        names = [_ALIASES.get(str(part), str(part)) for part in error["loc"]]
        where = ".".join(names)
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if where else message)
    return "invalid configuration: " + "; ".join(lines)


_ALIASES = {name: str(field.validation_alias) for name, field in Settings.model_fields.items()}
_ENV_NAMES = frozenset(_ALIASES.values())
