"""CME availability and automatic assignment.

Each CME sets online, away or offline in the console, which also reports them as seen; an
online CME not seen for AWAY_AFTER_S counts as away. With AUTO_ASSIGN, waiting conversations
(VIP first, then at-risk customers by health tier, then the longest waiting) go to the online
CME with the fewest open conversations under AUTO_ASSIGN_LIMIT, the one given a conversation
longest ago among equals (round-robin).
The hand-over is `bot.conversation.claim`, so a conversation still has exactly one owner: a CME
who claims it first wins, and the assigner moves on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import conversation
from bot.events import QUEUE_TOPIC
from bot.runtime import Bot
from bot.storage import CmePresence, Conversation, Customer, Escalation, Message, Role, User
from escalation import HandoffConflict, Status

log = logging.getLogger(__name__)

AVAILABILITY = ("online", "away", "offline")
SWEEP_S = 5.0  # also catch CMEs coming online and conversations freed up


@dataclass(frozen=True)
class Availability:
    """A CME as assignment sees them."""

    user_id: int
    name: str
    status: str  # effective: online, away or offline
    load: int  # conversations they own now
    last_assigned_at: datetime | None
    teams: tuple[str, ...] = ()


def set_presence(
    session: Session,
    *,
    user_id: int,
    status: str,
    now: datetime,
    teams: list[str] | None = None,
) -> CmePresence:
    """Record a CME's chosen availability (and teams, when given) and that they were seen now."""
    presence = session.get(CmePresence, user_id)
    if presence is None:
        presence = CmePresence(user_id=user_id, status=status, last_seen_at=now, teams="")
        session.add(presence)
    presence.status, presence.last_seen_at = status, now
    if teams is not None:
        presence.teams = ",".join(sorted(set(teams)))
    session.flush()
    return presence


def effective_status(presence: CmePresence | None, *, now: datetime, away_after_s: int) -> str:
    """Online only while seen recently; never set means offline."""
    if presence is None:
        return "offline"
    if presence.status == "online" and now - presence.last_seen_at > timedelta(
        seconds=away_after_s
    ):
        return "away"
    return presence.status


def availability(bot: Bot, session: Session) -> list[Availability]:
    """Every CME with their effective status and load, most available first."""
    now = bot.clock()
    loads = dict(
        session.execute(
            select(Conversation.owner_id, func.count())
            .where(Conversation.status == Status.AGENT)
            .group_by(Conversation.owner_id)
        ).all()
    )
    presences = {p.user_id: p for p in session.scalars(select(CmePresence)).all()}
    rows = []
    for user in session.scalars(select(User).order_by(User.id)).all():
        presence = presences.get(user.id)
        rows.append(
            Availability(
                user_id=user.id,
                name=user.name,
                status=effective_status(presence, now=now, away_after_s=bot.settings.away_after_s),
                load=int(loads.get(user.id, 0)),
                last_assigned_at=presence.last_assigned_at if presence else None,
                teams=tuple(t for t in (presence.teams if presence else "").split(",") if t),
            )
        )
    return rows


def pick(
    candidates: list[Availability], *, limit: int, team: str | None = None
) -> Availability | None:
    """The online CME under `limit` with the lowest load, round-robin among equals; of the
    conversation's team when one of them can take it, else of everyone."""
    online = [c for c in candidates if c.status == "online" and c.load < limit]
    if team and any(team in c.teams for c in online):
        online = [c for c in online if team in c.teams]
    if not online:
        return None
    never = datetime.min.replace(tzinfo=None)
    return min(
        online,
        key=lambda c: (
            c.load,
            c.last_assigned_at.replace(tzinfo=None) if c.last_assigned_at else never,
            c.user_id,
        ),
    )


def conversation_team(bot: Bot, session: Session, conversation_id: str) -> str | None:
    """The team of the article the bot found for the customer's latest question (`team:`)."""
    return conversation_teams(bot, session, [conversation_id]).get(conversation_id)


def conversation_teams(bot: Bot, session: Session, conversation_ids: list[str]) -> dict[str, str]:
    """`conversation_team` of each conversation that has one, in one query."""
    if not conversation_ids:
        return {}
    asked = (
        select(Message.conversation_id, func.max(Message.seq).label("seq"))
        .where(
            Message.conversation_id.in_(conversation_ids),
            Message.role == Role.CUSTOMER,
            Message.retrieval.is_not(None),
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.conversation_id, Message.retrieval).join(
            asked,
            (Message.conversation_id == asked.c.conversation_id) & (Message.seq == asked.c.seq),
        )
    )
    teams: dict[str, str] = {}
    for conversation_id, retrieval in rows:
        hits = (retrieval or {}).get("hits") or []
        article = bot.kb.article(str(hits[0].get("article_id"))) if hits else None
        if article is not None and article.team:
            teams[conversation_id] = article.team
    return teams


@dataclass(frozen=True)
class Waiting:
    """A waiting conversation as the assigner orders it."""

    conversation_id: str
    vip: bool
    at_risk: bool  # the customer's health tier
    since: datetime | None  # when its open escalation began


def assignment_order(waiting: list[Waiting]) -> list[str]:
    """Who goes first: VIP, then at-risk customers, then the longest waiting (then by id)."""
    never = datetime.max.replace(tzinfo=None)
    return [
        w.conversation_id
        for w in sorted(
            waiting,
            key=lambda w: (
                not w.vip,
                not w.at_risk,
                w.since.replace(tzinfo=None) if w.since else never,
                w.conversation_id,
            ),
        )
    ]


def _waiting(session: Session) -> list[str]:
    """Waiting conversations in `assignment_order`."""
    opened = (
        select(Escalation.conversation_id, func.min(Escalation.created_at).label("since"))
        .where(Escalation.closed_at.is_(None))
        .group_by(Escalation.conversation_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Conversation.id, Conversation.vip, Customer.vip, Customer.health_tier, opened.c.since
        )
        .join(opened, opened.c.conversation_id == Conversation.id, isouter=True)
        .join(Customer, Customer.id == Conversation.customer_ref, isouter=True)
        .where(Conversation.status == Status.WAITING)
    ).all()
    return assignment_order(
        [
            Waiting(
                conversation_id=conversation_id,
                vip=bool(vip or customer_vip),
                at_risk=tier == "at_risk",
                since=since,
            )
            for conversation_id, vip, customer_vip, tier, since in rows
        ]
    )


async def assign_waiting(bot: Bot) -> list[tuple[str, int]]:
    """Give waiting conversations to available CMEs; returns (conversation, CME) pairs."""
    assigned: list[tuple[str, int]] = []

    def plan() -> tuple[str, User] | None:
        with bot.db.read() as session:
            waiting = _waiting(session)
            if not waiting:
                return None
            chosen = pick(
                availability(bot, session),
                limit=bot.settings.auto_assign_limit,
                team=conversation_team(bot, session, waiting[0]),
            )
            if chosen is None:
                return None
            user = session.get(User, chosen.user_id)
            return (waiting[0], user) if user is not None else None

    def stamp(user_id: int) -> None:
        with bot.db.write() as session:
            presence = session.get(CmePresence, user_id)
            if presence is not None:
                presence.last_assigned_at = bot.clock()

    skipped: set[str] = set()
    while True:
        step = await asyncio.to_thread(plan)
        if step is None or step[0] in skipped:
            return assigned
        conversation_id, user = step
        try:
            await conversation.claim(bot, conversation_id=conversation_id, user=user)
        except HandoffConflict:
            skipped.add(conversation_id)  # claimed by someone first: still one owner
            continue
        await asyncio.to_thread(stamp, user.id)
        log.info("auto-assigned %s to CME %s", conversation_id, user.id)
        assigned.append((conversation_id, user.id))


async def assign_forever(bot: Bot) -> None:
    """With AUTO_ASSIGN: assign on each new escalation, and every few seconds."""
    if not bot.settings.auto_assign:
        return
    async with bot.bus.subscribe(QUEUE_TOPIC) as events:
        iterator = aiter(events)
        next_event: asyncio.Future[object] | None = None
        try:
            while True:
                if next_event is None:
                    next_event = asyncio.ensure_future(anext(iterator))
                done, _ = await asyncio.wait({next_event}, timeout=SWEEP_S)
                if next_event in done:
                    next_event.result()  # the bus closed this subscriber: StopAsyncIteration
                    next_event = None
                try:
                    await assign_waiting(bot)
                except SQLAlchemyError as exc:  # the database is away: try again next time
                    log.warning("auto-assignment failed, retrying: %s", exc)
        finally:
            if next_event is not None:
                next_event.cancel()
