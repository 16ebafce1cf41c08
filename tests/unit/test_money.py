"""Money: decimal strings in, integer minor units stored, the same strings back out.

The rule under test is "never round someone's invoice": an amount with more decimal places
than its currency has is refused, never truncated or rounded.
"""

from __future__ import annotations

import pytest

from duespark.kit.currencies import minor_digits
from duespark.kit.money import MAX_MINOR_UNITS, AmountError, format_amount, parse_amount


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("USD", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_digits(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1250.00", "EUR", 125_000),
        ("1250", "EUR", 125_000),
        ("1250.5", "EUR", 125_050),
        ("0.01", "EUR", 1),
        ("0", "EUR", 0),
        ("007.10", "EUR", 710),
        ("1250", "JPY", 1_250),
        ("1.234", "KWD", 1_234),
        ("1.2", "KWD", 1_200),
        ("999999999999999", "JPY", MAX_MINOR_UNITS - 1),
        ("9999999999999.99", "EUR", MAX_MINOR_UNITS - 1),
    ],
)
def test_parse_amount(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("10.5", "JPY", 'JPY has 0 decimal places; "10.5" has 1'),
        ("10.0", "JPY", "JPY has 0 decimal places"),
        ("1.234", "EUR", 'EUR has 2 decimal places; "1.234" has 3'),
        ("1.2345", "KWD", "KWD has 3 decimal places"),
        ("10000000000000.00", "EUR", "is too large"),
        ("100000000000000", "EUR", "is too large"),
    ],
)
def test_parse_amount_refuses_more_precision_or_size_than_allowed(
    text: str, currency: str, message: str
) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount(text, currency)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-5.00",
        "+5.00",
        "1,000.00",
        "1.000,00",
        "1 000",
        "1e3",
        ".5",
        "5.",
        "1.23456",  # more decimals than any currency has
        " 1.00",
        "1.00 ",
        "1.00\n",  # ``$`` alone would let a trailing newline through
        "NaN",
        "Infinity",
        "0x10",
        "1_000",
        "١٢٣",  # Arabic-Indic digits: \d would accept them
        "\uff11\uff12\uff13",  # fullwidth digits
        "1234567890123456",  # 16 digits before the point
    ],
)
def test_parse_amount_refuses_anything_but_a_plain_decimal(text: str) -> None:
    with pytest.raises(AmountError, match="decimal string with a dot"):
        parse_amount(text, "EUR")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (125_000, "EUR", "1250.00"),
        (0, "EUR", "0.00"),
        (1, "EUR", "0.01"),
        (10, "EUR", "0.10"),
        (1_250, "JPY", "1250"),
        (0, "JPY", "0"),
        (1_234, "KWD", "1.234"),
        (1_200, "KWD", "1.200"),
        (MAX_MINOR_UNITS - 1, "EUR", "9999999999999.99"),
        (MAX_MINOR_UNITS - 1, "JPY", "999999999999999"),
    ],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    """Always the currency's full precision, never scientific notation."""
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
@pytest.mark.parametrize("minor", [0, 1, 9, 10, 99, 100, 101, 123_456_789, MAX_MINOR_UNITS - 1])
def test_round_trip(minor: int, currency: str) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor


@pytest.mark.parametrize(
    ("text", "currency", "canonical"),
    [("1250", "EUR", "1250.00"), ("1250.5", "EUR", "1250.50"), ("007", "JPY", "7")],
)
def test_parse_then_format_gives_the_canonical_text(
    text: str, currency: str, canonical: str
) -> None:
    assert format_amount(parse_amount(text, currency), currency) == canonical


@pytest.mark.parametrize(
    ("currency", "digits"),
    [
        ("EUR", 2),
        ("HUF", 2),
        ("IDR", 2),
        ("COP", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("IQD", 3),
        ("KWD", 3),
    ],
)
def test_minor_units_follow_iso_4217(currency: str, digits: int) -> None:
    """Not CLDR's cash digits: invoices in HUF or IDR are written with two decimals."""
    from duespark.kit.currencies import minor_digits

    assert minor_digits(currency) == digits
    assert parse_amount("1" + ("." + "5" * digits if digits else ""), currency) == int(
        "1" + "5" * digits
    )
