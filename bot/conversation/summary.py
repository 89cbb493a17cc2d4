"""The one-line summary a CME sees of a conversation, in the console and in Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.storage import Message, Role


@dataclass(frozen=True)
class Summary:
    main_question: str | None
    latest_message: str | None


def summarize(messages: Sequence[Message]) -> Summary:
    """The main question (the longest of the customer's first three substantive messages, small
    talk skipped) and the customer's latest message."""
    customer = [m for m in messages if m.role == Role.CUSTOMER]
    substantive = [m.text for m in customer if not (m.scores or {}).get("small_talk")]
    return Summary(
        main_question=max(substantive[:3], key=len) if substantive else None,
        latest_message=customer[-1].text if customer else None,
    )
