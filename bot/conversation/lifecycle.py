"""How conversations end on their own: the idle rule, and the sweep that applies it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.conversation.handoff import request_handoff
from bot.conversation.pipeline import PipelineError, handle_customer_message
from bot.events import conversation_topic, status_event
from bot.runtime import Bot
from bot.storage import Conversation, attachments, customers, insight, outcomes, store
from escalation import HandoffConflict, IllegalTransition, Status, Transition

log = logging.getLogger(__name__)

# A turn still unscored this long after its message was stored was cut short (a crash, a failed
# model step the client did not retry); turns in flight finish within seconds.
STRANDED_AFTER_S = 30


def idle_cutoff(bot: Bot, now: datetime) -> datetime:
    """A bot-owned conversation last updated before this is finished (IDLE_RESOLVE_AFTER_S)."""
    return now - timedelta(seconds=bot.settings.idle_resolve_after_s)


def is_idle(bot: Bot, conversation: Conversation, now: datetime) -> bool:
    """The idle rule: the bot owns the conversation and nobody wrote for IDLE_RESOLVE_AFTER_S.

    The sweep resolves such conversations; a Slack DM treats one as finished even before the
    sweep ran, and starts a new conversation."""
    return conversation.status == Status.BOT and conversation.updated_at < idle_cutoff(bot, now)


def resolve_idle(bot: Bot) -> list[str]:
    """Resolve bot-owned conversations idle past the timeout; returns their ids."""
    now = bot.clock()
    with bot.db.read() as session:
        candidates = session.scalars(
            select(Conversation.id).where(
                Conversation.status == Status.BOT,
                Conversation.updated_at < idle_cutoff(bot, now),
                Conversation.last_seq > 0,
            )
        ).all()
    resolved = []
    for conversation_id in candidates:
        with bot.db.write() as session:
            conversation = store.get_conversation(
                session, conversation_id=conversation_id, lock=True
            )
            if not is_idle(bot, conversation, now):
                continue  # the customer wrote meanwhile
            store.change_status(
                session, conversation=conversation, action=Transition.RESOLVE, now=now
            )
            bot.status_changed(session, conversation, Transition.RESOLVE.value)
            resolved.append(conversation_id)
    return resolved


async def finish_stranded_turns(bot: Bot) -> int:
    """Run again the turns a crash or a failed step left unanswered (the latest customer message
    of a conversation, younger than the idle timeout); escalate a bot-owned conversation whose
    turn fails again. Returns how many turns it tried."""
    now = bot.clock()
    with bot.db.read() as session:
        stranded = [
            (message.conversation_id, message.seq, message.text, message.client_msg_id)
            for message in store.unscored_turns(
                session,
                since=idle_cutoff(bot, now),
                before=now - timedelta(seconds=STRANDED_AFTER_S),
            )
        ]
    for conversation_id, seq, text, client_msg_id in stranded:
        log.info("finishing the stranded turn %s of conversation %s", seq, conversation_id)
        try:
            await handle_customer_message(
                bot,
                conversation_id=conversation_id,
                text=text,
                client_msg_id=client_msg_id,
                resume_seq=seq,
            )
        except PipelineError:  # logged by the pipeline; a person answers instead
            try:
                await request_handoff(
                    bot,
                    conversation_id=conversation_id,
                    reason="the bot failed twice to process the customer's message",
                )
            except (HandoffConflict, IllegalTransition):
                pass  # a person already has it
    return len(stranded)


def anonymise_expired(bot: Bot) -> list[str]:
    """Anonymise conversations resolved more than RETENTION_DAYS ago: their texts, vectors,
    identity, attachments (rows and files), Slack data and the examples learnt from them go;
    the rows that aggregates count stay. Returns their ids; nothing when RETENTION_DAYS is 0."""
    days = bot.settings.retention_days
    if not days:
        return []
    cutoff = bot.clock() - timedelta(days=days)
    with bot.db.write() as session:
        expired = list(
            session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.status == Status.RESOLVED,
                    Conversation.resolved_at < cutoff,
                    Conversation.anonymised_at.is_(None),
                )
                .limit(500)
            )
        )
        if not expired:
            return []
        for eraser in bot.erasers:
            eraser(session, "", expired)
        attachments.erase_attachments(session, files=bot.files, conversation_ids=expired)
        outcomes.erase_examples(session, customer_id=None, conversation_ids=expired)
        insight.erase_mentions(session, customer_id="", conversation_ids=expired)  # reads texts
        records = set(
            session.scalars(
                select(Conversation.customer_ref).where(
                    Conversation.id.in_(expired), Conversation.customer_ref.is_not(None)
                )
            )
        )
        store.anonymise_conversations(session, conversation_ids=expired)
        # A customer with nothing left but anonymised conversations is forgotten too.
        customers.erase_customers(
            session,
            customer_ids=[
                record
                for record in records
                if not customers.customer_conversations(session, customer_id=record)
            ],
        )
    bot.outcomes_changed.set()
    log.info("anonymised %d conversations past the retention period", len(expired))
    return expired


async def sweep_forever(bot: Bot) -> None:
    """From start-up, every SWEEP_EVERY_S until cancelled, finish stranded turns and resolve
    idle conversations (a job: once per deployment)."""
    while True:
        try:
            await finish_stranded_turns(bot)
        except Exception:  # retried next minute; the server keeps serving
            log.exception("finishing stranded turns failed")
        await asyncio.sleep(bot.settings.sweep_every_s)
        try:
            resolved = await asyncio.to_thread(resolve_idle, bot)
            log.info("idle sweep resolved %d conversations", len(resolved))
            for conversation_id in resolved:
                await bot.bus.publish(
                    conversation_topic(conversation_id), status_event(Status.RESOLVED)
                )
        except Exception:  # a failed sweep is retried next minute; the server keeps serving
            log.exception("idle sweep failed")
        try:
            await asyncio.to_thread(anonymise_expired, bot)
        except Exception:  # retried next minute
            log.exception("anonymising conversations past the retention period failed")
