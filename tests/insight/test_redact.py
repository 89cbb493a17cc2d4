"""Redaction before a conversation becomes an article."""

from __future__ import annotations

import pytest

from insight.redact import luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+x@example.co.uk today", "write to [email] today"),
        ("call me on +44 20 7946 0958", "call me on [phone]"),
        ("my number is (555) 123-4567.", "my number is [phone]."),
        ("card 4111 1111 1111 1111 was charged", "card [card number] was charged"),
        ("card 4111-1111-1111-1111", "card [card number]"),
        ("5500005555555559", "[card number]"),
        ("order #A-123456 is late", "order #[order number] is late"),
        ("my order number: 987654 is late", "my order number: [order number] is late"),
        ("ORD-20931 shipped", "[order number] shipped"),
        ("reference #1234567", "reference [order number]"),
    ],
)
def test_personal_data_is_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Refunds take 5 to 10 business days.",
        "Go to Settings > Billing and choose Export.",
        "Check your order status under Orders.",
        "It costs 1,000 dollars in 2024",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_a_number_failing_the_luhn_check_is_not_a_card() -> None:
    assert not luhn_valid("4111111111111112")
    assert luhn_valid("4111111111111111")
    # 16 digits failing the check: no card, and too long for a phone number.
    assert redact("id 4111111111111112") == "id 4111111111111112"
