"""The shared field types of ``duespark.kit``: each idea validated once, the same way for
every schema that uses it. Validated in pydantic's Python (lax) mode, which is how FastAPI
validates request bodies, so coercions that mode would allow are tested here too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from duespark.kit import fields
from duespark.kit.currencies import active_currencies, is_active_currency
from duespark.kit.search import SearchText, like_pattern
from duespark.kit.time_zones import is_time_zone, known_time_zones


def _valid(field_type: Any, value: Any) -> Any:
    return TypeAdapter(field_type).validate_python(value)


def _refused(field_type: Any, value: Any) -> str:
    """The message of the refusal (fails the test if the value is accepted)."""
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(field_type).validate_python(value)
    return refused.value.errors()[0]["msg"]


# ── time zones ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "name",
    ["Europe/London", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "UTC", "Etc/GMT+5"],
)
def test_time_zone_accepts_iana_names(name: str) -> None:
    assert _valid(fields.TimeZoneName, name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "utc",  # names are case-sensitive: no guessing
        "europe/london",
        "Europe/London ",
        "Europe/Londres",
        "Mars/Olympus_Mons",
        "GMT+2",
        "+02:00",
        "localtime",  # a host file pointing at the host's zone, not an IANA name
        "posixrules",
        "posix/Europe/London",
        "right/UTC",
        "../../etc/passwd",
        "Europe/" + "L" * 60,
    ],
)
def test_time_zone_refuses_anything_else(name: str) -> None:
    _refused(fields.TimeZoneName, name)


def test_time_zone_refusal_says_what_is_expected() -> None:
    assert _refused(fields.TimeZoneName, "Europe/Londres") == (
        'Value error, "Europe/Londres" is not an IANA time zone name (like "Europe/Berlin")'
    )


def test_known_time_zones_come_from_the_pinned_tz_database() -> None:
    zones = known_time_zones()
    assert {"Europe/London", "Pacific/Kiritimati", "America/New_York"} <= zones
    assert "localtime" not in zones
    assert not any(zone.startswith(("posix/", "right/")) for zone in zones)
    assert is_time_zone("Asia/Tokyo") and not is_time_zone("Asia/Osaka")


# ── currencies ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("code", ["EUR", "USD", "GBP", "JPY", "KWD", "CHF", "XOF", "INR"])
def test_currency_accepts_codes_in_use(code: str) -> None:
    assert _valid(fields.CurrencyCode, code) == code


@pytest.mark.parametrize(
    "code",
    ["eur", "Eur", "XYZ", "XXX", "XAU", "DEM", "HRK", "EU", "EURO", " EUR", "€", "", "E1R", 978],
)
def test_currency_refuses_unknown_historic_and_uncased_codes(code: Any) -> None:
    """Never coerced: "eur" is not quietly upper-cased, "XYZ" does not become USD."""
    _refused(fields.CurrencyCode, code)


def test_active_currencies_are_upper_case_three_letter_codes() -> None:
    codes = active_currencies()
    assert len(codes) > 100
    assert all(len(code) == 3 and code.isascii() and code.isupper() for code in codes)
    assert is_active_currency("EUR") and not is_active_currency("DEM")


# ── e-mail, names, notes, locale ──────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("billing+duespark@globex.example", "billing+duespark@globex.example"),
    ],
)
def test_email_is_validated_and_lower_cased(text: str, stored: str) -> None:
    assert _valid(fields.Email, text) == stored


@pytest.mark.parametrize(
    "text", ["", "ada", "ada@example", "a@@b.example", "a" * 250 + "@example.com", "a\x00@b.com"]
)
def test_email_refuses_invalid_addresses(text: str) -> None:
    _refused(fields.Email, text)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("  Globex  ", "Globex"),
        ("Zoë Ünïcödé", "Zoë Ünïcödé"),
        ("株式会社", "株式会社"),
        ("x" * 200, "x" * 200),
    ],
)
def test_name_is_stripped(text: str, stored: str) -> None:
    assert _valid(fields.Name, text) == stored


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 201, "Glo\nbex", "Glo\tbex", "Glo\rbex", "Glo\x00bex", "Glo\x7fbex", 42],
)
def test_name_refuses_empty_long_multi_line_and_non_text(text: Any) -> None:
    """NUL would be a 500 on PostgreSQL; a line break in a name can break an e-mail header."""
    _refused(fields.Name, text)


def test_optional_name_may_be_empty_but_not_multi_line() -> None:
    assert _valid(fields.OptionalName, "  ") == ""
    assert "control characters" in _refused(fields.OptionalName, "Hank\nScorpio")


def test_notes_keep_line_breaks_but_not_nul() -> None:
    text = "Net 30.\r\nPO 4411\tref\x0bsee contract"
    assert _valid(fields.Notes, text) == text
    assert _valid(fields.Notes, "n" * 10_000) == "n" * 10_000
    assert "NUL" in _refused(fields.Notes, "a\x00b")
    _refused(fields.Notes, "n" * 10_001)


@pytest.mark.parametrize("tag", ["en", "en-GB", "pt_BR", "zh-Hant-TW", "fil"])
def test_locale_accepts_language_tags(tag: str) -> None:
    assert _valid(fields.Locale, tag) == tag


@pytest.mark.parametrize("tag", ["", "e", "english", "en GB", "en-", "12", "en-GB\n", "x" * 36])
def test_locale_refuses_anything_else(tag: str) -> None:
    _refused(fields.Locale, tag)


# ── amounts ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("text", ["1250.00", "0", "0.5", "1.2345", "999999999999999"])
def test_amount_text_accepts_plain_decimals(text: str) -> None:
    assert _valid(fields.AmountText, text) == text


@pytest.mark.parametrize(
    "value",
    [
        "-1.00",
        "1,000.00",
        "1e3",
        "1.00\n",
        "١٢٣",
        "\uff11\uff12\uff13",
        "",
        "1.23456",
        10,
        10.5,
        None,
    ],
)
def test_amount_text_refuses_anything_else(value: Any) -> None:
    """Numbers are refused too: a JSON float has already lost the cents it was meant to carry."""
    _refused(fields.AmountText, value)


def test_amount_text_explains_the_expected_shape() -> None:
    assert 'like "1250.00"' in _refused(fields.AmountText, "1,000.00")


# ── dates and timestamps ──────────────────────────────────────────────────────────────────


def test_iso_date_parses_text_and_keeps_dates() -> None:
    assert _valid(fields.IsoDate, "2028-02-29") == date(2028, 2, 29)
    assert _valid(fields.IsoDate, date(2026, 10, 31)) == date(2026, 10, 31)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "2027-02-29",  # not a leap year
        "2026-13-01",
        1_767_225_600,  # lax mode would read a Unix timestamp
        "1767225600",
        "20261031",
        "2026-10-31T00:00:00",  # a timestamp where a date belongs
        "31/10/2026",
        "2026-1-1",
        " 2026-10-31",
        True,
        datetime(2026, 10, 31, tzinfo=UTC),
    ],
)
def test_iso_date_refuses_everything_but_yyyy_mm_dd(value: Any) -> None:
    _refused(fields.IsoDate, value)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2026-10-31", date(2026, 10, 31)),
        ("2026-10-31T12:30:00Z", datetime(2026, 10, 31, 12, 30, tzinfo=UTC)),
        ("2026-10-31T14:30:00+02:00", datetime(2026, 10, 31, 12, 30, tzinfo=UTC)),
        ("2026-10-31 14:30:00.5+0200", datetime(2026, 10, 31, 12, 30, 0, 500_000, tzinfo=UTC)),
    ],
)
def test_date_or_timestamp(value: str, parsed: date) -> None:
    result = _valid(fields.DateOrTimestamp, value)
    assert result == parsed
    assert type(result) is type(parsed)


def test_a_timestamp_keeps_the_offset_it_was_given() -> None:
    parsed = _valid(fields.DateOrTimestamp, "2026-10-31T14:30:00+02:00")
    assert parsed.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "value",
    [
        "2026-10-31T14:30:00",  # no offset: which 14:30?
        "2026-02-30",
        "2026-10-31T25:00:00Z",
        "2026-10-31T14:30:00 Europe/London",
        1_767_225_600,
        "1767225600",
        True,
        None,
        datetime(2026, 10, 31, 14, 30),
    ],
)
def test_date_or_timestamp_refuses_naive_timestamps_and_numbers(value: Any) -> None:
    _refused(fields.DateOrTimestamp, value)


def test_refuse_null() -> None:
    assert fields.refuse_null("kept") == "kept"
    assert fields.refuse_null(0) == 0
    with pytest.raises(ValueError, match="must not be null"):
        fields.refuse_null(None)


# ── search ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("Globex", "%globex%"),
        ("100%", "%100\\%%"),
        ("a_b", "%a\\_b%"),
        ("back\\slash", "%back\\\\slash%"),
    ],
)
def test_like_pattern_takes_wildcards_literally(text: str, pattern: str) -> None:
    assert like_pattern(text) == pattern


def test_search_text_refuses_nul_and_long_queries() -> None:
    assert _valid(SearchText, "globex") == "globex"
    assert "NUL" in _refused(SearchText, "glo\x00bex")
    _refused(SearchText, "q" * 201)
