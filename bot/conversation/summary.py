"""The one-line summary a CME sees of a conversation, in the console and in Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage import Message, Role


@dataclass(frozen=True)
class Summary:
    main_question: str | None
    latest_message: str | None


def _substantive(message: Message) -> bool:
    """A question or answer of the customer's: not small talk, not a file (its text is a name)."""
    return not (message.scores or {}).get("small_talk") and not message.attachments


def summarize(messages: Sequence[Message]) -> Summary:
    """The main question (the longest of the customer's first three substantive messages, small
    talk and files skipped) and the customer's latest message."""
    customer = [m for m in messages if m.role == Role.CUSTOMER]
    substantive = [m.text for m in customer if _substantive(m)]
    return Summary(
        main_question=max(substantive[:3], key=len) if substantive else None,
        latest_message=customer[-1].text if customer else None,
    )


SUGGESTION_QUERY_CHARS = 1000  # the bundled model reads about 256 tokens


def suggestion_query(messages: Sequence[Message]) -> str | None:
    """What canned-reply suggestions search for: the main question, then the customer's latest
    substantive turns, so "It's INV-2041" is read with the invoice question it answers."""
    customer = [m for m in messages if m.role == Role.CUSTOMER]
    substantive = [m.text for m in customer if _substantive(m)]
    if not substantive:
        return customer[-1].text if customer else None
    main = summarize(messages).main_question or ""
    parts = [main]
    budget = SUGGESTION_QUERY_CHARS - len(main)
    latest: list[str] = []
    for text in reversed(substantive):
        if text == main or budget - len(text) < 0:
            continue
        latest.append(text)
        budget -= len(text) + 1
        if len(latest) == 3:
            break
    return "\n".join(parts + latest[::-1])[:SUGGESTION_QUERY_CHARS]
