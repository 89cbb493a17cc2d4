"""Redaction of personal data in text that becomes an article: e-mail addresses, phone numbers,
card numbers (Luhn-valid runs of 13-19 digits) and order numbers."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# 13-19 digits, optionally grouped by single spaces or dashes.
CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
# "order 12345", "order #A-12345", "order number: 12345", "ORD-12345", "#12345678"
ORDER = re.compile(
    r"\b(?:order|ord|invoice|ticket)(?:\s*(?:no\.?|number|num|id|#))?\s*[:#]?\s*"
    r"([A-Z0-9][A-Z0-9-]{3,})\b|\bORD-?\d{4,}\b|(?<!\w)#\d{5,}\b",
    re.IGNORECASE,
)
# +country, area codes in brackets, separators; at least 7 digits in all.
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{5,}\d(?!\w)")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a card number (digits only)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card number]" if luhn_valid(digits) else match.group(0)


def _order(match: re.Match[str]) -> str:
    if match.group(1) is not None and not any(c.isdigit() for c in match.group(1)):
        return match.group(0)  # "order status", "order history": words, not numbers
    prefix = match.group(0)[: match.start(1) - match.start(0)] if match.group(1) else ""
    return f"{prefix}[order number]"


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[phone]" if 7 <= len(digits) <= 15 else match.group(0)


def redact(text: str) -> str:
    """`text` with e-mails, card numbers, order numbers and phone numbers replaced."""
    text = EMAIL.sub("[email]", text)
    text = CARD.sub(_card, text)
    text = ORDER.sub(_order, text)
    return PHONE.sub(_phone, text)
