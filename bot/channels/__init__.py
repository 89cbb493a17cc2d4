"""Channels deliver what the pipeline and CMEs say: web widget, Slack, plain REST.

A channel that needs more than the event bus (Slack posts through an outbox) registers hooks
that run inside the transaction which adds the outgoing message, so delivery is never lost.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from bot.models import Conversation, Escalation, Message


class ChannelHooks(Protocol):
    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """A customer-visible bot/agent/system message was added (same transaction)."""
        ...

    def escalated(
        self, session: Session, conversation: Conversation, escalation: Escalation
    ) -> None:
        """The conversation entered the human queue (same transaction)."""
        ...

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """A handoff transition was applied (same transaction)."""
        ...


__all__ = ["ChannelHooks"]
