"""The CME JSON API under /api/cme/: queue, context packet and handoff actions."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot import accounts, handoff, store
from bot.api import BotDep
from bot.context import context_packet, queue
from bot.handoff import Change
from bot.models import Role, User
from bot.schemas import MAX_MESSAGE_CHARS
from retrieval import Article, KnowledgeBase

router = APIRouter(prefix="/api/cme", tags=["cme"])
bearer = HTTPBearer(auto_error=False, description="A CME's API token")


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The CME making this request: bearer API token, or the console's session cookie."""
    bot = request.app.state.bot
    session_user = getattr(request.state, "cme_user_id", None)
    with bot.db.read() as session:
        if credentials is not None and credentials.credentials:
            user = accounts.user_for_token(session, token=credentials.credentials)
            if user is None:
                raise store.Unauthorized("unknown CME API token")
            return user
        if session_user is not None:
            user = session.get(User, session_user)
            if user is not None:
                return user
    raise store.Unauthorized("sign in, or send Authorization: Bearer <CME API token>")


UserDep = Annotated[User, Depends(current_user)]


class ChangeOut(BaseModel):
    conversation_id: str
    status: str
    owner_id: int | None
    seq: int | None = None

    @classmethod
    def of(cls, change: Change) -> ChangeOut:
        return cls(
            conversation_id=change.conversation_id,
            status=change.status.value,
            owner_id=change.owner_id,
            seq=change.message.seq if change.message else None,
        )


class AgentMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MESSAGE_CHARS)
    ]
    note: bool = False


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: int = Field(ge=1)


class VipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vip: bool


@router.get("/me")
async def me(user: UserDep) -> dict:
    """The signed-in CME."""
    return {"id": user.id, "email": user.email, "name": user.name}


@router.get("/queue")
async def get_queue(bot: BotDep, user: UserDep) -> dict:
    """Open conversations ordered by urgency (frustration, wait, SLA)."""
    return {"conversations": await run_in_threadpool(queue, bot)}


@router.get("/conversations/{conversation_id}")
async def get_context(conversation_id: str, bot: BotDep, user: UserDep) -> dict:
    """The context packet: transcript with scores, why it escalated, what the bot retrieved."""
    return await run_in_threadpool(context_packet, bot, conversation_id)


@router.post("/conversations/{conversation_id}/claim", response_model=ChangeOut)
async def claim(conversation_id: str, bot: BotDep, user: UserDep) -> ChangeOut:
    return ChangeOut.of(await handoff.claim(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/messages", response_model=ChangeOut)
async def reply(
    conversation_id: str, body: AgentMessageIn, bot: BotDep, user: UserDep
) -> ChangeOut:
    """Reply to the customer on their channel, or add an internal note (`note: true`)."""
    change = await handoff.agent_message(
        bot, conversation_id=conversation_id, user=user, text=body.text, note=body.note
    )
    return ChangeOut.of(change)


@router.post("/conversations/{conversation_id}/release", response_model=ChangeOut)
async def release(conversation_id: str, bot: BotDep, user: UserDep) -> ChangeOut:
    return ChangeOut.of(await handoff.release(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/transfer", response_model=ChangeOut)
async def transfer(conversation_id: str, body: TransferIn, bot: BotDep, user: UserDep) -> ChangeOut:
    def target() -> User:
        with bot.db.read() as session:
            to = session.get(User, body.to_user_id)
            if to is None:
                raise store.NotFound(f"CME {body.to_user_id} does not exist")
            return to

    to = await run_in_threadpool(target)
    change = await handoff.transfer(bot, conversation_id=conversation_id, user=user, to=to)
    return ChangeOut.of(change)


@router.post("/conversations/{conversation_id}/hand-back", response_model=ChangeOut)
async def hand_back(conversation_id: str, bot: BotDep, user: UserDep) -> ChangeOut:
    return ChangeOut.of(await handoff.hand_back(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/resolve", response_model=ChangeOut)
async def resolve(conversation_id: str, bot: BotDep, user: UserDep) -> ChangeOut:
    return ChangeOut.of(await handoff.resolve(bot, conversation_id=conversation_id, user=user))


@router.post("/conversations/{conversation_id}/vip", response_model=ChangeOut)
async def vip(conversation_id: str, body: VipIn, bot: BotDep, user: UserDep) -> ChangeOut:
    change = await handoff.set_vip(bot, conversation_id=conversation_id, vip=body.vip)
    return ChangeOut.of(change)


class TypingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool = True


@router.post("/conversations/{conversation_id}/typing")
async def typing(conversation_id: str, body: TypingIn, bot: BotDep, user: UserDep) -> dict:
    """Show the customer that a CME is typing."""
    from bot.events import conversation_topic
    from bot.pipeline import typing_event

    await bot.bus.publish(conversation_topic(conversation_id), typing_event("agent", body.on))
    return {"ok": True}


@router.get("/users")
async def list_users(bot: BotDep, user: UserDep) -> dict:
    """Every CME, for choosing whom to transfer a conversation to."""

    def load() -> list[dict[str, Any]]:
        with bot.db.read() as session:
            return [
                {"id": cme.id, "name": cme.name, "email": cme.email}
                for cme in accounts.list_users(session)
            ]

    return {"users": await run_in_threadpool(load)}


@router.get("/articles")
async def canned_replies(
    bot: BotDep, user: UserDep, q: Annotated[str, Query(max_length=200)] = ""
) -> dict:
    """Canned replies: KB articles whose title holds every word of `q`, with opening and link."""
    words = q.lower().split()
    matches = [
        article
        for article in bot.kb.articles()
        if all(word in article.title.lower() for word in words)
    ]
    return {"articles": [_canned(bot.kb, article) for article in matches[:20]]}


@router.get("/conversations/{conversation_id}/suggestions")
async def suggestions(conversation_id: str, bot: BotDep, user: UserDep) -> dict:
    """KB articles that may answer the customer's latest message, best first."""

    def latest() -> str | None:
        with bot.db.read() as session:
            store.get_conversation(session, conversation_id=conversation_id)
            customer = [
                message
                for message in store.list_messages(session, conversation_id=conversation_id)
                if message.role == Role.CUSTOMER
            ]
            return customer[-1].text if customer else None

    text = await run_in_threadpool(latest)
    if not text:
        return {"query": None, "articles": []}
    result = await run_in_threadpool(bot.kb.search, text, k=5)
    return {
        "query": text,
        "articles": [
            {
                "article_id": hit.article_id,
                "title": hit.title,
                "section": hit.section,
                "url": hit.url,
                "passage": hit.passage,
                "score": round(hit.score, 3),
            }
            for hit in result.hits
        ],
    }


def _canned(kb: KnowledgeBase, article: Article) -> dict[str, Any]:
    return {
        "article_id": article.id,
        "title": article.title,
        "url": kb.url(article.id),
        "passage": first_passage(article.body),
    }


def first_passage(markdown: str) -> str:
    """The article's opening paragraph, headings skipped."""
    lines = [line for line in markdown.splitlines() if not line.lstrip().startswith("#")]
    for block in re.split(r"\n\s*\n", "\n".join(lines)):
        if block.strip():
            return block.strip()
    return ""
