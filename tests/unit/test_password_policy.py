"""Weak passwords are refused with reasons a person can act on."""

from __future__ import annotations

import pytest

from duespark.auth.password_policy import password_problems


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "at least 10 characters"),
        ("aaaaaaaaaaaa", "different characters"),
        ("password123", "commonly used"),
        ("QWERTYUIOP", "commonly used"),
        ("x" * 257 + "abcde", "at most 256"),
        ("my-adalovelace-pass", "email address"),
        ("Ada Lovelace rocks", "your name"),
    ],
)
def test_weak_passwords_are_explained(password: str, reason: str) -> None:
    problems = password_problems(password, email="adalovelace@example.com", name="Ada Lovelace")
    assert any(reason in problem for problem in problems), problems


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "Tr0ub4dor&3xyz", "ünïcödé-pässwörd"]
)
def test_good_passwords_pass(password: str) -> None:
    assert password_problems(password, email="ada@example.com", name="Ada") == []
