"""Store functions for labelled examples learnt from outcomes (`OutcomeExample`). Keyword-only,
flush, never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from bot.storage.models import OutcomeExample, OutcomeSource, utcnow
from bot.storage.store import NotFound

# Sources a customer's own actions produce; a cap per customer bounds what one person (or one
# script posing as many conversations of one customer) can teach the bot.
CUSTOMER_SOURCES = (
    OutcomeSource.THUMBS_UP,
    OutcomeSource.THUMBS_DOWN,
    OutcomeSource.REPHRASE,
    OutcomeSource.ESCALATED_AFTER_ANSWER,
)


def record_example(
    session: Session,
    *,
    kb: str,
    query: str,
    article_id: str | None,
    article_version: str | None,
    source: OutcomeSource,
    polarity: int,
    weight: float,
    customer_id: str | None,
    conversation_id: str,
    message_seq: int,
    author_id: int | None = None,
    customer_cap: int,
    at: datetime | None = None,
) -> OutcomeExample | None:
    """Store the outcome of one customer question (`conversation_id`, `message_seq`).

    One example per question: a later outcome replaces an earlier one unless it weighs less (a
    CME's choice outranks the customer's thumb). Customer-sourced examples beyond
    `customer_cap` per customer (or conversation, for anonymous ones) are not stored; returns
    None when nothing was stored."""
    existing = session.scalars(
        select(OutcomeExample).where(
            OutcomeExample.kb == kb,
            OutcomeExample.conversation_id == conversation_id,
            OutcomeExample.message_seq == message_seq,
        )
    ).first()
    if existing is not None and existing.weight > weight:
        return None
    if existing is None and source in CUSTOMER_SOURCES:
        owner = (
            OutcomeExample.customer_id == customer_id
            if customer_id
            else OutcomeExample.conversation_id == conversation_id
        )
        count = session.scalar(
            select(func.count()).where(
                OutcomeExample.kb == kb,
                owner,
                OutcomeExample.source.in_([str(s) for s in CUSTOMER_SOURCES]),
            )
        )
        if (count or 0) >= customer_cap:
            return None
    example = existing or OutcomeExample(
        kb=kb, conversation_id=conversation_id, message_seq=message_seq
    )
    example.query = query
    example.article_id = article_id
    example.article_version = article_version
    example.source = str(source)
    example.polarity = 1 if polarity >= 0 else -1
    example.weight = weight
    example.customer_id = customer_id
    example.author_id = author_id
    example.created_at = at or utcnow()
    if existing is None:
        session.add(example)
    session.flush()
    return example


def list_examples(
    session: Session, *, kb: str, limit: int | None = None
) -> Sequence[OutcomeExample]:
    """A KB's examples, newest first."""
    statement = (
        select(OutcomeExample)
        .where(OutcomeExample.kb == kb)
        .order_by(OutcomeExample.created_at.desc(), OutcomeExample.id.desc())
    )
    if limit is not None:
        statement = statement.limit(limit)
    return session.scalars(statement).all()


def delete_example(session: Session, *, kb: str, example_id: int) -> OutcomeExample:
    """Remove one example (a CME's or editor's undo); NotFound if it is not this KB's."""
    example = session.get(OutcomeExample, example_id)
    if example is None or example.kb != kb:
        raise NotFound(f"labelled example {example_id} does not exist")
    session.delete(example)
    session.flush()
    return example


def erase_examples(
    session: Session, *, customer_id: str | None, conversation_ids: Sequence[str]
) -> dict[str, int]:
    """Delete every example from this customer (when given) or these conversations (erasure,
    retention)."""
    conditions = [] if customer_id is None else [OutcomeExample.customer_id == customer_id]
    if conversation_ids:
        conditions.append(OutcomeExample.conversation_id.in_(list(conversation_ids)))
    if not conditions:
        return {"outcome_examples": 0}
    removed = session.execute(delete(OutcomeExample).where(or_(*conditions))).rowcount
    return {"outcome_examples": removed}
