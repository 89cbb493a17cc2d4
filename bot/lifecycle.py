"""Housekeeping that runs in the server: resolving idle bot conversations."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from bot import store
from bot.events import conversation_topic
from bot.models import Conversation
from bot.runtime import Bot
from escalation import Status, Transition

log = logging.getLogger(__name__)

SWEEP_EVERY_S = 60


def resolve_idle(bot: Bot) -> list[str]:
    """Resolve bot-owned conversations idle past the timeout; returns their ids."""
    cutoff = bot.clock() - timedelta(seconds=bot.settings.idle_resolve_after_s)
    with bot.db.read() as session:
        candidates = session.scalars(
            select(Conversation.id).where(
                Conversation.status == Status.BOT,
                Conversation.updated_at < cutoff,
                Conversation.last_seq > 0,
            )
        ).all()
    resolved = []
    for conversation_id in candidates:
        with bot.db.write() as session:
            conversation = store.get_conversation(
                session, conversation_id=conversation_id, lock=True
            )
            if conversation.status != Status.BOT or conversation.updated_at >= cutoff:
                continue  # the customer wrote meanwhile
            store.change_status(
                session, conversation=conversation, action=Transition.RESOLVE, now=bot.clock()
            )
            bot.status_changed(session, conversation, Transition.RESOLVE.value)
            resolved.append(conversation_id)
    return resolved


async def sweep_forever(bot: Bot) -> None:
    """Resolve idle conversations every minute until cancelled."""
    while True:
        await asyncio.sleep(SWEEP_EVERY_S)
        try:
            for conversation_id in await asyncio.to_thread(resolve_idle, bot):
                await bot.bus.publish(
                    conversation_topic(conversation_id), {"type": "status", "status": "resolved"}
                )
        except Exception:  # a failed sweep is retried next minute; the server keeps serving
            log.exception("idle sweep failed")
