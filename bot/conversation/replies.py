"""What the bot says. Kept in one place so wording changes never touch the pipeline."""

from __future__ import annotations

from datetime import datetime

from escalation import Decision, OfficeHours
from retrieval import SearchResult

SMALL_TALK = {
    "greeting": "Hi! I'm {name}. What can I help you with?",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "goodbye": "Thanks for getting in touch. Have a great day!",
    "chitchat": "I'm {name}, doing well, thanks! What can I help you with today?",
}
# The widget has already greeted the customer under the bot's name: a "hi" there gets no
# second introduction.
GREETED_CHANNELS = {"web"}
GREETING_AGAIN = "Hi! What can I help you with?"

CLARIFY = (
    "I couldn't find an article that answers that. Could you rephrase it or add a detail or two? "
    "If you'd rather talk to a person, just say so."
)

OFF_TOPIC = (
    "That's outside what I can help with here: I answer questions about our product from the "
    "help centre. Is there something about your account, billing or the app I can help with?"
)

OFFER_PERSON = "If this doesn't solve it, just say so and I'll bring in a person from our team."

HANDOFF = (
    "I'm bringing in a member of our support team; they'll see everything you've written here. "
    "A person usually replies within {wait}."
)

AWAY = (
    "Our support team is offline right now; a person will pick this up {when}. They'll see "
    "everything you've written here. If you'd like an answer by email, leave your email address "
    "in this chat."
)

MAX_PASSAGE_CHARS = 1500


def answer_text(result: SearchResult, *, offer_person: bool = False) -> str:
    """The top passage, trimmed, followed by its citation (and the offer of a person)."""
    hit = result.hits[0]
    passage = hit.passage.strip()
    if len(passage) > MAX_PASSAGE_CHARS:
        cut = passage.rfind("\n", 0, MAX_PASSAGE_CHARS)
        passage = passage[: cut if cut > 200 else MAX_PASSAGE_CHARS].rstrip() + "\n\n…"
    source = hit.title if not hit.section else f"{hit.title} › {hit.section}"
    text = f"{passage}\n\nSource: [{source}]({hit.url})"
    return f"{text}\n\n{OFFER_PERSON}" if offer_person else text


def small_talk_text(kind: str | None, *, bot_name: str, channel: str) -> str:
    """A friendly reply to small talk, under the bot's one name (BOT_NAME)."""
    if kind in (None, "greeting") and channel in GREETED_CHANNELS:
        return GREETING_AGAIN
    template = SMALL_TALK.get(kind or "", SMALL_TALK["greeting"])
    return template.format(name=bot_name)


def decline_text(decision: Decision) -> str:
    """What the bot says when it does not answer: off-topic, or not found (offering a person)."""
    return OFF_TOPIC if decision.off_topic else CLARIFY


def citations(result: SearchResult) -> list[dict[str, str]]:
    """The citation of the answer (the top article)."""
    hit = result.hits[0]
    return [
        {"article_id": hit.article_id, "title": hit.title, "section": hit.section, "url": hit.url}
    ]


def handoff_text(hours: OfficeHours, now: datetime, first_response_s: int) -> str:
    """The once-only notice that a human is coming: the expected wait, or when the team is back."""
    opens = hours.next_open(now)
    if opens is None:
        minutes = max(1, round(first_response_s / 60))
        return HANDOFF.format(wait=f"{minutes} minute{'s' if minutes != 1 else ''}")
    when = opens.strftime("%A at %H:%M") + f" ({opens.tzname()})"
    if opens.date() == now.astimezone(opens.tzinfo).date():
        when = "today at " + opens.strftime("%H:%M") + f" ({opens.tzname()})"
    return AWAY.format(when=when)
