"""The insight rollup: one `ConversationInsight` row of facts per conversation, computed by the
pure definitions from the stored history. A pass recomputes conversations that changed since their
facts were computed, those whose facts wait on a time window, and the same customer's earlier
conversations (a new conversation may be their return). "The same customer" is the customer
record (`conversations.customer_ref`), so a return through another channel counts."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from bot.cme.insights.definitions import (
    DURABLE_WINDOW,
    EscalationRecord,
    Facts,
    History,
    Turn,
    facts,
)
from bot.storage import (
    Conversation,
    ConversationInsight,
    Csat,
    Database,
    Escalation,
    Feedback,
    Message,
    Role,
)
from bot.storage.store import decode_embedding
from escalation import OfficeHours

log = logging.getLogger(__name__)

CHUNK = 500  # ids per IN (...) query
SHOWN_ROLES = (Role.CUSTOMER, Role.BOT, Role.AGENT)


def _turn(row: Any, helpful: bool | None) -> Turn:
    decision = row.decision or {}
    scores = row.scores or {}
    codes = {r.get("code") for r in decision.get("reasons", ())}
    role = str(row.role)
    customer = role == Role.CUSTOMER
    return Turn(
        seq=row.seq,
        role=role,
        at=row.created_at,
        action=decision.get("action") if role == Role.BOT else None,
        small_talk=scores.get("small_talk") if customer else decision.get("small_talk"),
        off_topic="off_topic" in codes,
        frustration=scores.get("frustration") if customer else None,
        vector=decode_embedding(row.embedding) if customer else None,
        helpful=helpful,
    )


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def load_histories(session: Session, conversation_ids: Sequence[str]) -> list[History]:
    """The histories of these conversations, as the definitions see them."""
    histories = []
    for ids in _chunks(list(conversation_ids)):
        marks = {
            (c, s): h
            for c, s, h in session.execute(
                select(Feedback.conversation_id, Feedback.message_seq, Feedback.helpful).where(
                    Feedback.conversation_id.in_(ids)
                )
            )
        }
        ratings: dict[str, int] = dict(
            session.execute(
                select(Csat.conversation_id, Csat.rating)
                .where(Csat.conversation_id.in_(ids))
                .order_by(Csat.conversation_id, Csat.resolution)  # the latest resolution's counts
            ).all()
        )
        turns: dict[str, list[Turn]] = defaultdict(list)
        for row in session.execute(  # columns, not entities: a rollup reads millions of rows
            select(
                Message.conversation_id,
                Message.seq,
                Message.role,
                Message.created_at,
                Message.decision,
                Message.scores,
                Message.embedding,
            )
            .where(
                Message.conversation_id.in_(ids), Message.role.in_([r.value for r in SHOWN_ROLES])
            )
            .order_by(Message.conversation_id, Message.seq)
        ):
            helpful = marks.get((row.conversation_id, row.seq))
            turns[row.conversation_id].append(_turn(row, helpful))
        escalations: dict[str, list[EscalationRecord]] = defaultdict(list)
        for escalation in session.scalars(
            select(Escalation).where(Escalation.conversation_id.in_(ids)).order_by(Escalation.id)
        ):
            escalations[escalation.conversation_id].append(
                EscalationRecord(
                    created_at=escalation.created_at,
                    first_response_at=escalation.first_response_at,
                    reasons=tuple(r.get("code", "") for r in escalation.reasons or ()),
                )
            )
        for conversation in session.scalars(select(Conversation).where(Conversation.id.in_(ids))):
            reopened = conversation.reopened_after_s
            histories.append(
                History(
                    id=conversation.id,
                    channel=conversation.channel,
                    customer_id=conversation.customer_id,
                    created_at=conversation.created_at,
                    turns=turns.get(conversation.id, []),
                    escalations=escalations.get(conversation.id, []),
                    csat=ratings.get(conversation.id),
                    resolved_at=conversation.resolved_at,
                    reopened_after=timedelta(seconds=reopened) if reopened is not None else None,
                    reopened_from=conversation.reopened_from,
                    customer_ref=conversation.customer_ref,
                )
            )
    return histories


def _stale_ids(session: Session, now: datetime) -> list[str]:
    return list(
        session.scalars(
            select(Conversation.id)
            .outerjoin(ConversationInsight)
            .where(
                or_(
                    ConversationInsight.conversation_id.is_(None),
                    Conversation.updated_at > ConversationInsight.source_updated_at,
                    ConversationInsight.recheck_at <= now,
                )
            )
        )
    )


def _with_neighbours(session: Session, stale: list[str]) -> list[str]:
    """The stale conversations plus the same customers' conversations a return may concern (by
    customer record, across channels), ordered by customer and start (a batch then holds a
    customer's conversations together)."""
    found: dict[str, tuple[int, datetime]] = {}
    earliest: dict[int, datetime] = {}
    for ids in _chunks(stale):
        for cid, customer_ref, created_at in session.execute(
            select(Conversation.id, Conversation.customer_ref, Conversation.created_at).where(
                Conversation.id.in_(ids)
            )
        ):
            found[cid] = (customer_ref or 0, created_at)
            if customer_ref is not None:
                earliest[customer_ref] = min(created_at, earliest.get(customer_ref, created_at))
    reach = DURABLE_WINDOW + timedelta(days=1)
    for customers in _chunks(sorted(earliest)):
        for cid, customer_ref, created_at in session.execute(
            select(Conversation.id, Conversation.customer_ref, Conversation.created_at).where(
                Conversation.customer_ref.in_(customers)
            )
        ):
            if created_at >= earliest[customer_ref] - reach:
                found[cid] = (customer_ref, created_at)
    return sorted(found, key=lambda cid: found[cid])


def _later(session: Session, histories: list[History]) -> dict[int, list[History]]:
    """Each customer record's conversations (in any channel) that a return window of
    `histories` may reach."""
    by_customer: dict[int, list[History]] = defaultdict(list)
    known = {h.id for h in histories}
    for history in histories:
        if history.customer_ref is not None:
            by_customer[history.customer_ref].append(history)
    spans = {
        customer_ref: (min(h.ended_at for h in own), max(h.ended_at for h in own) + DURABLE_WINDOW)
        for customer_ref, own in by_customer.items()
    }
    extra: list[str] = []
    for customers in _chunks(sorted(spans)):
        for cid, customer_ref, created_at in session.execute(
            select(Conversation.id, Conversation.customer_ref, Conversation.created_at).where(
                Conversation.customer_ref.in_(customers)
            )
        ):
            start, end = spans[customer_ref]
            if cid not in known and start < created_at <= end:
                extra.append(cid)
    for history in load_histories(session, extra):
        if history.customer_ref is not None:
            by_customer[history.customer_ref].append(history)
    return by_customer


def compute(
    session: Session,
    conversation_ids: Sequence[str],
    *,
    now: datetime,
    hours: OfficeHours,
    sla_s: int,
    similarity: float,
) -> list[Facts]:
    """The facts of these conversations as of `now` (read only)."""
    histories = load_histories(session, conversation_ids)
    later = _later(session, histories)
    return [
        facts(
            history,
            later.get(history.customer_ref, []) if history.customer_ref is not None else [],
            as_of=now,
            hours=hours,
            sla_s=sla_s,
            similarity=similarity,
        )
        for history in histories
    ]


def _row(fact: Facts, source_updated_at: datetime, now: datetime) -> dict:
    return {
        "conversation_id": fact.conversation_id,
        "channel": fact.channel,
        "customer_id": fact.customer_id,
        "started_at": fact.started_at,
        "day": fact.started_at.astimezone(UTC).date().isoformat(),
        "ended_at": fact.ended_at,
        "counted": fact.counted,
        "bot_answered": fact.bot_answered,
        "ended_not_found": fact.ended_not_found,
        "human_involved": fact.human_involved,
        "confirmed": fact.confirmed,
        "assumed": fact.assumed,
        "durable": fact.durable,
        "escalated": fact.escalated,
        "escalated_at": fact.escalated_at,
        "reasons": list(fact.reasons),
        "first_response_s": fact.first_response_s,
        "sla_met": fact.sla_met,
        "resolved": fact.resolved,
        "csat": fact.csat,
        "frustration_peak": fact.frustration_peak,
        "hour_of_week": fact.hour_of_week,
        "recheck_at": fact.recheck_at,
        "source_updated_at": source_updated_at,
        "computed_at": now,
    }


def refresh(
    db: Database,
    *,
    now: datetime,
    hours: OfficeHours,
    sla_s: int,
    similarity: float,
    batch: int = 2000,
) -> int:
    """Recompute the facts of changed conversations (and their neighbours); returns how many."""
    with db.read() as session:
        stale = _stale_ids(session, now)
        if not stale:
            return 0
        ids = _with_neighbours(session, stale)
    done = 0
    for start in range(0, len(ids), batch):
        part = ids[start : start + batch]
        with db.read() as session:
            updated = {
                cid: at
                for chunk in _chunks(part)
                for cid, at in session.execute(
                    select(Conversation.id, Conversation.updated_at).where(
                        Conversation.id.in_(chunk)
                    )
                )
            }
            computed = compute(
                session, part, now=now, hours=hours, sla_s=sla_s, similarity=similarity
            )
        rows = [
            _row(f, updated[f.conversation_id], now)
            for f in computed
            if f.conversation_id in updated
        ]
        with db.write() as session:
            for chunk in _chunks([r["conversation_id"] for r in rows]):
                session.execute(
                    delete(ConversationInsight).where(
                        ConversationInsight.conversation_id.in_(chunk)
                    )
                )
            if rows:
                session.execute(ConversationInsight.__table__.insert(), rows)
        done += len(rows)
    return done
