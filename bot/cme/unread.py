"""Unread counts: per CME and conversation, the customer messages that CME has not seen yet.

A CME's read mark on a conversation (`conversation_reads`, one row per CME and conversation) is
the highest message seq they have seen; opening the conversation in the console moves it. The
mark only ever moves forward, also when two instances write it at once (one upsert), so what
the queue counts is the same on every instance. Store functions: keyword-only, flush, never
commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.storage import Conversation, ConversationRead, Message, NotFound, Role


def mark_read(
    session: Session,
    *,
    user_id: int,
    conversation_id: str,
    now: datetime,
    seq: int | None = None,
) -> int:
    """Move this CME's read mark on the conversation to `seq` (default: its latest message;
    never past it, never backwards); returns the mark now stored."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    upto = conversation.last_seq if seq is None else max(0, min(seq, conversation.last_seq))
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    statement = insert(ConversationRead).values(
        user_id=user_id, conversation_id=conversation_id, last_read_seq=upto, read_at=now
    )
    later = statement.excluded.last_read_seq > ConversationRead.last_read_seq
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[ConversationRead.user_id, ConversationRead.conversation_id],
            set_={
                "last_read_seq": case(
                    (later, statement.excluded.last_read_seq),
                    else_=ConversationRead.last_read_seq,
                ),
                "read_at": statement.excluded.read_at,
            },
        )
    )
    session.flush()
    return int(
        session.scalar(
            select(ConversationRead.last_read_seq).where(
                ConversationRead.user_id == user_id,
                ConversationRead.conversation_id == conversation_id,
            )
        )
        or 0
    )


def unread_counts(
    session: Session, *, user_id: int, conversation_ids: Iterable[str]
) -> dict[str, int]:
    """Customer messages after this CME's read mark, by conversation (absent: none unread)."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    mark = and_(
        ConversationRead.conversation_id == Message.conversation_id,
        ConversationRead.user_id == user_id,
    )
    rows = session.execute(
        select(Message.conversation_id, func.count())
        .outerjoin(ConversationRead, mark)
        .where(
            Message.conversation_id.in_(ids),
            Message.role == Role.CUSTOMER,
            Message.seq > func.coalesce(ConversationRead.last_read_seq, 0),
        )
        .group_by(Message.conversation_id)
    ).all()
    return {conversation_id: int(count) for conversation_id, count in rows}
