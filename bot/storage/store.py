"""Storage functions. Keyword-only, typed; they flush but never commit: callers own transactions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from bot.storage import customers
from bot.storage.models import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    Conversation,
    ConversationInsight,
    Csat,
    Escalation,
    Feedback,
    Message,
    Role,
    utcnow,
)
from escalation import Status, Transition, transition

CUSTOMER_VISIBLE_ROLES = (Role.CUSTOMER, Role.BOT, Role.AGENT, Role.SYSTEM)


class StoreError(Exception):
    """Base class for storage errors that map to 4xx."""


class Unauthorized(StoreError):
    """No credentials were given."""


class NotFound(StoreError):
    """The conversation or message does not exist."""


class Forbidden(StoreError):
    """The credentials do not grant access to this conversation."""


class Conflict(StoreError):
    """The request conflicts with stored state (e.g. CSAT already given)."""


@dataclass(frozen=True)
class CustomerIdentity:
    id: str | None = None
    name: str | None = None
    email: str | None = None
    verified: bool = False
    vip: bool = False
    company: str | None = None
    # The widget's per-browser id: one customer per browser for those not verified.
    visitor_id: str | None = None


def _fitting(value: str | None, limit: int) -> str | None:
    return value if value is not None and len(value) <= limit else None


def customer_conversation_ids(session: Session, *, customer_id: str) -> list[str]:
    """Ids of every conversation of this customer."""
    return list(
        session.scalars(
            select(Conversation.id)
            .where(Conversation.customer_id == customer_id)
            .order_by(Conversation.created_at)
        )
    )


# Keys of stored evidence (scores, decisions, retrieval, escalation reasons) that may quote what a
# customer wrote; anonymising drops them and keeps the numbers, codes and article ids.
_QUOTING_KEYS = frozenset({"detail", "query", "text", "quote", "summary"})


def _without_quotes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_quotes(v) for k, v in value.items() if k not in _QUOTING_KEYS}
    if isinstance(value, list):
        return [_without_quotes(item) for item in value]
    return value


def anonymise_conversations(session: Session, *, conversation_ids: list[str]) -> int:
    """Strip everything personal from these conversations (texts, vectors, identity, comments,
    quoted evidence) and keep what aggregates count: statuses, times, roles, scores, decisions,
    escalations, ratings. The customer's token stops working. Returns how many were anonymised."""
    if not conversation_ids:
        return 0
    now = utcnow()
    for conversation in session.scalars(
        select(Conversation).where(Conversation.id.in_(conversation_ids))
    ):
        conversation.customer_id = conversation.customer_name = None
        conversation.customer_email = conversation.customer_company = None
        conversation.channel_ref = conversation.customer_ref = None
        conversation.token_hash = hash_token(secrets.token_urlsafe(32))
        conversation.anonymised_at = now
    for message in session.scalars(
        select(Message).where(Message.conversation_id.in_(conversation_ids))
    ):
        message.text = ""
        message.embedding = None
        message.client_msg_id = None
        message.scores = _without_quotes(message.scores)
        message.decision = _without_quotes(message.decision)
        message.retrieval = _without_quotes(message.retrieval)
    for escalation in session.scalars(
        select(Escalation).where(Escalation.conversation_id.in_(conversation_ids))
    ):
        escalation.reasons = _without_quotes(escalation.reasons)
    session.execute(
        update(Csat).where(Csat.conversation_id.in_(conversation_ids)).values(comment=None)
    )
    session.flush()
    return len(conversation_ids)


def erase_conversations(session: Session, *, conversation_ids: list[str]) -> dict[str, int]:
    """Delete these conversations with their messages, escalations, feedback and CSAT; the
    number of rows removed, by table."""
    removed = {"conversations": 0, "messages": 0, "escalations": 0, "feedback": 0, "csat": 0}
    if not conversation_ids:
        return removed
    for name, model in (
        ("messages", Message),
        ("escalations", Escalation),
        ("feedback", Feedback),
        ("csat", Csat),
    ):
        removed[name] = session.execute(
            delete(model).where(model.conversation_id.in_(conversation_ids))
        ).rowcount
    session.execute(  # derived facts (they carry the customer id): not a table of record
        delete(ConversationInsight).where(ConversationInsight.conversation_id.in_(conversation_ids))
    )
    session.execute(  # a later conversation of someone else never points at an erased one
        update(Conversation)
        .where(
            Conversation.reopened_from.in_(conversation_ids),
            Conversation.id.not_in(conversation_ids),
        )
        .values(reopened_from=None)
    )
    session.execute(
        update(Conversation).where(Conversation.id.in_(conversation_ids)).values(reopened_from=None)
    )
    removed["conversations"] = session.execute(
        delete(Conversation).where(Conversation.id.in_(conversation_ids))
    ).rowcount
    return removed


def hash_token(token: str) -> str:
    """SHA-256 hex of a bearer token; only hashes are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_conversation(
    session: Session,
    *,
    customer: CustomerIdentity | None = None,
    channel: str = "web",
    channel_ref: str | None = None,
    reopened_from: str | None = None,
    now: datetime | None = None,
) -> tuple[Conversation, str]:
    """Create a conversation and return it with its bearer token (shown once)."""
    customer = customer or CustomerIdentity()
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    company = customer.company[:MAX_NAME_CHARS] if customer.company and customer.verified else None
    record = customers.resolve_customer(
        session,
        keys=customers.keys_for(
            channel=channel,
            customer_id=customer.id,
            email=customer.email,
            verified=customer.verified,
            visitor_id=customer.visitor_id,
        ),
        name=customer.name,
        company=company,
        vip=customer.vip and customer.verified,
        now=now,
    )
    conversation = Conversation(
        id=uuid.uuid4().hex,
        token_hash=hash_token(token),
        channel=channel,
        channel_ref=channel_ref,
        customer_id=customer.id,
        # Names and e-mails from a channel's profile are hints: kept only as far as they fit.
        customer_name=customer.name[:MAX_NAME_CHARS] if customer.name else None,
        customer_email=_fitting(customer.email, MAX_EMAIL_CHARS),
        customer_company=company,
        customer_verified=customer.verified,
        customer_ref=record.id,
        vip=customer.vip and customer.verified,
        status=Status.BOT,
        last_seq=0,
        bot_since_seq=0,
        reopened_from=reopened_from,
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    return conversation, token


def authorize(session: Session, *, conversation_id: str, token: str) -> Conversation:
    """Return the conversation if `token` is its token; NotFound or Forbidden otherwise."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    if not hmac.compare_digest(conversation.token_hash, hash_token(token)):
        raise Forbidden("this token does not grant access to this conversation")
    return conversation


def get_conversation(session: Session, *, conversation_id: str, lock: bool = False) -> Conversation:
    """Load a conversation, optionally locking its row for the rest of the transaction."""
    statement = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        statement = statement.with_for_update()
    conversation = session.scalars(statement.execution_options(populate_existing=True)).first()
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} does not exist")
    return conversation


def allocate_seq(session: Session, *, conversation_id: str, at: datetime) -> int:
    """Atomically take the next per-conversation sequence number (row-locks the conversation)
    and mark the conversation updated at `at`, in one statement."""
    seq = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, updated_at=at)
        .returning(Conversation.last_seq)
    ).scalar_one()
    return int(seq)


def add_message(
    session: Session,
    *,
    conversation_id: str,
    role: Role,
    text: str,
    client_msg_id: str | None = None,
    reply_to: int | None = None,
    author_id: int | None = None,
    at: datetime | None = None,
    citations: list[dict[str, Any]] | None = None,
    confidence: float | None = None,
    scores: dict[str, Any] | None = None,
    retrieval: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
) -> Message:
    """Append a message with the next sequence number."""
    at = at or utcnow()
    seq = allocate_seq(session, conversation_id=conversation_id, at=at)
    message = Message(
        conversation_id=conversation_id,
        seq=seq,
        role=role,
        text=text,
        client_msg_id=client_msg_id,
        reply_to=reply_to,
        author_id=author_id,
        created_at=at,
        citations=citations or [],
        confidence=confidence,
        scores=scores,
        retrieval=retrieval,
        decision=decision,
        attachments=[],  # loaded, so that a detached message still shows its (no) files
    )
    session.add(message)
    session.flush()
    return message


def find_by_client_msg_id(
    session: Session, *, conversation_id: str, client_msg_id: str
) -> Message | None:
    """The customer message already stored under this client_msg_id, if any."""
    return session.scalars(
        select(Message).where(
            Message.conversation_id == conversation_id, Message.client_msg_id == client_msg_id
        )
    ).first()


def find_reply(session: Session, *, conversation_id: str, seq: int) -> Message | None:
    """The bot's reply to customer message `seq`, if one was committed."""
    return session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.reply_to == seq)
    ).first()


def list_messages(
    session: Session, *, conversation_id: str, after: int = 0, internal: bool = False
) -> Sequence[Message]:
    """Messages after `after` in order; notes only when `internal`."""
    statement = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after)
        .order_by(Message.seq)
    )
    if not internal:
        statement = statement.where(Message.role.in_([r.value for r in CUSTOMER_VISIBLE_ROLES]))
    return session.scalars(statement).all()


def unscored_turns(session: Session, *, since: datetime, before: datetime) -> Sequence[Message]:
    """Customer messages stored in [since, before) whose turn never finished (no scores), each
    the latest customer message of a conversation that is not resolved (files are no turns)."""
    latest = (
        select(func.max(Message.seq))
        .where(
            Message.conversation_id == Conversation.id,
            Message.role == Role.CUSTOMER,
            ~Message.attachments.any(),
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    return session.scalars(
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.role == Role.CUSTOMER,
            # JSON columns store None as JSON null, not SQL NULL.
            or_(Message.scores.is_(None), cast(Message.scores, Text) == "null"),
            Message.created_at >= since,
            Message.created_at < before,
            Conversation.status != Status.RESOLVED,
            Message.seq == latest,
            ~Message.attachments.any(),  # a file is not a turn
        )
        .order_by(Message.created_at)
        .limit(100)
    ).all()


def get_message(session: Session, *, conversation_id: str, seq: int) -> Message:
    """One message by sequence number."""
    message = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id, Message.seq == seq)
    ).first()
    if message is None:
        raise NotFound(f"message {seq} does not exist in this conversation")
    return message


def save_turn_scores(
    session: Session,
    *,
    message: Message,
    scores: dict[str, Any],
    embedding: np.ndarray | None,
    embedding_model: str | None = None,
    retrieval: dict[str, Any] | None = None,
    decision: dict[str, Any] | None = None,
) -> None:
    """Store what the pipeline computed for a customer message (`embedding_model` made the
    vector)."""
    message.scores = scores
    if embedding is not None:
        message.embedding = np.asarray(embedding, dtype=np.float32).tobytes()
        message.embedding_model = embedding_model
    if retrieval is not None:
        message.retrieval = retrieval
    if decision is not None:
        message.decision = decision
    session.flush()


def decode_embedding(blob: bytes | None) -> np.ndarray | None:
    """The stored float32 vector of a message, if any."""
    return None if blob is None else np.frombuffer(blob, dtype=np.float32)


def helpful_marks(session: Session, *, conversation_id: str) -> dict[int, bool]:
    """Feedback given on bot messages, by message seq."""
    rows = session.execute(
        select(Feedback.message_seq, Feedback.helpful).where(
            Feedback.conversation_id == conversation_id
        )
    ).all()
    return dict(rows)


def record_feedback(session: Session, *, conversation_id: str, seq: int, helpful: bool) -> Feedback:
    """Record (or change) the customer's helpful / not helpful mark on a bot message."""
    message = get_message(session, conversation_id=conversation_id, seq=seq)
    if message.role != Role.BOT:
        raise Conflict(f"message {seq} is not a bot answer; feedback applies to bot answers")
    feedback = session.scalars(
        select(Feedback).where(
            Feedback.conversation_id == conversation_id, Feedback.message_seq == seq
        )
    ).first()
    if feedback is None:
        feedback = Feedback(conversation_id=conversation_id, message_seq=seq, helpful=helpful)
        session.add(feedback)
    else:
        feedback.helpful = helpful
    conversation = session.get(Conversation, conversation_id)
    customers.mark_stale(session, customer_ref=conversation.customer_ref if conversation else None)
    _invalidate_insight(session, conversation_id)
    session.flush()
    return feedback


def _invalidate_insight(session: Session, conversation_id: str) -> None:
    # Without its facts row, the insight rollup recomputes the conversation on its next pass.
    session.execute(
        delete(ConversationInsight).where(ConversationInsight.conversation_id == conversation_id)
    )


def record_csat(
    session: Session,
    *,
    conversation: Conversation,
    rating: int,
    comment: str | None,
    reason: str | None = None,
    at: datetime | None = None,
) -> Csat:
    """Store the customer's satisfaction rating of the conversation's latest resolution (once
    per resolution: a reopened and resolved again conversation is rated again). A rating given
    before the first resolution counts for the first."""
    resolution = max(1, conversation.resolutions or 0)
    existing = session.scalars(
        select(Csat).where(
            Csat.conversation_id == conversation.id,
            Csat.resolution == resolution,
        )
    ).first()
    if existing is not None:
        raise Conflict("this resolution of the conversation already has a rating")
    csat = Csat(
        conversation_id=conversation.id,
        resolution=resolution,
        rating=rating,
        reason=reason,
        comment=comment,
        created_at=at or utcnow(),
    )
    session.add(csat)
    customers.mark_stale(session, customer_ref=conversation.customer_ref)
    _invalidate_insight(session, conversation.id)
    session.flush()
    return csat


def set_csat_reason(session: Session, *, conversation: Conversation, reason: str) -> Csat:
    """Add the reason to the low rating (1-2) of the conversation's latest resolution."""
    csat = session.scalars(
        select(Csat).where(Csat.conversation_id == conversation.id).order_by(Csat.resolution.desc())
    ).first()
    if csat is None or csat.rating > 2:
        raise Conflict("a reason goes with a rating of 1 or 2: rate the conversation first")
    csat.reason = reason
    _invalidate_insight(session, conversation.id)
    session.flush()
    return csat


def add_csat_details(
    session: Session,
    *,
    conversation: Conversation,
    resolution: int,
    reason: str | None,
    comment: str | None,
) -> Csat:
    """Add a reason (a rating of 1-2 only) and a comment to a rating given before (Slack asks
    for them after the click). A comment already given is not replaced."""
    csat = session.scalars(
        select(Csat).where(Csat.conversation_id == conversation.id, Csat.resolution == resolution)
    ).first()
    if csat is None:
        raise Conflict("rate the conversation first")
    if reason is not None:
        if csat.rating > 2:
            raise Conflict("a reason goes with a rating of 1 or 2")
        csat.reason = reason
    if comment:
        if csat.comment:
            raise Conflict("this rating already has a comment")
        csat.comment = comment
    _invalidate_insight(session, conversation.id)
    session.flush()
    return csat


def change_status(
    session: Session,
    *,
    conversation: Conversation,
    action: Transition,
    owner_id: int | None = None,
    now: datetime | None = None,
) -> Status:
    """Apply a handoff transition to a locked conversation."""
    new = transition(conversation.status, action)
    now = now or utcnow()
    if action == Transition.REOPEN and conversation.reopened_after_s is None:
        resolved = conversation.resolved_at or now
        conversation.reopened_after_s = max(0.0, (now - resolved).total_seconds())
    conversation.status = new
    if action in (Transition.CLAIM, Transition.TRANSFER):
        conversation.owner_id = owner_id
    elif new != Status.AGENT:
        conversation.owner_id = None
    if action in (Transition.HAND_BACK, Transition.WITHDRAW, Transition.REOPEN):
        # The bot starts afresh: earlier turns no longer feed its repeat and failure signals.
        conversation.bot_since_seq = conversation.last_seq
    if new == Status.RESOLVED:
        conversation.resolved_at = now
        conversation.resolutions = (conversation.resolutions or 0) + 1
    conversation.updated_at = now
    customers.mark_stale(session, customer_ref=conversation.customer_ref)
    session.flush()
    return new


def open_escalation(
    session: Session,
    *,
    conversation_id: str,
    reasons: list[dict[str, Any]],
    trigger_seq: int | None,
    now: datetime | None = None,
) -> Escalation:
    """Record why a conversation went to the human queue."""
    escalation = Escalation(
        conversation_id=conversation_id,
        reasons=reasons,
        trigger_seq=trigger_seq,
        created_at=now or utcnow(),
    )
    session.add(escalation)
    session.flush()
    return escalation


def current_escalation(session: Session, *, conversation_id: str) -> Escalation | None:
    """The open escalation of a conversation, if any."""
    return session.scalars(
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id, Escalation.closed_at.is_(None))
        .order_by(Escalation.id.desc())
    ).first()
