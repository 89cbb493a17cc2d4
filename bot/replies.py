"""What the bot says. Kept in one place so wording changes never touch the pipeline."""

from __future__ import annotations

from retrieval import SearchResult

SMALL_TALK = {
    "greeting": "Hi! I'm the support assistant. What can I help you with?",
    "thanks": "You're welcome! Is there anything else I can help with?",
    "goodbye": "Thanks for getting in touch. Have a great day!",
}

CLARIFY = (
    "I couldn't find an article that answers that. Could you rephrase it or add a detail or two? "
    "If you'd rather talk to a person, just say so."
)

HANDOFF = (
    "I'm bringing in a member of our support team; they'll see everything you've written here. "
    "A person usually replies within {wait}."
)

MAX_PASSAGE_CHARS = 1500


def answer_text(result: SearchResult) -> str:
    """The top passage, trimmed, followed by its citation."""
    hit = result.hits[0]
    passage = hit.passage.strip()
    if len(passage) > MAX_PASSAGE_CHARS:
        cut = passage.rfind("\n", 0, MAX_PASSAGE_CHARS)
        passage = passage[: cut if cut > 200 else MAX_PASSAGE_CHARS].rstrip() + "\n\n…"
    source = hit.title if not hit.section else f"{hit.title} › {hit.section}"
    return f"{passage}\n\nSource: [{source}]({hit.url})"


def citations(result: SearchResult) -> list[dict[str, str]]:
    """The citation of the answer (the top article)."""
    hit = result.hits[0]
    return [{"article_id": hit.article_id, "title": hit.title, "section": hit.section, "url": hit.url}]


def handoff_text(expected_wait: str) -> str:
    """The once-only notice that a human is coming."""
    return HANDOFF.format(wait=expected_wait)
