"""The CME JSON API under /api/cme/: queue, context packet and handoff actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot import accounts, handoff, store
from bot.api import BotDep
from bot.context import context_packet, queue
from bot.handoff import Change
from bot.models import User
from bot.schemas import MAX_MESSAGE_CHARS

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
async def reply(conversation_id: str, body: AgentMessageIn, bot: BotDep, user: UserDep) -> ChangeOut:
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
