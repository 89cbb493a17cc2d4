"""Learning from outcomes: what the system already sees about its answers becomes labelled
examples of the KB (`bot.storage.outcomes`), which retrieval ranks with (`retrieval.examples`).

    thumbs up / down on an answer           -> (question, answered article), +1 / -1, customer
    the same question again right after an
    answer (a rephrase)                      -> (question, answered article), -1, customer, light
    "talk to a person" right after an answer -> (question, answered article), -1, customer, light
    a CME inserts an article (canned reply)  -> (question, that article), +1, CME
    a CME replies, no article, to a question
    the bot declined                         -> (question, no answer in the KB), CME

Every recorder runs inside its caller's transaction and only flushes. A customer's examples are
capped (SUPPORTBOT_OUTCOME_EXAMPLES_PER_CUSTOMER), a CME's choice outweighs a customer's thumb,
and an example carries its article's version: when the article is edited it stops counting.
`learn_forever` loads the KB's examples into retrieval at start and, debounced, after changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.storage import Conversation, Message, Role, outcomes, store
from bot.storage.models import OutcomeExample, OutcomeSource
from retrieval import LabelledExample, version_key

log = logging.getLogger(__name__)

CUSTOMER_WEIGHT = 0.5  # a thumb: one customer's view, sometimes careless or hostile
ESCALATION_WEIGHT = 0.25  # asking for a person after an answer says less than a thumb down
REPHRASE_WEIGHT = 0.25  # so does asking again
# Cosine similarity (scoring model) from which a new message restates the previous question, as
# sentiment's repeated-question signal counts it.
REPHRASE_SIMILARITY = 0.8
CME_WEIGHT = 1.0  # a CME chose the article (or that there is none)
CME_DECLINE_WEIGHT = 0.5  # a CME replied without an article: likely, not surely, no answer
RELOAD_DEBOUNCE_S = 2.0
# Reload at least this often: another process (`supportbot customer erase`) may have changed them.
RELOAD_EVERY_S = 300.0


def kb_key(bot: Bot) -> str:
    """The name examples are stored under: the KB folder's name."""
    return bot.kb.kb_dir.name or "kb"


def _answer(message: Message) -> str | None:
    """The article a bot message answered with, None when it did not answer from the KB."""
    decision = message.decision or {}
    retrieval = message.retrieval or {}
    hits = retrieval.get("hits") or []
    if decision.get("action") != "answer" or not retrieval.get("answerable") or not hits:
        return None
    return str(hits[0].get("article_id") or "") or None


@dataclass(frozen=True)
class AnsweredQuestion:
    """A customer question the bot answered from an article, as a later turn may judge it."""

    seq: int
    text: str
    vector: np.ndarray | None
    article_id: str


def answered_question(question: Message, reply: Message) -> AnsweredQuestion | None:
    """`question` and the bot's `reply` to it, if the reply was an answer from an article."""
    article_id = _answer(reply)
    if article_id is None or reply.reply_to != question.seq:
        return None
    return AnsweredQuestion(
        question.seq, question.text, store.decode_embedding(question.embedding), article_id
    )


def _record(
    bot: Bot,
    session: Session,
    conversation: Conversation,
    question: Message | AnsweredQuestion,
    *,
    article_id: str | None,
    source: OutcomeSource,
    polarity: int,
    weight: float,
    author_id: int | None = None,
) -> OutcomeExample | None:
    if not bot.settings.learn_from_outcomes:
        return None
    version = None
    if article_id is not None:
        article = bot.kb.article(article_id)
        if article is None:
            return None  # the article is gone: nothing to learn about it
        version = version_key(article)
    example = outcomes.record_example(
        session,
        kb=kb_key(bot),
        query=question.text,
        article_id=article_id,
        article_version=version,
        source=source,
        polarity=polarity,
        weight=weight,
        customer_id=conversation.customer_id,
        conversation_id=conversation.id,
        message_seq=question.seq,
        author_id=author_id,
        customer_cap=bot.settings.outcome_examples_per_customer,
        at=bot.clock(),
    )
    if example is not None:
        bot.outcomes_changed.set()
    return example


def _question(session: Session, conversation_id: str, seq: int) -> Message | None:
    try:
        message = store.get_message(session, conversation_id=conversation_id, seq=seq)
    except store.NotFound:
        return None
    return message if message.role == Role.CUSTOMER else None


def on_feedback(
    bot: Bot, session: Session, conversation: Conversation, *, seq: int, helpful: bool
) -> OutcomeExample | None:
    """A thumb on bot message `seq`: the question it answered, with or against its article."""
    reply = store.get_message(session, conversation_id=conversation.id, seq=seq)
    article_id = _answer(reply)
    if article_id is None or reply.reply_to is None:
        return None
    question = _question(session, conversation.id, reply.reply_to)
    if question is None:
        return None
    return _record(
        bot,
        session,
        conversation,
        question,
        article_id=article_id,
        source=OutcomeSource.THUMBS_UP if helpful else OutcomeSource.THUMBS_DOWN,
        polarity=1 if helpful else -1,
        weight=CUSTOMER_WEIGHT,
    )


def on_customer_turn(
    bot: Bot,
    session: Session,
    conversation: Conversation,
    previous: AnsweredQuestion | None,
    vector: Any,
) -> OutcomeExample | None:
    """The customer asks the question the bot just answered (`previous`, the exchange right
    before this turn, as the pipeline read it) again, in other words: the answer did not help."""
    if previous is None or previous.vector is None:
        return None
    similar = previous.vector.shape == np.shape(vector) and float(previous.vector @ vector)
    if not similar or similar < REPHRASE_SIMILARITY:
        return None
    return _record(
        bot,
        session,
        conversation,
        previous,
        article_id=previous.article_id,
        source=OutcomeSource.REPHRASE,
        polarity=-1,
        weight=REPHRASE_WEIGHT,
    )


def _latest(session: Session, conversation_id: str) -> tuple[Message | None, Message | None]:
    """The customer's latest question and the bot's reply to it (if any)."""
    messages = store.list_messages(session, conversation_id=conversation_id)
    question = next((m for m in reversed(messages) if m.role == Role.CUSTOMER), None)
    if question is None:
        return None, None
    reply = next((m for m in messages if m.role == Role.BOT and m.reply_to == question.seq), None)
    return question, reply


def on_handoff_request(
    bot: Bot, session: Session, conversation: Conversation
) -> OutcomeExample | None:
    """The customer asked for a person right after the bot answered their latest question."""
    question, reply = _latest(session, conversation.id)
    article_id = _answer(reply) if reply is not None else None
    if question is None or article_id is None:
        return None
    return _record(
        bot,
        session,
        conversation,
        question,
        article_id=article_id,
        source=OutcomeSource.ESCALATED_AFTER_ANSWER,
        polarity=-1,
        weight=ESCALATION_WEIGHT,
    )


def on_agent_reply(
    bot: Bot,
    session: Session,
    conversation: Conversation,
    *,
    author_id: int,
    article_id: str | None,
) -> OutcomeExample | None:
    """A CME replied to the customer's latest question: with an article (a canned reply), the
    article answers it; without one, to a question the bot declined, the KB has no answer."""
    question, reply = _latest(session, conversation.id)
    if question is None:
        return None
    if article_id is not None:
        return _record(
            bot,
            session,
            conversation,
            question,
            article_id=article_id,
            source=OutcomeSource.CME_CANNED_REPLY,
            polarity=1,
            weight=CME_WEIGHT,
            author_id=author_id,
        )
    # Declined by the answer gate (not, say, escalated on frustration with a good answer at
    # hand), and in scope: an off-topic question is no gap in the KB.
    gate = (reply.retrieval if reply is not None else None) or {}
    if not gate or gate.get("answerable", True) or not gate.get("in_scope", True):
        return None
    return _record(
        bot,
        session,
        conversation,
        question,
        article_id=None,
        source=OutcomeSource.CME_REPLY_TO_DECLINE,
        polarity=1,
        weight=CME_DECLINE_WEIGHT,
        author_id=author_id,
    )


def as_labelled(example: OutcomeExample) -> LabelledExample:
    """The plain-data form retrieval ranks with."""
    return LabelledExample(
        text=example.query,
        article_id=example.article_id,
        polarity=example.polarity,
        weight=example.weight,
        version=example.article_version,
    )


def load_examples(bot: Bot) -> dict[str, Any]:
    """Give retrieval the KB's current examples; returns how many are used and dropped."""
    with bot.db.read() as session:
        examples = [as_labelled(row) for row in outcomes.list_examples(session, kb=kb_key(bot))]
    return bot.kb.use_examples(examples if bot.settings.learn_from_outcomes else [])


async def learn_forever(bot: Bot) -> None:
    """Load the examples at start, then again a little after each change, until cancelled."""
    bot.outcomes_changed.set()
    loop = asyncio.get_running_loop()
    loaded_at = loop.time()
    while True:
        if loop.time() - loaded_at > RELOAD_EVERY_S:
            bot.outcomes_changed.set()
        if bot.outcomes_changed.is_set() and bot.kb.ready:
            loaded_at = loop.time()
            # Let a burst of feedback (and the transaction that recorded it) settle first.
            await asyncio.sleep(RELOAD_DEBOUNCE_S)
            bot.outcomes_changed.clear()
            try:
                used = await asyncio.to_thread(load_examples, bot)
                log.info("ranking with %(used)d labelled examples (%(dropped)d dropped)", used)
            except Exception:
                log.exception("loading the labelled examples failed; ranking keeps the last set")
        await asyncio.sleep(RELOAD_DEBOUNCE_S / 4)
