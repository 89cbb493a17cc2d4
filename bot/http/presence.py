"""CME availability: `GET /api/cme/presence` (everyone, with their load), `POST` (your own)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.cme.assignment import availability, set_presence
from bot.http.deps import BotDep, UserDep
from bot.http.errors import documented_errors
from bot.schemas import TEAM_NAME_PATTERN

router = APIRouter(
    prefix="/api/cme/presence",
    tags=["cme"],
    responses=documented_errors(400, 401, 403, 413, 422, 500),
)

Status = Literal["online", "away", "offline"]


Team = Annotated[str, StringConstraints(pattern=TEAM_NAME_PATTERN)]


class PresenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    teams: list[Team] | None = Field(
        None, max_length=10, description="Your teams (article `team:`); omitted: unchanged"
    )


class CmeAvailability(BaseModel):
    user_id: int
    name: str
    status: Status
    load: int
    teams: list[str]


class PresenceOut(BaseModel):
    auto_assign: bool
    cmes: list[CmeAvailability]


@router.get("", response_model=PresenceOut)
async def get_presence(bot: BotDep, user: UserDep) -> PresenceOut:
    """Every CME's availability (away once not seen for AWAY_AFTER_S) and open conversations."""

    def read() -> list[CmeAvailability]:
        with bot.db.read() as session:
            return [
                CmeAvailability(
                    user_id=a.user_id,
                    name=a.name,
                    status=a.status,  # type: ignore[arg-type]
                    load=a.load,
                    teams=list(a.teams),
                )
                for a in availability(bot, session)
            ]

    return PresenceOut(auto_assign=bot.settings.auto_assign, cmes=await run_in_threadpool(read))


@router.post("", response_model=PresenceOut)
async def post_presence(body: PresenceIn, bot: BotDep, user: UserDep) -> PresenceOut:
    """Set your availability; the console sends it again every minute as a heartbeat."""

    def write() -> None:
        with bot.db.write() as session:
            set_presence(
                session, user_id=user.id, status=body.status, now=bot.clock(), teams=body.teams
            )

    await run_in_threadpool(write)
    return await get_presence(bot, user)
