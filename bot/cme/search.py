"""Search over every conversation: words in any message (notes included) or the customer's
name, email or id, an article the bot cited, the status and a date range."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, cast, or_, select

from bot.cme.context import queue_items
from bot.cme.schemas import SearchRow
from bot.runtime import Bot
from bot.storage import Conversation, Message

MAX_WORDS = 8
MAX_RESULTS = 50
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class ConversationQuery:
    """What a CME searches for; every given part must match."""

    text: str = ""
    status: str | None = None
    article_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _like(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _snippet(text: str, word: str) -> str:
    at = text.lower().find(word.lower())
    start = max(0, at - SNIPPET_CHARS // 3) if at >= 0 else 0
    piece = text[start : start + SNIPPET_CHARS].replace("\n", " ")
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(text) else "")


def search_conversations(bot: Bot, query: ConversationQuery) -> list[SearchRow]:
    """Matching conversations, newest first, each with the message that matched."""
    words = query.text.lower().split()[:MAX_WORDS]
    statement = select(Conversation)
    for word in words:
        pattern = _like(word)
        in_messages = select(Message.conversation_id).where(
            Message.text.ilike(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                Conversation.id.in_(in_messages),
                Conversation.customer_name.ilike(pattern, escape="\\"),
                Conversation.customer_email.ilike(pattern, escape="\\"),
                Conversation.customer_id.ilike(pattern, escape="\\"),
            )
        )
    if query.status:
        statement = statement.where(Conversation.status == query.status)
    if query.article_id:
        cited = select(Message.conversation_id).where(
            cast(Message.citations, Text).contains(json.dumps(query.article_id))
        )
        statement = statement.where(Conversation.id.in_(cited))
    if query.since:
        statement = statement.where(Conversation.created_at >= query.since)
    if query.until:
        statement = statement.where(Conversation.created_at < query.until)
    statement = statement.order_by(Conversation.created_at.desc(), Conversation.id).limit(
        MAX_RESULTS
    )
    now = bot.clock()
    rows = []
    with bot.db.read() as session:
        conversations = session.scalars(statement).all()
        cards = queue_items(bot, session, conversations, now)
        for conversation, item in zip(conversations, cards, strict=True):
            match = None
            if words:
                hit = session.scalars(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation.id,
                        Message.text.ilike(_like(words[0]), escape="\\"),
                    )
                    .order_by(Message.seq)
                ).first()
                match = _snippet(hit.text, words[0]) if hit else None
            rows.append(SearchRow(**item.model_dump(), match=match))
    return rows
