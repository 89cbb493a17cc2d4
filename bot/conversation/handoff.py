"""Every handoff operation on a stored conversation: the customer's request for a person and
its withdrawal, the escalation the pipeline decides, and the CME's claim, reply, note, release,
transfer, hand back and resolve. Each runs in one short locked transaction through the state
machine in `escalation`, then announces the change on the bus.

Used by the pipeline, the CME console and Slack alike, so all follow the same one-owner rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from bot.conversation import outcomes
from bot.conversation.replies import handoff_text
from bot.events import (
    QUEUE_TOPIC,
    agent_topic,
    announce_message,
    conversation_topic,
    queue_event,
    status_event,
    vip_event,
)
from bot.runtime import Bot
from bot.storage import Conversation, Message, Role, User, customers, store
from escalation import (
    Action,
    Decision,
    HandoffConflict,
    IllegalTransition,
    Reason,
    Status,
    Transition,
    bot_may_answer,
    transition,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    conversation_id: str
    status: Status
    owner_id: int | None
    message: Message | None = None
    author: str | None = None  # the CME who wrote `message`, shown to the customer


def _owned(conversation: Conversation, user_id: int) -> None:
    if conversation.status != Status.AGENT or conversation.owner_id != user_id:
        raise HandoffConflict("you no longer own this conversation; claim it first")


def _apply(
    bot: Bot, session: Session, conversation: Conversation, action: Transition, **kw
) -> None:
    try:
        store.change_status(
            session, conversation=conversation, action=action, now=bot.clock(), **kw
        )
    except IllegalTransition as exc:
        raise HandoffConflict(str(exc)) from exc
    bot.status_changed(session, conversation, action.value)


async def _run(bot: Bot, conversation_id: str, work: Callable[[Session, Conversation], T]) -> T:
    def transaction() -> T:
        with bot.db.write() as session:
            conversation = store.get_conversation(
                session, conversation_id=conversation_id, lock=True
            )
            return work(session, conversation)

    return await asyncio.to_thread(transaction)


async def _perform(
    bot: Bot, conversation_id: str, work: Callable[[Session, Conversation], Change]
) -> Change:
    """Apply a handoff operation in one locked transaction, then announce it."""
    change = await _run(bot, conversation_id, work)
    await _announce(bot, change)
    return change


async def _announce(bot: Bot, change: Change) -> None:
    await bot.bus.publish(conversation_topic(change.conversation_id), status_event(change.status))
    await bot.bus.publish(
        agent_topic(change.conversation_id), status_event(change.status, owner_id=change.owner_id)
    )
    await bot.bus.publish(QUEUE_TOPIC, queue_event("changed", change.conversation_id))
    if change.message is not None:
        await announce_message(
            bot.bus, change.conversation_id, change.message, author=change.author
        )


def _change(conversation: Conversation, message: Message | None = None) -> Change:
    return Change(conversation.id, Status(conversation.status), conversation.owner_id, message)


async def claim(bot: Bot, *, conversation_id: str, user: User) -> Change:
    """Take a waiting conversation; of concurrent claims exactly one wins, the rest conflict."""

    def work(session: Session, conversation: Conversation) -> Change:
        if conversation.status == Status.AGENT:
            raise HandoffConflict("another CME has already claimed this conversation")
        _apply(bot, session, conversation, Transition.CLAIM, owner_id=user.id)
        escalation = store.current_escalation(session, conversation_id=conversation.id)
        if escalation is not None and escalation.claimed_at is None:
            escalation.claimed_at, escalation.claimed_by = bot.clock(), user.id
        notice = _system(
            bot, session, conversation, f"{user.name} from the support team has joined."
        )
        return _change(conversation, notice)

    return await _perform(bot, conversation_id, work)


async def agent_message(
    bot: Bot,
    *,
    conversation_id: str,
    user: User,
    text: str,
    note: bool = False,
    article_id: str | None = None,
) -> Change:
    """A CME's reply to the customer, or an internal note; only the owner may reply.
    `article_id` names the KB article the reply inserts (a canned reply): the customer's
    question is then a labelled example of it (bot.conversation.outcomes)."""

    def work(session: Session, conversation: Conversation) -> Change:
        if not note:
            _owned(conversation, user.id)
        message = store.add_message(
            session,
            conversation_id=conversation.id,
            role=Role.NOTE if note else Role.AGENT,
            text=text,
            author_id=user.id,
            at=bot.clock(),
        )
        if not note:
            outcomes.on_agent_reply(
                bot, session, conversation, author_id=user.id, article_id=article_id
            )
            escalation = store.current_escalation(session, conversation_id=conversation.id)
            if escalation is not None and escalation.first_response_at is None:
                escalation.first_response_at = bot.clock()
            bot.message_added(session, conversation, message)
        return replace(_change(conversation, message), author=user.name)

    return await _perform(bot, conversation_id, work)


async def release(bot: Bot, *, conversation_id: str, user: User) -> Change:
    """Put a claimed conversation back in the queue."""

    def work(session: Session, conversation: Conversation) -> Change:
        _owned(conversation, user.id)
        _apply(bot, session, conversation, Transition.RELEASE)
        return _change(conversation)

    return await _perform(bot, conversation_id, work)


async def transfer(bot: Bot, *, conversation_id: str, user: User, to: User) -> Change:
    """Hand a claimed conversation to another CME."""

    def work(session: Session, conversation: Conversation) -> Change:
        _owned(conversation, user.id)
        _apply(bot, session, conversation, Transition.TRANSFER, owner_id=to.id)
        note = store.add_message(
            session,
            conversation_id=conversation.id,
            role=Role.NOTE,
            text=f"{user.name} transferred this conversation to {to.name}.",
            author_id=user.id,
            at=bot.clock(),
        )
        return _change(conversation, note)

    return await _perform(bot, conversation_id, work)


async def hand_back(bot: Bot, *, conversation_id: str, user: User) -> Change:
    """Return the conversation to the bot, which starts afresh (no stale signals)."""

    def work(session: Session, conversation: Conversation) -> Change:
        _owned(conversation, user.id)
        _apply(bot, session, conversation, Transition.HAND_BACK)
        _close_escalation(bot, session, conversation, "handed_back")
        notice = _system(bot, session, conversation, "You're back with the support assistant.")
        return _change(conversation, notice)

    return await _perform(bot, conversation_id, work)


async def resolve(bot: Bot, *, conversation_id: str, user: User | None) -> Change:
    """End the conversation; the owner (or anyone while it is not claimed) may resolve."""

    def work(session: Session, conversation: Conversation) -> Change:
        if user is not None and conversation.status == Status.AGENT:
            _owned(conversation, user.id)
        try:  # checked before the notice, which goes first
            transition(conversation.status, Transition.RESOLVE)
        except IllegalTransition as exc:
            raise HandoffConflict(str(exc)) from exc
        # The notice first, so a channel shows it before the rating prompts the resolution adds.
        notice = _system(bot, session, conversation, "This conversation has been resolved.")
        _apply(bot, session, conversation, Transition.RESOLVE)
        _close_escalation(bot, session, conversation, "resolved")
        return _change(conversation, notice)

    return await _perform(bot, conversation_id, work)


async def withdraw(bot: Bot, *, conversation_id: str) -> Change:
    """The customer no longer wants a human: back to the bot."""

    def work(session: Session, conversation: Conversation) -> Change:
        _apply(bot, session, conversation, Transition.WITHDRAW)
        _close_escalation(bot, session, conversation, "withdrawn")
        return _change(conversation)

    return await _perform(bot, conversation_id, work)


async def set_vip(bot: Bot, *, conversation_id: str, vip: bool) -> Change:
    """Mark or unmark the customer as VIP."""

    def work(session: Session, conversation: Conversation) -> Change:
        conversation.vip = vip
        customer = customers.get_customer(session, customer_id=conversation.customer_ref or 0)
        if customer is not None:  # VIP belongs to the customer: their page shows it too
            customer.vip = vip
        session.flush()
        return _change(conversation)

    change = await _run(bot, conversation_id, work)
    await bot.bus.publish(agent_topic(conversation_id), vip_event(vip))
    await bot.bus.publish(QUEUE_TOPIC, queue_event("changed", conversation_id))
    return change


def _system(bot: Bot, session: Session, conversation: Conversation, text: str) -> Message:
    message = store.add_message(
        session, conversation_id=conversation.id, role=Role.SYSTEM, text=text, at=bot.clock()
    )
    bot.message_added(session, conversation, message)
    return message


def _close_escalation(bot: Bot, session: Session, conversation: Conversation, outcome: str) -> None:
    escalation = store.current_escalation(session, conversation_id=conversation.id)
    if escalation is not None:
        escalation.closed_at, escalation.outcome = bot.clock(), outcome
        session.flush()


# -- into the human queue ---------------------------------------------------------------------


def handoff_notice(bot: Bot, now: datetime) -> str:
    """What the customer is told, once, when the conversation enters the human queue."""
    return handoff_text(bot.hours, now, bot.settings.sla_first_response_s)


def escalate(
    bot: Bot,
    session: Session,
    conversation: Conversation,
    decision: Decision,
    *,
    trigger_seq: int | None,
    now: datetime,
) -> None:
    """Move a locked conversation into the human queue and record why (inside the caller's
    transaction: the pipeline's, when its policy decides to escalate)."""
    store.change_status(session, conversation=conversation, action=Transition.ESCALATE, now=now)
    escalation = store.open_escalation(
        session,
        conversation_id=conversation.id,
        reasons=[reason.to_dict() for reason in decision.reasons],
        trigger_seq=trigger_seq or None,
        now=now,
    )
    bot.status_changed(session, conversation, Transition.ESCALATE.value)
    bot.escalated(session, conversation, escalation)


async def request_handoff(
    bot: Bot, *, conversation_id: str, reason: str = "the customer pressed Talk to a person"
) -> tuple[Message | None, Status]:
    """Escalate on the customer's explicit request; returns the notice (None if already queued)."""

    def work(session: Session, conversation: Conversation) -> tuple[Message | None, Status]:
        now = bot.clock()
        if conversation.status == Status.RESOLVED:
            store.change_status(
                session, conversation=conversation, action=Transition.REOPEN, now=now
            )
        if not bot_may_answer(conversation.status):
            return None, Status(conversation.status)
        decision = Decision(Action.ESCALATE, (Reason("human_request", reason),))
        outcomes.on_handoff_request(bot, session, conversation)
        escalate(bot, session, conversation, decision, trigger_seq=conversation.last_seq, now=now)
        notice = store.add_message(
            session,
            conversation_id=conversation_id,
            role=Role.BOT,
            text=handoff_notice(bot, now),
            decision=decision.to_dict(),
            at=now,
        )
        bot.message_added(session, conversation, notice)
        return notice, Status(conversation.status)

    notice, status = await _run(bot, conversation_id, work)
    if notice is not None:
        await announce_message(bot.bus, conversation_id, notice)
        await bot.bus.publish(conversation_topic(conversation_id), status_event(status))
        await bot.bus.publish(QUEUE_TOPIC, queue_event("escalated", conversation_id))
    return notice, status
