"""A correctly signed token whose claims do not fit the database is a bad token (401),
never a failed query (500), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from duespark.auth.tokens import AUDIENCE, ISSUER, TOKEN_TYPE, key_id
from tests.conftest import TEST_SECRET_KEY


def signed(sub: str, ver: int = 1) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": sub,
        "ver": ver,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    headers = {"kid": key_id(TEST_SECRET_KEY), "typ": TOKEN_TYPE}
    return jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS256", headers=headers)


@pytest.mark.parametrize(
    ("sub", "ver"),
    [
        ("9223372036854775808", 1),  # past BIGINT
        ("2147483648", 1),  # past INTEGER
        ("9" * 5000, 1),  # past Python's digit limit for int()
        ("1", 2**63),  # a version no column holds
    ],
)
def test_a_signed_token_that_names_no_possible_account_is_401(
    api: TestClient, sub: str, ver: int
) -> None:
    for path in ("/auth/me", "/invoices", "/clients"):
        response = api.get(path, headers={"Authorization": f"Bearer {signed(sub, ver)}"})
        assert response.status_code == 401, (path, response.status_code, response.text[:200])
