"""Keeping stored health current: gather each customer's history in a few bulk queries, score
it with `bot.cme.health`, store score, tier, components and a trend point per customer and per
account. Incremental for customers whose conversations changed (`health_stale`), and a full
recompute once a night (`health_forever`, a background task)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.cme.health import (
    Component,
    ConversationFacts,
    CustomerHistory,
    Health,
    HealthConfig,
    NpsAnswer,
    account_health,
    compute_health,
)
from bot.runtime import Bot
from bot.settings import Settings
from bot.storage import (
    AccountHealth,
    Conversation,
    Csat,
    Customer,
    Database,
    Escalation,
    Feedback,
    HealthPoint,
    Message,
    NpsSurvey,
    Role,
    utcnow,
)
from escalation import Action, Status

log = logging.getLogger(__name__)

BATCH = 1000  # customers per query batch (keeps IN lists well under any driver's limit)
POINT_EVERY = timedelta(hours=20)  # an unchanged score still gets a daily trend point
POINT_MIN_CHANGE = 0.5


def health_config(settings: Settings) -> HealthConfig:
    """The health configuration from settings (raises HealthConfigError on unknown names)."""
    return HealthConfig.with_weights(
        settings.health_weights,
        healthy_min=settings.health_healthy_min,
        at_risk_below=settings.health_at_risk_below,
        prior_mass=settings.health_prior_mass,
        window_days=float(settings.health_window_days),
        half_life_days=settings.health_half_life_days,
    )


@dataclass(frozen=True)
class RecomputeReport:
    customers: int
    accounts: int
    seconds: float


def population_mean(session: Session, config: HealthConfig) -> float:
    """The mean stored health of all customers, 0..1 (the default before any is stored)."""
    mean = session.scalar(select(func.avg(Customer.health_score)))
    return config.default_population if mean is None else float(mean) / 100


def load_histories(
    session: Session, *, customer_ids: Sequence[int], since: datetime, whole_range: bool = False
) -> dict[int, CustomerHistory]:
    """Each customer's conversations since `since`, as health facts, and NPS answers.

    `whole_range`: `customer_ids` are every customer between the first and the last (sorted),
    so the queries filter by that range instead of listing ids (faster on large batches)."""
    mine = _among(Conversation.customer_ref, customer_ids, whole_range)
    answered_by = _among(NpsSurvey.customer_id, customer_ids, whole_range)
    recent = (Conversation.created_at >= since) & mine
    ids = select(Conversation.id).where(recent).scalar_subquery()
    conversations = session.execute(
        select(
            Conversation.id,
            Conversation.customer_ref,
            Conversation.created_at,
            Conversation.status,
            Conversation.resolutions,
            Conversation.reopened_from,
        ).where(recent)
    ).all()
    escalations: dict[str, int] = defaultdict(int)
    peaks: dict[str, tuple[float | None, float | None]] = {}
    failures: dict[str, int] = defaultdict(int)
    ratings: dict[str, list[int]] = defaultdict(list)
    for conversation_id, count in session.execute(
        select(Escalation.conversation_id, func.count())
        .where(Escalation.conversation_id.in_(ids))
        .group_by(Escalation.conversation_id)
    ):
        escalations[conversation_id] = count
    frustration = Message.scores["frustration"].as_float()
    for conversation_id, peak, mean in session.execute(
        select(Message.conversation_id, func.max(frustration), func.avg(frustration))
        .where(Message.conversation_id.in_(ids), Message.role == Role.CUSTOMER)
        .group_by(Message.conversation_id)
    ):
        peaks[conversation_id] = (peak, mean)
    # A decline in scope (not an off-topic one) is a failure the customer hit.
    for conversation_id, count in session.execute(
        select(Message.conversation_id, func.count())
        .where(
            Message.conversation_id.in_(ids),
            Message.role == Role.BOT,
            Message.decision["action"].as_string() == Action.CLARIFY.value,
            ~cast(Message.decision, Text).contains('"off_topic"'),
        )
        .group_by(Message.conversation_id)
    ):
        failures[conversation_id] += count
    for conversation_id, count in session.execute(
        select(Feedback.conversation_id, func.count())
        .where(Feedback.conversation_id.in_(ids), Feedback.helpful.is_(False))
        .group_by(Feedback.conversation_id)
    ):
        failures[conversation_id] += count
    for conversation_id, rating in session.execute(
        select(Csat.conversation_id, Csat.rating).where(Csat.conversation_id.in_(ids))
    ):
        ratings[conversation_id].append(rating)
    reopened = set(
        session.scalars(
            select(Conversation.reopened_from).where(Conversation.reopened_from.in_(ids))
        )
    )
    facts: dict[int, list[ConversationFacts]] = defaultdict(list)
    for row in conversations:
        resolved = row.status == Status.RESOLVED
        peak, mean = peaks.get(row.id, (None, None))
        facts[row.customer_ref].append(
            ConversationFacts(
                id=row.id,
                started_at=row.created_at,
                resolved=resolved,
                escalations=escalations[row.id],
                reopened=row.id in reopened
                or (row.resolutions or 0) > 1
                or (not resolved and (row.resolutions or 0) > 0),
                bot_failures=failures[row.id],
                frustration_peak=None if peak is None else float(peak),
                frustration_mean=None if mean is None else float(mean),
                csat=tuple(ratings[row.id]),
            )
        )
    answers: dict[int, list[NpsAnswer]] = defaultdict(list)
    for customer_id, at, score in session.execute(
        select(NpsSurvey.customer_id, NpsSurvey.answered_at, NpsSurvey.score).where(
            answered_by,
            NpsSurvey.score.is_not(None),
            NpsSurvey.answered_at >= since,
        )
    ):
        answers[customer_id].append(NpsAnswer(at=at, score=score))
    return {
        customer_id: CustomerHistory(
            conversations=tuple(facts[customer_id]), nps=tuple(answers[customer_id])
        )
        for customer_id in customer_ids
    }


def recompute(
    db: Database,
    settings: Settings,
    *,
    customer_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> RecomputeReport:
    """Compute and store the health of these customers (all when None) and of their accounts."""
    started = time.perf_counter()
    now = now or utcnow()
    config = health_config(settings)
    whole_range = customer_ids is None
    with db.read() as session:
        if customer_ids is None:
            customer_ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        population = population_mean(session, config)
    companies: set[str] = set()
    for chunk in _chunks(list(customer_ids), BATCH):
        with db.write() as session:
            # Cleared first: a change made while this runs marks the customer stale again.
            session.execute(
                update(Customer)
                .where(_among(Customer.id, chunk, whole_range))
                .values(health_stale=False)
            )
        with db.read() as session:
            since = now - timedelta(days=config.window_days)
            histories = load_histories(
                session, customer_ids=chunk, since=since, whole_range=whole_range
            )
            cutoff = now - timedelta(days=settings.health_trend_days)
            previous = _previous_points(session, chunk, cutoff, whole_range)
            companies.update(
                session.scalars(
                    select(Customer.company).where(
                        _among(Customer.id, chunk, whole_range), Customer.company.is_not(None)
                    )
                )
            )
        results = {
            customer_id: compute_health(history, now=now, config=config, population=population)
            for customer_id, history in histories.items()
        }
        with db.write() as session:
            _store(session, results, previous, now)
    accounts = recompute_accounts(db, companies, now=now, config=config)
    if whole_range:  # the trend is kept for twice the window, no longer
        with db.write() as session:
            horizon = now - timedelta(days=2 * config.window_days)
            session.execute(delete(HealthPoint).where(HealthPoint.at < horizon))
    return RecomputeReport(
        customers=len(customer_ids), accounts=accounts, seconds=time.perf_counter() - started
    )


def recompute_stale(bot: Bot, *, limit: int = BATCH) -> int:
    """Recompute the customers whose conversations changed; how many there were."""
    with bot.db.read() as session:
        stale = list(
            session.scalars(select(Customer.id).where(Customer.health_stale.is_(True)).limit(limit))
        )
    if stale:
        recompute(bot.db, bot.settings, customer_ids=stale, now=bot.clock())
    return len(stale)


def recompute_accounts(
    db: Database, companies: Iterable[str], *, now: datetime, config: HealthConfig
) -> int:
    """Roll these companies' customers up into account health (a few bulk statements)."""
    names = sorted(companies)
    count = 0
    for chunk in _chunks(names, BATCH):
        with db.write() as session:
            members: dict[str, list[Health]] = defaultdict(list)
            for company, score, tier, components in session.execute(
                select(
                    Customer.company,
                    Customer.health_score,
                    Customer.health_tier,
                    Customer.health_components,
                ).where(Customer.company.in_(chunk), Customer.health_score.is_not(None))
            ):
                members[company].append(
                    Health(
                        score=score,
                        tier=tier or config.tier(score),
                        population=0.0,
                        components=tuple(_component(c) for c in components or []),
                    )
                )
            rolled = {
                company: account_health(healths, config=config)
                for company, healths in members.items()
            }
            session.execute(delete(AccountHealth).where(AccountHealth.company.in_(chunk)))
            if rolled:
                session.execute(
                    insert(AccountHealth),
                    [
                        {
                            "company": company,
                            "customers": len(members[company]),
                            "score": health.score,
                            "tier": health.tier,
                            "components": [c.to_dict() for c in health.components],
                            "at": now,
                        }
                        for company, health in rolled.items()
                    ],
                )
                session.execute(
                    insert(HealthPoint),
                    [
                        {"company": company, "score": health.score, "tier": health.tier, "at": now}
                        for company, health in rolled.items()
                    ],
                )
            count += len(rolled)
    return count


async def health_forever(bot: Bot) -> None:
    """Background: recompute stale customers every few seconds, everyone once a night."""
    if bot.settings.health_poll_s <= 0:
        return
    last_full: str | None = None
    while True:
        try:
            now = bot.clock()
            day = now.date().isoformat()
            if now.hour == bot.settings.health_recompute_hour and last_full != day:
                report = await asyncio.to_thread(recompute, bot.db, bot.settings, now=now)
                last_full = day
                log.info(
                    "nightly health recompute: %d customers, %d accounts in %.1fs",
                    report.customers,
                    report.accounts,
                    report.seconds,
                )
            else:
                await asyncio.to_thread(recompute_stale, bot)
        except asyncio.CancelledError:
            raise
        except Exception:  # the loop outlives one failed pass; the next retries
            log.exception("health recompute failed")
        await asyncio.sleep(bot.settings.health_poll_s)


def _previous_points(
    session: Session, customer_ids: Sequence[int], cutoff: datetime, whole_range: bool
) -> dict[int, tuple[float, float | None, datetime | None]]:
    """Per customer: the score at the start of the trend window (the newest point at or before
    `cutoff`, else the oldest after it), and the latest point's score and time."""
    rows = session.execute(
        select(HealthPoint.customer_id, HealthPoint.score, HealthPoint.at)
        .where(
            _among(HealthPoint.customer_id, customer_ids, whole_range),
            HealthPoint.at >= cutoff - timedelta(days=2),
        )
        .order_by(HealthPoint.customer_id, HealthPoint.at, HealthPoint.id)
    ).all()
    found: dict[int, tuple[float, float | None, datetime | None]] = {}
    for customer_id, score, at in rows:
        start, _, _ = found.get(customer_id, (score, None, None))
        if at <= cutoff:
            start = score
        found[customer_id] = (start, score, at)
    return found


def _store(
    session: Session,
    results: dict[int, Health],
    previous: dict[int, tuple[float, float | None, datetime | None]],
    now: datetime,
) -> None:
    updates = []
    points = []
    for customer_id, health in results.items():
        start, last_score, last_at = previous.get(customer_id, (health.score, None, None))
        updates.append(
            {
                "id": customer_id,
                "health_score": health.score,
                "health_tier": health.tier,
                "health_components": [c.to_dict() for c in health.components],
                "health_at": now,
                "health_drop": round(start - health.score, 2),
            }
        )
        changed = last_score is None or abs(last_score - health.score) >= POINT_MIN_CHANGE
        if changed or last_at is None or now - last_at >= POINT_EVERY:
            points.append(
                {"customer_id": customer_id, "score": health.score, "tier": health.tier, "at": now}
            )
    if updates:
        session.execute(update(Customer), updates)
    if points:
        session.execute(insert(HealthPoint), points)


def _component(stored: dict) -> Component:
    return Component(
        name=str(stored["name"]),
        value=float(stored["value"]),
        weight=float(stored["weight"]),
        mass=float(stored.get("mass", 0.0)),
        contribution=float(stored["contribution"]),
        detail=str(stored.get("detail", "")),
    )


def _among(column: Any, ids: Sequence[int], whole_range: bool) -> ColumnElement[bool]:
    """`column` in these ids: a range when they are every id between the first and last."""
    if whole_range and ids:
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
