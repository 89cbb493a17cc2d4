"""Saved replies in the console: `GET/POST /api/cme/saved-replies`, `PUT/DELETE .../{id}`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.cme.saved_replies import VARIABLES, delete_reply, list_saved, save_reply
from bot.http.deps import BotDep, UserDep
from bot.http.errors import documented_errors
from bot.schemas import MAX_DB_INT, CleanText, MessageText
from bot.storage import SavedReply, User

router = APIRouter(
    prefix="/api/cme/saved-replies",
    tags=["cme"],
    responses=documented_errors(400, 401, 403, 404, 413, 422, 500),
)

ReplyId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The saved reply's id")]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), CleanText
]


class SavedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    text: MessageText
    scope: Literal["personal", "team"] = "personal"


class SavedReplyOut(BaseModel):
    id: int
    title: str
    text: str
    scope: Literal["personal", "team"]
    owner_id: int | None
    author_id: int | None = Field(None, description="Who wrote it (unknown for old team replies)")


class SavedRepliesOut(BaseModel):
    replies: list[SavedReplyOut]
    variables: list[str]


def _out(reply: SavedReply) -> SavedReplyOut:
    return SavedReplyOut(
        id=reply.id,
        title=reply.title,
        text=reply.text,
        scope="team" if reply.owner_id is None else "personal",
        owner_id=reply.owner_id,
        author_id=reply.author_id,
    )


@router.get("", response_model=SavedRepliesOut)
async def saved_replies(bot: BotDep, user: UserDep) -> SavedRepliesOut:
    """The team's saved replies and yours, with the variables they may use."""

    def read() -> list[SavedReplyOut]:
        with bot.db.read() as session:
            return [_out(reply) for reply in list_saved(session, user_id=user.id)]

    return SavedRepliesOut(replies=await run_in_threadpool(read), variables=list(VARIABLES))


async def _save(bot: BotDep, user: User, body: SavedReplyIn, reply_id: int | None):
    def write() -> SavedReplyOut:
        with bot.db.write() as session:
            reply = save_reply(
                session,
                user_id=user.id,
                is_admin=user.is_admin,
                title=body.title,
                text=body.text,
                team=body.scope == "team",
                reply_id=reply_id,
            )
            return _out(reply)

    return await run_in_threadpool(write)


@router.post("", response_model=SavedReplyOut, status_code=201)
async def create_saved_reply(body: SavedReplyIn, bot: BotDep, user: UserDep) -> SavedReplyOut:
    """Save a reply for yourself (`personal`) or for every CME (`team`)."""
    return await _save(bot, user, body, None)


@router.put("/{reply_id}", response_model=SavedReplyOut)
async def change_saved_reply(
    reply_id: ReplyId, body: SavedReplyIn, bot: BotDep, user: UserDep
) -> SavedReplyOut:
    """Change a team reply or one of your own; only its author or an admin may make a team
    reply personal."""
    return await _save(bot, user, body, reply_id)


@router.delete("/{reply_id}", status_code=204)
async def remove_saved_reply(reply_id: ReplyId, bot: BotDep, user: UserDep) -> None:
    """Delete a team reply or one of your own."""

    def write() -> None:
        with bot.db.write() as session:
            delete_reply(session, reply_id=reply_id, user_id=user.id)

    await run_in_threadpool(write)
