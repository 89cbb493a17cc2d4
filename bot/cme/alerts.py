"""Crisis early warning: spikes in volume and frustration per topic and overall, against an
hour-of-week baseline (insight.spikes), and VIP customers growing frustrated. Alerts are stored
with their numbers, examples and affected customers, and handed to `bot.alert_sinks` (the Slack
CME channel) inside the transaction that stores them."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.settings import Settings
from bot.storage import Alert, Conversation, Customer, Message, Role
from bot.storage import insight as insight_store
from insight import (
    Spike,
    SpikeRule,
    expected_count,
    frustration_spike,
    history_offsets,
    rising_frustration,
    shrunk_expected,
    volume_spike,
    windows,
)

log = logging.getLogger(__name__)

EXAMPLES = 3
CUSTOMERS = 20


def spike_rule(settings: Settings) -> SpikeRule:
    """The spike rule the settings describe."""
    return SpikeRule(
        window=settings.alert_window_minutes,
        weeks=settings.alert_baseline_weeks,
        min_count=settings.alert_min_count,
        min_ratio=settings.alert_min_ratio,
        z=settings.alert_z,
        floor=settings.alert_baseline_floor,
        prior_weeks=settings.alert_baseline_prior_weeks,
        shorter=tuple(settings.alert_shorter_windows),
        cooldown=settings.alert_cooldown_minutes,
        frustration_delta=settings.alert_frustration_delta,
    )


def at_risk_customers(session: Session) -> set[int]:
    """Customer records (ids) in the at-risk health tier: watched like VIPs."""
    return set(session.scalars(select(Customer.id).where(Customer.health_tier == "at_risk")))


def _questions(session: Session, start: datetime, end: datetime) -> list[Message]:
    return list(
        session.scalars(
            select(Message).where(
                Message.role == Role.CUSTOMER,
                Message.created_at > start,
                Message.created_at <= end,
            )
        ).all()
    )


def _frustration(message: Message) -> float | None:
    value = (message.scores or {}).get("frustration")
    return float(value) if isinstance(value, int | float) else None


def check_alerts(bot: Bot, session: Session, *, now: datetime | None = None) -> list[Alert]:
    """Look for spikes and frustrated VIPs now; store and announce new alerts."""
    now = now or bot.clock()
    rule = spike_rule(bot.settings)
    window = timedelta(minutes=rule.window)
    recent = _questions(session, now - window, now)
    if not recent:
        return []
    first = session.scalar(
        select(Message.created_at).where(Message.role == Role.CUSTOMER).order_by(Message.id)
    )
    minutes = (now - first).total_seconds() / 60 if first else 0.0
    by_topic: dict[int | None, list[Message]] = defaultdict(list)
    for message in recent:
        by_topic[None].append(message)
        if message.topic_id is not None:
            by_topic[message.topic_id].append(message)
    offsets = history_offsets(minutes, 0.0, rule)
    if not offsets:  # no history yet: nothing to compare with
        return _frustrated_customers(bot, session, recent, now, rule)
    share = _shares(session, now, rule)
    lengths = windows(rule)
    tests = len(set(share) | set(by_topic)) * len(lengths)
    spikes: dict[int | None, list[Spike | None]] = defaultdict(list)
    for length in lengths:
        since = now - timedelta(minutes=length)
        counts = {k: sum(m.created_at > since for m in ms) for k, ms in by_topic.items()}
        history, baseline_frustration = _history(session, now, offsets, length, rule)
        overall = float(expected_count(history[None], rule, length))
        for key, count in counts.items():
            own = float(expected_count(history[key], rule, length))
            expected = float(shrunk_expected(own, overall, share.get(key, 0.0), len(offsets), rule))
            spike = volume_spike(key, count, expected, rule, tests=tests, window=length)
            if spike is not None and not any(spikes[key]):
                spikes[key].append(spike)
            if length == rule.window:
                values = [v for m in by_topic[key] if (v := _frustration(m)) is not None]
                spikes[key].append(frustration_spike(key, values, baseline_frustration[key], rule))
    alerts = []
    for key, found in spikes.items():
        for spike in found:
            if spike is not None and (
                alert := _raise(bot, session, spike, by_topic[key], now, rule)
            ):
                alerts.append(alert)
    alerts.extend(_frustrated_customers(bot, session, recent, now, rule))
    return alerts


def _shares(session: Session, now: datetime, rule: SpikeRule) -> dict[int | None, float]:
    """Each topic's share of all questions over the baseline weeks (None: all, 1.0)."""
    since = now - timedelta(weeks=rule.weeks)
    rows = session.execute(
        select(Message.topic_id, func.count())
        .where(Message.role == Role.CUSTOMER, Message.created_at > since)
        .where(Message.created_at <= now)
        .group_by(Message.topic_id)
    ).all()
    total = sum(count for _, count in rows)
    share: dict[int | None, float] = {None: 1.0}
    for topic_id, count in rows:
        if topic_id is not None and total:
            share[topic_id] = count / total
    return share


def _history(
    session: Session, now: datetime, offsets: list[float], length: int, rule: SpikeRule
) -> tuple[dict[int | None, list[int]], dict[int | None, list[float]]]:
    """Counts of each earlier widened window by topic (None: all), and their frustrations."""
    history: dict[int | None, list[int]] = defaultdict(lambda: [0] * len(offsets))
    frustration: dict[int | None, list[float]] = defaultdict(list)
    history[None] = [0] * len(offsets)
    for number, offset in enumerate(offsets):
        centre = now - timedelta(minutes=offset)
        span = _questions(
            session,
            centre - timedelta(minutes=length + rule.margin),
            centre + timedelta(minutes=rule.margin),
        )
        for message in span:
            for key in (None, message.topic_id) if message.topic_id is not None else (None,):
                history[key][number] += 1
                if (value := _frustration(message)) is not None:
                    frustration[key].append(value)
    return history, frustration


def _raise(
    bot: Bot,
    session: Session,
    spike: Spike,
    messages: list[Message],
    now: datetime,
    rule: SpikeRule,
) -> Alert | None:
    kind = f"{spike.kind}_spike"
    since = now - timedelta(minutes=rule.cooldown)
    if insight_store.last_alert(session, kind=kind, topic_id=spike.topic_id, since=since):
        return None
    subject = "all questions"
    if spike.topic_id is not None:
        topic = session.get(insight_store.Topic, spike.topic_id)
        subject = f"topic “{topic.label}”" if topic else f"topic {spike.topic_id}"
    what = "questions" if spike.kind == "volume" else "mean frustration"
    title = (
        f"{what} on {subject}: {spike.observed:.3g} in {spike.window_minutes} min, "
        f"{spike.ratio:.1f}x the usual {spike.expected:.2g}"
    )
    return _store(bot, session, kind, title, spike.to_dict(), messages, spike.topic_id, None, now)


def _frustrated_customers(
    bot: Bot, session: Session, recent: list[Message], now: datetime, rule: SpikeRule
) -> list[Alert]:
    watched = at_risk_customers(session)
    alerts = []
    for conversation_id in {m.conversation_id for m in recent}:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or not (conversation.vip or conversation.customer_ref in watched):
            continue
        turns = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.role == Role.CUSTOMER)
            .order_by(Message.seq.desc())
            .limit(3)
        ).all()
        values = [v for m in reversed(turns) if (v := _frustration(m)) is not None]
        threshold = bot.settings.alert_customer_frustration
        if not rising_frustration(values, threshold=threshold):
            continue
        since = now - timedelta(minutes=rule.cooldown)
        kind = "customer_frustration"
        if insight_store.last_alert(
            session, kind=kind, conversation_id=conversation_id, since=since
        ):
            continue
        who = conversation.customer_name or conversation.customer_id or conversation_id
        tier = "VIP" if conversation.vip else "at-risk"
        why = {"frustration": values, "threshold": threshold, "tier": tier}
        title = f"{tier} customer {who} is growing frustrated ({values[-1]:.2f})"
        alerts.append(
            _store(bot, session, kind, title, why, list(turns), None, conversation_id, now)
        )
    return alerts


def _store(
    bot: Bot,
    session: Session,
    kind: str,
    title: str,
    why: dict[str, Any],
    messages: list[Message],
    topic_id: int | None,
    conversation_id: str | None,
    now: datetime,
) -> Alert:
    newest = sorted(messages, key=lambda m: m.created_at, reverse=True)
    customers: list[dict[str, Any]] = []
    for conversation_id_ in dict.fromkeys(m.conversation_id for m in newest):
        conversation = session.get(Conversation, conversation_id_)
        if conversation is not None and len(customers) < CUSTOMERS:
            customers.append(
                {
                    "conversation_id": conversation.id,
                    "customer_id": conversation.customer_id,
                    "name": conversation.customer_name,
                    "vip": conversation.vip,
                }
            )
    alert = insight_store.add_alert(
        session,
        kind=kind,
        title=title,
        why=why,
        topic_id=topic_id,
        conversation_id=conversation_id,
        examples=[
            {"conversation_id": m.conversation_id, "seq": m.seq, "text": m.text[:500]}
            for m in newest[:EXAMPLES]
        ],
        customers=customers,
        created_at=now,
    )
    for sink in bot.alert_sinks:
        sink(session, alert)
    log.warning("alert %s: %s", alert.id, title)
    return alert


async def alerts_forever(bot: Bot) -> None:
    """Background: check for alerts every `alert_check_seconds`."""
    while True:
        await asyncio.sleep(bot.settings.alert_check_seconds)
        try:
            await asyncio.to_thread(_check, bot)
        except Exception:  # logged with its traceback; the next round retries
            log.exception("alert check failed; retrying")


def _check(bot: Bot) -> None:
    with bot.db.write() as session:
        check_alerts(bot, session)
