"""What makes a password too weak, as reasons a person can act on.

Follows NIST SP 800-63B: a minimum length, a generous maximum, and a check against
commonly used passwords, with no composition rules (they make passwords worse).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5


@cache
def _common_passwords() -> frozenset[str]:
    text = files("duespark.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Every reason ``password`` is refused; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters long")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        problems.append(f"must contain at least {MIN_DISTINCT_CHARACTERS} different characters")
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append("is one of the most commonly used passwords")
    local_part = email.split("@", 1)[0].lower()
    if len(local_part) >= 4 and local_part in lowered:
        problems.append("must not contain your email address")
    if len(name) >= 4 and name.lower() in lowered:
        problems.append("must not contain your name")
    return problems
