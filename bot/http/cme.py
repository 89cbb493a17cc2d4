"""The CME JSON API under /api/cme/: queue, context packet, handoff actions, canned replies and
suggestions. Each action is one call into `bot.conversation`; the console is just a client."""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from bot import conversation
from bot.cme import accounts, context_packet, queue
from bot.cme import outcomes as learnt
from bot.cme.schemas import (
    CannedRepliesOut,
    CannedReply,
    ChangeOut,
    CmeView,
    ContextPacket,
    Done,
    ErasureOut,
    OutcomesOut,
    QueueOut,
    ReadOut,
    SearchOut,
    Suggestion,
    SuggestionsOut,
    UsersOut,
)
from bot.cme.search import ConversationQuery, search_conversations
from bot.cme.unread import mark_read
from bot.conversation import Change, suggestion_query
from bot.events import announce_erasure, conversation_topic, typing_event
from bot.http.deps import BotDep, ConversationId, UserDep
from bot.http.errors import documented_errors
from bot.schemas import (
    MAX_DB_INT,
    NO_CONTROL,
    TEAM_NAME_PATTERN,
    JsonInt,
    MessageText,
    StatusName,
    clean_text,
)
from bot.storage import NotFound, User, store
from retrieval import Article, KnowledgeBase

log = logging.getLogger(__name__)

QueueView = Literal["all", "mine", "unassigned", "resolved"]

router = APIRouter(
    prefix="/api/cme",
    tags=["cme"],
    responses=documented_errors(400, 401, 403, 404, 409, 413, 422, 500),
)


def _change(change: Change) -> ChangeOut:
    return ChangeOut(
        conversation_id=change.conversation_id,
        status=change.status.value,
        owner_id=change.owner_id,
        seq=change.message.seq if change.message else None,
    )


class AgentMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: MessageText
    note: StrictBool = False
    article_id: str | None = Field(
        None,
        max_length=300,
        description="The KB article this reply inserts (a canned reply): the customer's "
        "question becomes a labelled example of it",
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: JsonInt = Field(ge=1, le=MAX_DB_INT)


class VipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vip: StrictBool


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: JsonInt | None = Field(
        None, ge=0, le=MAX_DB_INT, description="The last message you saw; omitted: the latest"
    )


class TypingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: StrictBool = True


@router.get("/me", response_model=CmeView)
async def me(user: UserDep) -> CmeView:
    """The signed-in CME."""
    return CmeView(id=user.id, email=user.email, name=user.name, is_admin=user.is_admin)


@router.get("/queue", response_model=QueueOut)
async def get_queue(
    bot: BotDep,
    user: UserDep,
    view: Annotated[QueueView, Query(description="all, mine, unassigned or resolved")] = "all",
    team: Annotated[
        str | None,
        Query(pattern=TEAM_NAME_PATTERN, description="Only conversations routed to this team"),
    ] = None,
) -> QueueOut:
    """Open conversations ordered by urgency (frustration, wait, SLA), or a view of them; the
    resolved view lists the latest resolved conversations. Each carries your unread count."""
    rows = await run_in_threadpool(partial(queue, bot, view=view, user_id=user.id, team=team))
    return QueueOut(conversations=rows)


@router.get("/search", response_model=SearchOut)
async def search(
    bot: BotDep,
    user: UserDep,
    q: Annotated[str, Query(max_length=200, description="Words in a message or the customer")] = "",
    status: Annotated[StatusName | None, Query(description="Only this status")] = None,
    article: Annotated[str | None, Query(max_length=300, description="Cited article id")] = None,
    since: Annotated[date | None, Query(description="Started on or after (UTC)")] = None,
    until: Annotated[date | None, Query(description="Started before (UTC)")] = None,
) -> SearchOut:
    """Search every conversation (open, with the bot and resolved), newest first, up to 50."""
    query = ConversationQuery(  # search text never carries control characters to the database
        text=clean_text(q),
        status=status,
        article_id=clean_text(article) if article else None,
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until, time(), UTC) if until else None,
    )
    return SearchOut(conversations=await run_in_threadpool(search_conversations, bot, query))


@router.get("/conversations/{conversation_id}", response_model=ContextPacket)
async def get_context(conversation_id: ConversationId, bot: BotDep, user: UserDep) -> ContextPacket:
    """The context packet: transcript with scores, why it escalated, what the bot retrieved."""
    return await run_in_threadpool(context_packet, bot, conversation_id)


@router.post("/conversations/{conversation_id}/read", response_model=ReadOut)
async def read(
    conversation_id: ConversationId, bot: BotDep, user: UserDep, body: ReadIn | None = None
) -> ReadOut:
    """Mark the conversation read (up to `seq`) for you; the console does it on opening it."""

    def write() -> int:
        with bot.db.write() as session:
            return mark_read(
                session,
                user_id=user.id,
                conversation_id=conversation_id,
                now=bot.clock(),
                seq=body.seq if body is not None else None,
            )

    last = await run_in_threadpool(write)
    return ReadOut(conversation_id=conversation_id, last_read_seq=last)


@router.post("/conversations/{conversation_id}/claim", response_model=ChangeOut)
async def claim(conversation_id: ConversationId, bot: BotDep, user: UserDep) -> ChangeOut:
    """Take a waiting conversation; of concurrent claims one wins, the rest get 409."""
    return _change(await conversation.claim(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/messages", response_model=ChangeOut)
async def reply(
    conversation_id: ConversationId, body: AgentMessageIn, bot: BotDep, user: UserDep
) -> ChangeOut:
    """Reply to the customer on their channel, or add an internal note (`note: true`)."""
    if body.article_id is not None and bot.kb.article(body.article_id) is None:
        raise NotFound(f"article {body.article_id} does not exist")
    change = await conversation.agent_message(
        bot,
        conversation_id=conversation_id,
        user=user,
        text=body.text,
        note=body.note,
        article_id=body.article_id,
    )
    if body.note:
        # The console stops its indicator when a note is sent; the customer must not see
        # "typing" linger for the indicator's 20 s timeout either.
        await bot.bus.publish(conversation_topic(conversation_id), typing_event("agent", False))
    return _change(change)


@router.post("/conversations/{conversation_id}/release", response_model=ChangeOut)
async def release(conversation_id: ConversationId, bot: BotDep, user: UserDep) -> ChangeOut:
    """Put a claimed conversation back in the queue."""
    return _change(await conversation.release(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/transfer", response_model=ChangeOut)
async def transfer(
    conversation_id: ConversationId, body: TransferIn, bot: BotDep, user: UserDep
) -> ChangeOut:
    """Hand a claimed conversation to another CME."""

    def target() -> User:
        with bot.db.read() as session:
            to = session.get(User, body.to_user_id)
            if to is None:
                raise NotFound(f"CME {body.to_user_id} does not exist")
            return to

    to = await run_in_threadpool(target)
    change = await conversation.transfer(bot, conversation_id=conversation_id, user=user, to=to)
    return _change(change)


@router.post("/conversations/{conversation_id}/hand-back", response_model=ChangeOut)
async def hand_back(conversation_id: ConversationId, bot: BotDep, user: UserDep) -> ChangeOut:
    """Return the conversation to the bot, which starts afresh."""
    return _change(await conversation.hand_back(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/resolve", response_model=ChangeOut)
async def resolve(conversation_id: ConversationId, bot: BotDep, user: UserDep) -> ChangeOut:
    """End the conversation (the owner, or anyone while it is not claimed)."""
    return _change(await conversation.resolve(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/vip", response_model=ChangeOut)
async def vip(
    conversation_id: ConversationId, body: VipIn, bot: BotDep, user: UserDep
) -> ChangeOut:
    """Mark or unmark the customer as VIP."""
    change = await conversation.set_vip(bot, conversation_id=conversation_id, vip=body.vip)
    return _change(change)


@router.post("/conversations/{conversation_id}/typing", response_model=Done)
async def typing(
    conversation_id: ConversationId, body: TypingIn, bot: BotDep, user: UserDep
) -> Done:
    """Show the customer that a CME is typing."""
    await bot.bus.publish(conversation_topic(conversation_id), typing_event("agent", body.on))
    return Done()


@router.delete("/customers", response_model=ErasureOut)
async def erase_customer(
    bot: BotDep,
    user: UserDep,
    customer_id: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=NO_CONTROL,
            description="The customer id the conversations carry (verified id, Slack user, "
            "e-mail or visitor id)",
        ),
    ],
) -> ErasureOut:
    """Erase a customer by the id their conversations carry: every conversation with this
    customer_id, its messages, embeddings, feedback, CSAT, escalations, attachments and Slack
    data, and their customer records; returns a receipt of what was removed. (By the record's
    number: `DELETE /api/cme/customers/{customer_id}`.)"""
    receipt = await run_in_threadpool(
        partial(
            conversation.erase_customer,
            bot.db,
            customer_id,
            bot.erasers,
            files=bot.files,
        )
    )
    log.info("CME %s erased customer data: %d conversations", user.id, len(receipt.conversations))
    bot.outcomes_changed.set()  # retrieval forgets their examples too
    await announce_erasure(bot.bus, receipt.conversations)  # sockets drop what they buffered
    return ErasureOut(
        customer_id=receipt.customer_id,
        conversations=receipt.conversations,
        removed=receipt.removed,
    )


@router.get("/outcomes", response_model=OutcomesOut)
async def list_outcomes(bot: BotDep, user: UserDep) -> OutcomesOut:
    """What retrieval learns from outcomes: labelled examples by source and article, newest
    first, each with whether it still counts (its article unchanged)."""
    return await run_in_threadpool(learnt.outcome_report, bot)


@router.delete("/outcomes/{example_id}", response_model=Done)
async def delete_outcome(
    example_id: Annotated[int, Path(ge=1, le=MAX_DB_INT)], bot: BotDep, user: UserDep
) -> Done:
    """Undo: remove one labelled example; ranking stops using it within seconds."""
    await run_in_threadpool(learnt.undo, bot, example_id)
    log.info("CME %s removed labelled example %d", user.id, example_id)
    return Done()


@router.get("/users", response_model=UsersOut)
async def list_users(bot: BotDep, user: UserDep) -> UsersOut:
    """Every CME, for choosing whom to transfer a conversation to."""

    def load() -> list[CmeView]:
        with bot.db.read() as session:
            return [
                CmeView(id=cme.id, name=cme.name, email=cme.email, is_admin=cme.is_admin)
                for cme in accounts.list_users(session)
            ]

    return UsersOut(users=await run_in_threadpool(load))


@router.get("/articles", response_model=CannedRepliesOut)
async def canned_replies(
    bot: BotDep, user: UserDep, q: Annotated[str, Query(max_length=200)] = ""
) -> CannedRepliesOut:
    """Canned replies: KB articles whose title holds every word of `q`, with opening and link."""
    words = q.lower().split()
    matches = [
        article
        for article in bot.kb.articles()
        if all(word in article.title.lower() for word in words)
    ]
    return CannedRepliesOut(articles=[_canned(bot.kb, article) for article in matches[:20]])


@router.get("/conversations/{conversation_id}/suggestions", response_model=SuggestionsOut)
async def suggestions(
    conversation_id: ConversationId, bot: BotDep, user: UserDep
) -> SuggestionsOut:
    """KB articles that may answer the conversation (its main question and latest turns)."""

    def conversation_text() -> str | None:
        with bot.db.read() as session:
            store.get_conversation(session, conversation_id=conversation_id)
            messages = store.list_messages(session, conversation_id=conversation_id)
            return suggestion_query(messages)

    text = await run_in_threadpool(conversation_text)
    if not text:
        return SuggestionsOut(query=None, articles=[])
    query = await bot.kb.embed_query(text)
    result = await run_in_threadpool(bot.kb.search, query, k=5)
    return SuggestionsOut(
        query=text,
        articles=[
            Suggestion(
                article_id=hit.article_id,
                title=hit.title,
                section=hit.section,
                url=hit.url,
                passage=hit.passage,
                score=round(hit.score, 3),
            )
            for hit in result.hits
        ],
    )


def _canned(kb: KnowledgeBase, article: Article) -> CannedReply:
    return CannedReply(
        article_id=article.id,
        title=article.title,
        url=kb.url(article.id),
        passage=first_passage(article.body),
    )


def first_passage(markdown: str) -> str:
    """The article's opening paragraph, headings skipped."""
    lines = [line for line in markdown.splitlines() if not line.lstrip().startswith("#")]
    for block in re.split(r"\n\s*\n", "\n".join(lines)):
        if block.strip():
            return block.strip()
    return ""
