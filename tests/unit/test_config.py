"""Settings: defaults, validation, and the refusal of unsafe production configurations."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from duespark.config import ConfigError, Environment, load_settings, secret_key_file

STRONG = "k3y-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"


def test_development_defaults(tmp_path: Path) -> None:
    settings = load_settings({"DATABASE_URL": f"sqlite:///{tmp_path}/d.db"})
    assert settings.env is Environment.development
    assert settings.secret_key_fallbacks == []
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.access_token_minutes == 15


def test_development_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    environ = {"DATABASE_URL": f"sqlite:///{tmp_path}/d.db"}
    first = load_settings(environ)
    second = load_settings(environ)
    assert first.secret_key == second.secret_key
    assert len(first.signing_key) >= 32
    path = secret_key_file(first)
    assert path == tmp_path / "d.db.secret-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_production_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_settings({"DUESPARK_ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"})
    assert not (tmp_path / "p.db.secret-key").exists()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("short", "at least 32 characters"),
        ("changeme", "placeholder"),
        ("a" * 40, "distinct characters"),
    ],
)
def test_weak_keys_are_refused(key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_settings({"DUESPARK_ENV": "production", "SECRET_KEY": key})


def test_weak_fallback_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"SECRET_KEY": STRONG, "SECRET_KEY_FALLBACKS": "tooshort"})


def test_fallbacks_are_comma_separated() -> None:
    other = STRONG.upper()
    settings = load_settings(
        {"SECRET_KEY": STRONG, "SECRET_KEY_FALLBACKS": f" {other} , {STRONG[::-1]} ,"}
    )
    assert settings.secret_key_fallbacks == [other, STRONG[::-1]]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/d", "postgresql+psycopg://u:p@db:5432/d"),
        ("postgresql://u@db/d", "postgresql+psycopg://u@db/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_are_normalised(given: str, expected: str) -> None:
    assert load_settings({"DATABASE_URL": given, "SECRET_KEY": STRONG}).database_url == expected


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({"DATABASE_URL": "mysql://u@h/d"}, "DATABASE_URL"),
        ({"DUESPARK_ENV": "staging"}, "DUESPARK_ENV"),
        ({"DUESPARK_BASE_URL": "ftp://x"}, "DUESPARK_BASE_URL"),
        ({"DUESPARK_EMAIL_URL": "http://mail"}, "DUESPARK_EMAIL_URL"),
        ({"DUESPARK_ACCESS_TOKEN_MINUTES": "0"}, "DUESPARK_ACCESS_TOKEN_MINUTES"),
        ({"DUESPARK_ACCESS_TOKEN_MINUTES": "soon"}, "DUESPARK_ACCESS_TOKEN_MINUTES"),
    ],
)
def test_invalid_values_name_the_variable(environ: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"SECRET_KEY": STRONG, **environ})


def test_unrelated_environment_is_ignored() -> None:
    settings = load_settings({"SECRET_KEY": STRONG, "HOME": "/root", "PATH": "/bin"})
    assert settings.secret_key == STRONG


def test_production_requires_real_email_settings() -> None:
    with pytest.raises(ConfigError, match="DUESPARK_EMAIL_URL and DUESPARK_EMAIL_FROM"):
        load_settings({"DUESPARK_ENV": "production", "SECRET_KEY": STRONG})
    with pytest.raises(ConfigError, match="DUESPARK_EMAIL_FROM"):
        load_settings(
            {
                "DUESPARK_ENV": "production",
                "SECRET_KEY": STRONG,
                "DUESPARK_EMAIL_URL": "smtp://mail.example.com:587?starttls=true",
            }
        )


def test_a_complete_production_configuration_loads() -> None:
    settings = load_settings(
        {
            "DUESPARK_ENV": "production",
            "SECRET_KEY": STRONG,
            "DUESPARK_EMAIL_URL": "smtp://mail.example.com:587?starttls=true",
            "DUESPARK_EMAIL_FROM": "reminders@example.com",
            "DATABASE_URL": "postgres://duespark@db/duespark",
        }
    )
    assert settings.env is Environment.production
    assert settings.database_url == "postgresql+psycopg://duespark@db/duespark"
