"""Slack's tables: the event inbox, the outbox, and which Slack thread is which conversation.

They share `bot.storage.models.Base`; `bot/migrations/env.py` imports this module, so Alembic
sees them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import Base, utcnow


class EventStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Side(StrEnum):
    CUSTOMER = "customer"  # a customer's DM or channel thread
    CME = "cme"  # an escalation's thread in the CME channel


class SlackEvent(Base):
    """Every Events API delivery we accepted, recorded before the ack; one row per event."""

    __tablename__ = "slack_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    # "{channel}:{ts}": Slack sends one message as `app_mention` and `message` with two ids.
    message_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    bot_user_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # While set and in the future, a worker owns the row (or it waits out a backoff).
    locked_until: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_slack_events_status", "status", "locked_until"),)


class SlackOutbox(Base):
    """A Web API call to make, written in the transaction that produced it."""

    __tablename__ = "slack_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Rows with the same key are delivered strictly in id order: "{channel}" or "{channel}/{ts}".
    thread_key: Mapped[str] = mapped_column(String(100))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_slack_outbox_thread", "status", "thread_key", "id"),
        Index("ix_slack_outbox_conversation", "conversation_id", "kind"),
    )


class SlackThread(Base):
    """A Slack address and the conversation it belongs to.

    Customer side: a DM channel ("D123", pointing at its current conversation) or a channel
    thread ("C123/1700000000.000100"). CME side: an escalation post's thread in the CME channel.
    The row is also the lock that keeps two deliveries from opening two conversations.
    """

    __tablename__ = "slack_threads"

    address: Mapped[str] = mapped_column(String(100), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_slack_threads_conversation", "conversation_id", "side"),)
