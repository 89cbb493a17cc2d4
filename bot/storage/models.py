"""Database tables. Times are stored as UTC; statuses and roles are StrEnums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from escalation import Status

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a forward path
MAX_NAME_CHARS = 200


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the offset on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"
    NOTE = "note"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    """A customer-management engineer (CME) who takes over conversations."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(MAX_EMAIL_CHARS), unique=True)
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS))
    password_hash: Mapped[str] = mapped_column(String(200))
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Console sessions carry the version they were issued under; signing out bumps it.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A console admin may also change what belongs to another CME (e.g. a team saved reply).
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default="web")
    # Channel-side identifiers, e.g. Slack team/channel/thread; unique per channel when set.
    channel_ref: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    customer_name: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    customer_email: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS))
    # Only from a verified supportbot-identity-v2.
    customer_company: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    customer_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=Status.BOT)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Messages at or below this seq are ignored by frustration and repeat signals (hand-back reset).
    bot_since_seq: Mapped[int] = mapped_column(Integer, default=0)
    reopened_from: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    # Set when retention stripped everything personal; the row stays for the aggregates.
    anonymised_at: Mapped[datetime | None] = mapped_column()
    # The customer record (bot.storage.customers); set when the conversation is created.
    customer_ref: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", name="fk_conversations_customer")
    )
    # How many times it was resolved: each resolution gets its own CSAT.
    resolutions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Seconds from a resolution to the customer's first message after it (the first reopen).
    reopened_after_s: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_conversations_status", "status"),
        Index("ix_conversations_channel_ref", "channel", "channel_ref"),
        Index("ix_conversations_customer_ref", "customer_ref", "created_at"),
        Index("ix_conversations_customer", "customer_id", "created_at"),
        Index("ix_conversations_updated", "updated_at"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    client_msg_id: Mapped[str | None] = mapped_column(String(100))
    # For bot replies: the customer message they answer (one reply per customer turn).
    reply_to: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confidence: Mapped[float | None] = mapped_column(Float)
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    retrieval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The model that made `embedding`: topics never mix two models' vectors.
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    # The customer question's topic (bot.cme.topics), once assigned.
    topic_id: Mapped[int | None] = mapped_column(Integer)
    # Files sent with this message (bot.storage.attachments), loaded with it.
    attachments: Mapped[list[Attachment]] = relationship(
        lazy="selectin", order_by="Attachment.created_at", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_messages_topic", "topic_id", "created_at"),
        UniqueConstraint("conversation_id", "seq", name="uq_messages_seq"),
        UniqueConstraint("conversation_id", "client_msg_id", name="uq_messages_client_msg_id"),
        UniqueConstraint("conversation_id", "reply_to", name="uq_messages_reply_to"),
    )


class Attachment(Base):
    """A file sent in a conversation; its bytes live at DATA_DIR/attachments/<conversation>/<id>,
    never under the sender's name."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    # The sender's file name, cleaned (shown and offered as the download name only).
    name: Mapped[str] = mapped_column(String(200))
    # Decided by sniffing the bytes, never by the name or the sender's header.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_attachments_conversation", "conversation_id"),
        Index("ix_attachments_message", "message_id"),
    )


class Escalation(Base):
    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    trigger_seq: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_response_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_escalations_open", "conversation_id", "closed_at"),)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    message_seq: Mapped[int] = mapped_column(Integer)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("conversation_id", "message_seq", name="uq_feedback_message"),
    )


class CsatReason(StrEnum):
    """Why a low rating (1-2) was given; optional, one choice."""

    NOT_ANSWERED = "not_answered"
    WRONG_ANSWER = "wrong_answer"
    TOO_SLOW = "too_slow"
    HARD_TO_REACH_HUMAN = "hard_to_reach_human"
    RUDE_OR_UNHELPFUL = "rude_or_unhelpful"
    OTHER = "other"


class Csat(Base):
    """One rating per resolution of a conversation (a reopened one is rated again)."""

    __tablename__ = "csat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    resolution: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    rating: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("conversation_id", "resolution", name="uq_csat_resolution"),)


class Customer(Base):
    """One customer across channels and conversations. Keys are only ever verified ones (a
    signed widget id, a Slack user, a verified e-mail) or one browser's visitor id."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(MAX_EMAIL_CHARS), unique=True)
    visitor_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    company: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The latest health (bot.cme.health): score 0-100, tier, components with their "why".
    health_score: Mapped[float | None] = mapped_column(Float)
    health_tier: Mapped[str | None] = mapped_column(String(16))
    health_components: Mapped[list[Any]] = mapped_column(JSON, default=list)
    health_at: Mapped[datetime | None] = mapped_column()
    # Score `HEALTH_TREND_DAYS` ago minus now: the at-risk list sorts by it.
    health_drop: Mapped[float | None] = mapped_column(Float)
    # A conversation of theirs changed since the last computation.
    health_stale: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        Index("ix_customers_company", "company"),
        Index("ix_customers_stale", "health_stale"),
    )


class HealthPoint(Base):
    """A customer's (or, with `company`, an account's) health at one computation: the trend."""

    __tablename__ = "health_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    company: Mapped[str | None] = mapped_column(String(MAX_NAME_CHARS))
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_health_history_customer", "customer_id", "at"),
        Index("ix_health_history_company", "company", "at"),
    )


class AccountHealth(Base):
    """The health of a company's customers together (B2B roll-up)."""

    __tablename__ = "account_health"

    company: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16))
    components: Mapped[list[Any]] = mapped_column(JSON, default=list)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerNote(Base):
    """A CME's note on a customer; it outlives any one conversation."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_saved_replies_author")
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_customer_notes_customer", "customer_id", "created_at"),)


class NpsSurvey(Base):
    """One NPS question put to a customer after a resolved conversation, and the answer
    (`score` 0-10) if they gave one. Shown rows are the response rate's denominator: a question
    asked while nobody was watching (an idle conversation resolved by the sweep in a closed
    widget) is not one the customer declined."""

    __tablename__ = "nps_surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column()
    # First put in front of the customer: the widget fetched it to show it, Slack posted it.
    shown_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_nps_surveys_customer", "customer_id", "asked_at"),
        Index("ix_nps_surveys_asked", "asked_at"),
    )


class OutcomeSource(StrEnum):
    """Where a labelled example came from (see bot.conversation.outcomes)."""

    THUMBS_UP = "thumbs_up"
    THUMBS_DOWN = "thumbs_down"
    REPHRASE = "rephrase"
    ESCALATED_AFTER_ANSWER = "escalated_after_answer"
    CME_CANNED_REPLY = "cme_canned_reply"
    CME_REPLY_TO_DECLINE = "cme_reply_to_decline"


class OutcomeExample(Base):
    """A labelled query: `query` is (polarity 1) or is not (-1) answered by `article_id`, or the
    KB has no answer for it (`article_id` None). One per customer question and KB; kept only
    while the article is at `article_version` (retrieval.version_key)."""

    __tablename__ = "outcome_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kb: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    article_id: Mapped[str | None] = mapped_column(String(300))
    article_version: Mapped[str | None] = mapped_column(String(400))
    source: Mapped[str] = mapped_column(String(32))
    polarity: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    customer_id: Mapped[str | None] = mapped_column(String(200))
    conversation_id: Mapped[str | None] = mapped_column(String(32))
    message_seq: Mapped[int | None] = mapped_column(Integer)  # the customer's question
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_saved_replies_author")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("kb", "conversation_id", "message_seq", name="uq_outcome_question"),
        Index("ix_outcome_examples_kb", "kb", "created_at"),
        Index("ix_outcome_examples_customer", "customer_id"),
    )


INSIGHT_WINDOW_COLUMNS = (
    "started_at",
    "channel",
    "counted",
    "day",
    "confirmed",
    "assumed",
    "durable",
    "ended_not_found",
    "escalated",
    "human_involved",
    "resolved",
    "csat",
    "frustration_peak",
    "hour_of_week",
    "first_response_s",
    "sla_met",
)


class ConversationInsight(Base):
    """One conversation's facts for the insight dashboard (bot.cme.insights): a rollup of its
    messages, thumbs, CSAT and escalations, recomputed when the conversation (or the same
    customer's next one) changes, and when a time window it waits on closes."""

    __tablename__ = "conversation_insights"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column()
    day: Mapped[str] = mapped_column(String(10))  # UTC day started, YYYY-MM-DD: grouped by
    ended_at: Mapped[datetime] = mapped_column()
    counted: Mapped[bool] = mapped_column(Boolean)
    bot_answered: Mapped[bool] = mapped_column(Boolean)
    ended_not_found: Mapped[bool] = mapped_column(Boolean)
    human_involved: Mapped[bool] = mapped_column(Boolean)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    assumed: Mapped[bool] = mapped_column(Boolean)
    durable: Mapped[bool] = mapped_column(Boolean)
    escalated: Mapped[bool] = mapped_column(Boolean)
    escalated_at: Mapped[datetime | None] = mapped_column()
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_response_s: Mapped[float | None] = mapped_column(Float)
    sla_met: Mapped[bool | None] = mapped_column(Boolean)
    resolved: Mapped[bool] = mapped_column(Boolean)
    csat: Mapped[int | None] = mapped_column(Integer)
    frustration_peak: Mapped[float | None] = mapped_column(Float)
    hour_of_week: Mapped[int] = mapped_column(Integer)
    recheck_at: Mapped[datetime | None] = mapped_column()
    source_updated_at: Mapped[datetime] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        # Covers every dashboard aggregate: a window's figures are read from the index alone.
        Index("ix_conversation_insights_window", *INSIGHT_WINDOW_COLUMNS),
        Index("ix_conversation_insights_recheck", "recheck_at"),
    )


class SavedReply(Base):
    """A CME's own short reply (`owner_id` set) or the team's (`owner_id` None), with
    variables such as `{customer.name}` filled in when it is inserted."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Who wrote it: only they (or an admin) may turn a team reply into their own.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_saved_replies_author")
    )
    title: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_saved_replies_owner", "owner_id"),)


class CmePresence(Base):
    """A CME's availability as they set it (online, away, offline), when they were last seen
    and last given a conversation (round-robin among equals)."""

    __tablename__ = "cme_presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), default="offline")
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_assigned_at: Mapped[datetime | None] = mapped_column()
    teams: Mapped[str] = mapped_column(String(400), default="")  # comma-separated team names


class ConversationRead(Base):
    """How far one CME has read one conversation: its customer messages after `last_read_seq`
    are unread for them (queue cards show the count; opening the conversation moves it)."""

    __tablename__ = "conversation_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_conversation_reads_conversation", "conversation_id"),)


class Topic(Base):
    """A group of customer questions (bot.cme.topics). Ids survive re-clustering."""

    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    model_id: Mapped[str] = mapped_column(String(200))
    centroid: Mapped[bytes] = mapped_column(LargeBinary)
    label: Mapped[str] = mapped_column(Text, default="")
    article_id: Mapped[str | None] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Base):
    """An early warning (bot.cme.alerts): why it fired, examples, topic, affected customers."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    topic_id: Mapped[int | None] = mapped_column(Integer)
    conversation_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN)
    title: Mapped[str] = mapped_column(Text)
    why: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)
    customers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (Index("ix_alerts_kind_topic", "kind", "topic_id", "created_at"),)


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts


class EmailOutbox(Base):
    """A mail to send (a CME's reply, a transcript), written in the transaction that caused it
    and sent by one sender with backoff (bot.channels.email): it survives a restart."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # "reply:<message id>", "transcript:<conversation id>": a mail is queued once.
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    to_address: Mapped[str] = mapped_column(String(MAX_EMAIL_CHARS))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not tried before this (a backoff after a failure); a claimed row's lease ends here too.
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_email_outbox_due", "status", "next_try_at"),
        Index("ix_email_outbox_conversation", "conversation_id"),
    )
