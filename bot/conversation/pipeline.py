"""The one channel-agnostic pipeline for a customer turn.

commit the customer's message -> embed once -> score + retrieve -> decide -> commit the bot's
turn (re-checking the status) -> deliver. No transaction is held across model work.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session

from bot.conversation import outcomes, replies
from bot.conversation.handoff import escalate, handoff_notice
from bot.events import (
    QUEUE_TOPIC,
    agent_topic,
    announce_message,
    conversation_topic,
    queue_event,
    scores_event,
    status_event,
    typing_event,
)
from bot.runtime import Bot
from bot.storage import MAX_EMAIL_CHARS, Message, Role, store
from escalation import Action, Decision, Status, Transition, TurnEvidence, bot_may_answer, decide
from retrieval import Query, SearchResult
from sentiment import Scores, Turn, detect_acceptance, detect_not_helped

log = logging.getLogger(__name__)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)


def contact_email(text: str) -> str | None:
    """The first e-mail address in `text` that is short enough to be one (and to be stored)."""
    for match in EMAIL.finditer(text):
        if len(match.group(0)) <= MAX_EMAIL_CHARS:
            return match.group(0)
    return None


class PipelineError(Exception):
    """A model or retrieval step failed; the customer's message is kept for a retry."""

    def __init__(self, message: str) -> None:
        self.error_id = uuid.uuid4().hex[:12]
        super().__init__(f"{message} (error id {self.error_id})")


@dataclass(frozen=True)
class TurnResult:
    message: Message
    reply: Message | None
    status: Status


@dataclass(frozen=True)
class _Offers:
    """Whether the bot offered a person since it took over, and in its last reply."""

    any: bool = False
    last: bool = False


@dataclass(frozen=True)
class _Accepted:
    message: Message
    status: Status
    vip: bool
    history: list[Turn]
    unanswered_before: int
    answered: list[tuple[np.ndarray, str]] = field(default_factory=list)
    shown: frozenset[tuple[str, str]] = frozenset()  # (article, anchor) passages already given
    offers: _Offers = field(default_factory=lambda: _Offers())
    # The exchange right before this turn, if the bot answered it: this turn may restate it.
    previous: outcomes.AnsweredQuestion | None = None
    done: TurnResult | None = None
    is_new: bool = False
    channel: str = "web"


async def handle_customer_message(
    bot: Bot,
    *,
    conversation_id: str,
    text: str,
    client_msg_id: str | None = None,
    at: datetime | None = None,
    resume_seq: int | None = None,
) -> TurnResult:
    """Run one customer turn end to end and return the stored message and the bot's reply.

    `resume_seq` finishes the turn of a customer message already stored under that seq (one a
    crash or a failed step left unanswered) instead of storing `text` anew.
    """
    at = at or bot.clock()
    started = time.perf_counter()
    accepted = await asyncio.to_thread(
        _accept,
        bot,
        conversation_id=conversation_id,
        text=text,
        client_msg_id=client_msg_id,
        at=at,
        resume_seq=resume_seq,
    )
    if accepted.done is not None:
        return accepted.done
    if accepted.is_new:
        await announce_message(bot.bus, conversation_id, accepted.message)

    answering = bot_may_answer(accepted.status)
    if answering:
        await bot.bus.publish(conversation_topic(conversation_id), typing_event("bot", True))
    try:
        vector, query = await _embed_turn(bot, accepted, text, answering)
        scores, search = await asyncio.to_thread(_understand, bot, accepted, text, vector, query)
    except Exception as exc:
        if answering:
            await bot.bus.publish(conversation_topic(conversation_id), typing_event("bot", False))
        error = PipelineError(
            "the bot could not process this message; retry with the same client_msg_id"
        )
        log.exception("turn failed for conversation %s [%s]", conversation_id, error.error_id)
        raise error from exc

    decision = _decide(bot, accepted, scores, vector, search)
    result, escalated = await asyncio.to_thread(
        _commit_reply, bot, accepted, scores, vector, search, decision
    )
    outcome = decision.action.value if result.reply is not None else result.status.value
    bot.metrics.turn(accepted.channel, outcome, time.perf_counter() - started)
    if answering:
        await bot.bus.publish(conversation_topic(conversation_id), typing_event("bot", False))
    if result.reply is not None and result.reply.seq != accepted.message.seq:
        await announce_message(bot.bus, conversation_id, result.reply)
    await bot.bus.publish(
        agent_topic(conversation_id), scores_event(accepted.message.seq, scores.to_dict())
    )
    if escalated:
        await bot.bus.publish(QUEUE_TOPIC, queue_event("escalated", conversation_id))
        await bot.bus.publish(conversation_topic(conversation_id), status_event(result.status))
    elif not answering:
        # A queued or claimed customer wrote again: their place and scores in the queue changed.
        await bot.bus.publish(QUEUE_TOPIC, queue_event("changed", conversation_id))
    return result


async def _embed_turn(
    bot: Bot, accepted: _Accepted, text: str, answering: bool
) -> tuple[np.ndarray, Query | None]:
    """The turn's vector with the shared model (scores and repeats) and, while the bot answers,
    its query with the model serving the index (maybe KB-adapted). With two models both
    requests wait in the batcher's queue together, so one batching round serves the turn."""
    scoring = asyncio.ensure_future(bot.embedder.embed(text))
    await asyncio.sleep(0)  # let it queue first: the batch encodes the scoring model first
    if not answering:
        return await scoring, None
    earlier = [t.text for t in accepted.history if t.role == "customer"]
    try:
        if bot.kb.query_embedder.model_id == bot.embedder.model_id:
            vector = await scoring  # one model: the query reuses this vector, no second encode
            query = await bot.kb.embed_query(
                text, history=earlier, known={bot.embedder.model_id: vector}
            )
            return vector, query
        query = await bot.kb.embed_query(text, history=earlier)
        return await scoring, query
    finally:
        if not scoring.done():
            scoring.cancel()


def _accept(
    bot: Bot,
    *,
    conversation_id: str,
    text: str,
    client_msg_id: str | None,
    at: datetime,
    resume_seq: int | None = None,
) -> _Accepted:
    """Transaction 1: store the customer's message (idempotent) and read what scoring needs."""
    with bot.db.write() as session:
        conversation = store.get_conversation(session, conversation_id=conversation_id, lock=True)
        message = None
        if resume_seq is not None:
            message = store.get_message(session, conversation_id=conversation_id, seq=resume_seq)
        elif client_msg_id is not None:
            message = store.find_by_client_msg_id(
                session, conversation_id=conversation_id, client_msg_id=client_msg_id
            )
        if message is not None:
            reply = store.find_reply(session, conversation_id=conversation_id, seq=message.seq)
            finished = reply is not None or (
                message.scores is not None and not bot_may_answer(conversation.status)
            )
            if finished:
                done = TurnResult(message, reply, Status(conversation.status))
                return _Accepted(
                    message=message,
                    status=Status(conversation.status),
                    vip=False,
                    history=[],
                    unanswered_before=0,
                    done=done,
                )
        else:
            if conversation.status == Status.RESOLVED:
                store.change_status(
                    session, conversation=conversation, action=Transition.REOPEN, now=at
                )
            message = store.add_message(
                session,
                conversation_id=conversation_id,
                role=Role.CUSTOMER,
                text=text,
                client_msg_id=client_msg_id,
                at=at,
            )
            if not conversation.customer_email and (email := contact_email(text)):
                # Contact details left while waiting for a human (e.g. after the away message).
                conversation.customer_email = email
        is_new = message.scores is None and message.seq == conversation.last_seq
        history, unanswered, answered, shown, offers, previous = _history(
            session, conversation.id, conversation.bot_since_seq, message.seq
        )
        return _Accepted(
            channel=conversation.channel,
            is_new=is_new,
            message=message,
            status=Status(conversation.status),
            vip=conversation.vip,
            history=history,
            unanswered_before=unanswered,
            answered=answered,
            shown=shown,
            offers=offers,
            previous=previous,
        )


def _history(
    session: Session, conversation_id: str, since_seq: int, before_seq: int
) -> tuple[
    list[Turn],
    int,
    list[tuple[np.ndarray, str]],
    frozenset[tuple[str, str]],
    _Offers,
    outcomes.AnsweredQuestion | None,
]:
    """Earlier turns since the bot last took over, as the scorer sees them, the count of
    consecutive unanswered in-scope turns, (vector, article) of the questions it answered, the
    (article, section anchor) passages it answered with (a follow-up gets the next one),
    whether it offered a person, and the last exchange if it was an answer (a rephrase of it
    is an outcome)."""
    marks = store.helpful_marks(session, conversation_id=conversation_id)
    turns: list[Turn] = []
    unanswered = 0
    answered: list[tuple[np.ndarray, str]] = []
    shown: set[tuple[str, str]] = set()
    offered = last_offered = False
    exchange: list[Message] = []  # the last two customer or bot messages
    for message in store.list_messages(session, conversation_id=conversation_id, after=since_seq):
        if message.seq >= before_seq:
            break
        if message.attachments:  # a file is not a turn: nothing to score or answer
            continue
        if message.role in (Role.CUSTOMER, Role.BOT):
            exchange = [*exchange[-1:], message]
        declined = False
        vector = store.decode_embedding(message.embedding)
        action = (message.decision or {}).get("action")
        if message.role == Role.BOT:
            codes = {r.get("code") for r in (message.decision or {}).get("reasons", ())}
            # Declining an off-topic question is not a failure: it neither counts nor resets.
            declined = action == Action.CLARIFY and "off_topic" not in codes
            if declined or action == Action.ANSWER:
                unanswered = unanswered + 1 if declined else 0
            # An answer may carry the offer of a person; a decline always does (replies.CLARIFY).
            last_offered = "offer_person" in codes or declined
            offered = offered or last_offered
        elif (
            action == Action.ANSWER and vector is not None and (message.retrieval or {}).get("hits")
        ):
            top = message.retrieval["hits"][0]
            answered.append((vector, top["article_id"]))
            shown.update((top["article_id"], anchor) for anchor in top.get("sections", ()))
        turns.append(
            Turn(
                role=str(message.role),
                text=message.text,
                at=message.created_at,
                vector=vector,
                declined=declined,
                unhelpful=marks.get(message.seq) is False,
                scores=Scores.from_dict(message.scores) if message.scores else None,
            )
        )
    previous = None
    if [m.role for m in exchange] == [Role.CUSTOMER, Role.BOT]:
        previous = outcomes.answered_question(*exchange)
    offers = _Offers(any=offered, last=last_offered)
    return turns, unanswered, answered, frozenset(shown), offers, previous


def _understand(
    bot: Bot, accepted: _Accepted, text: str, vector: np.ndarray, query: Query | None
) -> tuple[Scores, SearchResult | None]:
    """Score the turn and, while the bot owns the conversation, search the KB."""
    turn = Turn(role="customer", text=text, at=accepted.message.created_at, vector=vector)
    scores = bot.scorer.score(turn, accepted.history)
    search = bot.kb.search(query, shown=accepted.shown) if query is not None else None
    return scores, search


def _decide(
    bot: Bot, accepted: _Accepted, scores: Scores, vector: np.ndarray, search: SearchResult | None
) -> Decision:
    top = search.hits[0] if search and search.hits else None
    same_article = [
        float(np.dot(vector, earlier))
        for earlier, article_id in accepted.answered
        if top is not None and article_id == top.article_id
    ]
    evidence = TurnEvidence(
        frustration=scores.frustration,
        human_request=scores.human_request,
        repeated=scores.repeated_of is not None,
        same_article_similarity=max(same_article, default=0.0),
        small_talk=scores.small_talk,
        answerable=bool(search and search.answerable and top),
        top_article=top.article_id if top else None,
        top_article_escalates=bool(top and top.escalate),
        gate_reason=search.reason if search else None,
        unanswered_before=accepted.unanswered_before,
        vip=accepted.vip,
        anger=scores.anger,
        in_scope=search.in_scope if search else True,
        offered_person=accepted.offers.any,
        accepted_offer=accepted.offers.last and detect_acceptance(accepted.message.text),
        not_helped=accepted.offers.last and detect_not_helped(accepted.message.text),
    )
    return decide(evidence, bot.policy)


def _commit_reply(
    bot: Bot,
    accepted: _Accepted,
    scores: Scores,
    vector: np.ndarray,
    search: SearchResult | None,
    decision: Decision,
) -> tuple[TurnResult, bool]:
    """Transaction 2: store the scores and the bot's turn, unless a human took over meanwhile."""
    conversation_id = accepted.message.conversation_id
    seq = accepted.message.seq
    with bot.db.write() as session:
        conversation = store.get_conversation(session, conversation_id=conversation_id, lock=True)
        message = store.get_message(session, conversation_id=conversation_id, seq=seq)
        retrieval = search.to_dict() if search else None
        store.save_turn_scores(
            session,
            message=message,
            scores=scores.to_dict(),
            embedding=vector,
            embedding_model=bot.embedder.model_id,
            retrieval=retrieval,
            decision=decision.to_dict() if search else None,
        )
        outcomes.on_customer_turn(bot, session, conversation, accepted.previous, vector)
        existing = store.find_reply(session, conversation_id=conversation_id, seq=seq)
        if existing is not None or not bot_may_answer(conversation.status) or search is None:
            return TurnResult(message, existing, Status(conversation.status)), False

        now = bot.clock()
        escalated = decision.action == Action.ESCALATE
        reply_fields: dict = {"decision": decision.to_dict(), "retrieval": retrieval}
        if escalated:
            escalate(bot, session, conversation, decision, trigger_seq=seq, now=now)
            text = handoff_notice(bot, now)
        elif decision.action == Action.ANSWER:
            text = replies.answer_text(search, offer_person=decision.offers_person)
            reply_fields |= {
                "citations": replies.citations(search),
                "confidence": search.confidence,
            }
        elif decision.action == Action.SMALL_TALK:
            text = replies.small_talk_text(
                decision.small_talk, bot_name=bot.settings.bot_name, channel=conversation.channel
            )
        else:
            text = replies.decline_text(decision)
            reply_fields["confidence"] = search.confidence
        reply = store.add_message(
            session,
            conversation_id=conversation_id,
            role=Role.BOT,
            text=text,
            reply_to=seq,
            at=now,
            **reply_fields,
        )
        bot.message_added(session, conversation, reply)
        if decision.action == Action.SMALL_TALK and decision.small_talk == "goodbye":
            # The customer is done: resolving offers them the satisfaction rating.
            store.change_status(
                session, conversation=conversation, action=Transition.RESOLVE, now=now
            )
            bot.status_changed(session, conversation, Transition.RESOLVE.value)
        return TurnResult(message, reply, Status(conversation.status)), escalated
