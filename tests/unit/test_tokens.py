"""Access tokens: what is accepted, and every forgery or staleness that must be refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from duespark.auth.tokens import AUDIENCE, ISSUER, InvalidToken, Keyring, key_id

OLD_KEY = "old-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"
NEW_KEY = "new-key-9876543210-zyxwvutsrqponmlkjihgfedcba-GFEDCBA"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=15)


def issue(keyring: Keyring, now: datetime = NOW) -> str:
    return keyring.issue_access_token(user_id=7, token_version=3, now=now, lifetime=LIFETIME)


def forge(claims: dict, headers: dict, key: str = OLD_KEY, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def valid_claims(**overrides: object) -> dict:
    claims = {
        "sub": "7",
        "ver": 3,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()),
        "exp": int((NOW + LIFETIME).timestamp()),
    }
    claims.update(overrides)
    return claims


def good_headers(key: str = OLD_KEY) -> dict:
    return {"kid": key_id(key), "typ": "at+jwt"}


def test_round_trip_names_the_signing_key() -> None:
    keyring = Keyring(OLD_KEY, [])
    token = issue(keyring)
    assert jwt.get_unverified_header(token)["kid"] == key_id(OLD_KEY)
    claims = keyring.verify_access_token(token, now=NOW + timedelta(minutes=5))
    assert (claims.user_id, claims.token_version, claims.key_id) == (7, 3, key_id(OLD_KEY))


def test_fallback_key_verifies_but_never_signs() -> None:
    before = Keyring(OLD_KEY, [])
    after = Keyring(NEW_KEY, [OLD_KEY])
    old_token = issue(before)
    assert after.verify_access_token(old_token, now=NOW).key_id == key_id(OLD_KEY)
    assert jwt.get_unverified_header(issue(after))["kid"] == key_id(NEW_KEY)
    assert after.verifying_key_ids == sorted([key_id(OLD_KEY), key_id(NEW_KEY)])


def test_retired_key_is_refused() -> None:
    token = issue(Keyring(OLD_KEY, []))
    with pytest.raises(InvalidToken):
        Keyring(NEW_KEY, []).verify_access_token(token, now=NOW)


def test_prepared_key_verifies_tokens_from_an_instance_already_signing_with_it() -> None:
    """Phase one of a rotation: the next key is accepted before anyone signs with it."""
    prepared = Keyring(OLD_KEY, [NEW_KEY])
    activated = Keyring(NEW_KEY, [OLD_KEY])
    assert prepared.verify_access_token(issue(activated), now=NOW).key_id == key_id(NEW_KEY)


def _part(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _none_token() -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": key_id(OLD_KEY)}
    return f"{_part(header)}.{_part(valid_claims())}."


def raw_hs256(header: dict, claims: dict, key: str = OLD_KEY) -> str:
    """Sign by hand, for headers PyJWT itself refuses to write."""
    signing_input = f"{_part({'alg': 'HS256', **header})}.{_part(claims)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


FORGERIES = {
    "alg none": _none_token(),
    "HS512 instead of HS256": raw_hs256({**good_headers(), "alg": "HS512"}, valid_claims()),
    "unknown kid": forge(valid_claims(), {"kid": "0123456789abcdef", "typ": "at+jwt"}),
    "kid with SQL": forge(valid_claims(), {"kid": "' OR 1=1 --", "typ": "at+jwt"}),
    "kid not a string": raw_hs256({"kid": 12, "typ": "at+jwt"}, valid_claims()),
    "jwk header with attacker key": raw_hs256(
        {"kid": "ffffffffffffffff", "typ": "at+jwt", "jwk": {"kty": "oct", "k": "AAAA"}},
        valid_claims(),
        key="AAAA",
    ),
    "no kid": forge(valid_claims(), {"typ": "at+jwt"}),
    "wrong typ": forge(valid_claims(), {"kid": key_id(OLD_KEY), "typ": "JWT"}),
    "bad signature": forge(valid_claims(), good_headers(), key=NEW_KEY),
    "wrong audience": forge(valid_claims(aud="someone-else"), good_headers()),
    "wrong issuer": forge(valid_claims(iss="evil"), good_headers()),
    "expired": forge(
        valid_claims(exp=int((NOW - timedelta(minutes=1)).timestamp())), good_headers()
    ),
    "not valid yet": forge(
        valid_claims(nbf=int((NOW + timedelta(minutes=5)).timestamp())), good_headers()
    ),
    "issued in the future": forge(
        valid_claims(iat=int((NOW + timedelta(minutes=5)).timestamp())), good_headers()
    ),
    "missing exp": forge({k: v for k, v in valid_claims().items() if k != "exp"}, good_headers()),
    "missing aud": forge({k: v for k, v in valid_claims().items() if k != "aud"}, good_headers()),
    "missing ver": forge({k: v for k, v in valid_claims().items() if k != "ver"}, good_headers()),
    "sub not a number": forge(valid_claims(sub="admin"), good_headers()),
    "ver a boolean": forge(valid_claims(ver=True), good_headers()),
    "sub past the id range": forge(valid_claims(sub="2147483648"), good_headers()),
    "sub past the digit limit": forge(valid_claims(sub="9" * 5000), good_headers()),
    "sub empty": forge(valid_claims(sub=""), good_headers()),
    "sub in other digits": forge(valid_claims(sub="\u0667"), good_headers()),
    "ver past the id range": forge(valid_claims(ver=2**31), good_headers()),
    "ver negative": forge(valid_claims(ver=-1), good_headers()),
    "not a jwt": "not.a.jwt",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgeries_are_refused(name: str) -> None:
    with pytest.raises(InvalidToken):
        Keyring(OLD_KEY, []).verify_access_token(FORGERIES[name], now=NOW)


def test_expiry_is_judged_by_the_given_now() -> None:
    keyring = Keyring(OLD_KEY, [])
    token = issue(keyring)
    keyring.verify_access_token(token, now=NOW + LIFETIME - timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        keyring.verify_access_token(token, now=NOW + LIFETIME + timedelta(minutes=1))


def test_key_ids_are_stable_and_reveal_nothing() -> None:
    assert key_id(OLD_KEY) == key_id(OLD_KEY)
    assert key_id(OLD_KEY) != key_id(NEW_KEY)
    assert len(key_id(OLD_KEY)) == 16
    assert OLD_KEY[:8] not in key_id(OLD_KEY)


def test_hand_signed_token_with_good_headers_is_accepted() -> None:
    """The hand-signing helper is sound, so the forgeries above fail for their own reason."""
    token = raw_hs256(good_headers(), valid_claims())
    assert Keyring(OLD_KEY, []).verify_access_token(token, now=NOW).user_id == 7
