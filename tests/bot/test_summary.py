"""The conversation summary CMEs see, in the console and in Slack alike."""

from __future__ import annotations

from bot.conversation import Summary, summarize
from bot.storage import Message, Role


def _customer(text: str, small_talk: str | None = None) -> Message:
    return Message(role=Role.CUSTOMER, text=text, scores={"small_talk": small_talk})


def test_summary_skips_small_talk_and_keeps_the_latest_message():
    messages = [
        _customer("hi", "greeting"),
        Message(role=Role.BOT, text="Hi! What can I help you with?"),
        _customer("my export fails with an error"),
        _customer("hello?"),
    ]
    assert summarize(messages) == Summary("my export fails with an error", "hello?")
    assert summarize([]) == Summary(None, None)


def test_main_question_is_the_longest_of_the_first_three_questions():
    messages = [
        _customer(text) for text in ("short one", "a much longer question", "mid one", "x" * 99)
    ]
    assert summarize(messages).main_question == "a much longer question"
