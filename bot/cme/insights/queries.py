"""The dashboard's read models: aggregates over `conversation_insights` for a date window and
channel, each figure with its denominator and the drill-down that lists its conversations."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, cast, func, select
from sqlalchemy.orm import Session

from bot.cme.insights.definitions import (
    FRUSTRATION_BUCKETS,
    FRUSTRATION_EDGES,
    frustration_bucket,
    percentile,
)
from bot.cme.nps import nps_summary
from bot.storage import ConversationInsight as CI

CSAT_SATISFIED = 4
REASON_CODE = re.compile(r"[a-z_]{1,40}")


class InsightError(ValueError):
    """A drill-down or window the dashboard cannot answer."""


@dataclass(frozen=True)
class Window:
    """Conversations started in [start, end), optionally on one channel."""

    start: datetime
    end: datetime
    channel: str | None = None

    def where(self) -> ColumnElement[bool]:
        clause = and_(CI.started_at >= self.start, CI.started_at < self.end)
        return and_(clause, CI.channel == self.channel) if self.channel else clause


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _day(session: Session) -> Any:
    """The UTC day a conversation started, as YYYY-MM-DD text (stored by the rollup)."""
    return CI.day


def _rate(count: int, denominator: int) -> float | None:
    return round(count / denominator, 4) if denominator else None


def figure(count: int, denominator: int, drill: str) -> dict[str, Any]:
    """A count with its denominator, its rate and the drill-down key of its conversations."""
    return {
        "count": count,
        "denominator": denominator,
        "rate": _rate(count, denominator),
        "drill": drill,
    }


# What each drill-down lists: the condition, over counted conversations unless said otherwise.
DRILLS: dict[str, ColumnElement[bool]] = {
    "counted": CI.counted.is_(True),
    "confirmed": and_(CI.counted.is_(True), CI.confirmed.is_(True)),
    "assumed": and_(CI.counted.is_(True), CI.assumed.is_(True)),
    "durable": and_(CI.counted.is_(True), CI.durable.is_(True)),
    "ended_not_found": and_(CI.counted.is_(True), CI.ended_not_found.is_(True)),
    "escalated": and_(CI.counted.is_(True), CI.escalated.is_(True)),
    "responded": and_(CI.counted.is_(True), CI.first_response_s.is_not(None)),
    "sla_known": and_(CI.counted.is_(True), CI.sla_met.is_not(None)),
    "sla_met": and_(CI.counted.is_(True), CI.sla_met.is_(True)),
    "sla_missed": and_(CI.counted.is_(True), CI.sla_met.is_(False)),
    "bot_only_resolved": and_(
        CI.counted.is_(True), CI.human_involved.is_(False), CI.resolved.is_(True)
    ),
    "bot_only_rated": and_(
        CI.counted.is_(True), CI.human_involved.is_(False), CI.csat.is_not(None)
    ),
    "human_resolved": and_(
        CI.counted.is_(True), CI.human_involved.is_(True), CI.resolved.is_(True)
    ),
    "human_rated": and_(CI.counted.is_(True), CI.human_involved.is_(True), CI.csat.is_not(None)),
    "scored": and_(CI.counted.is_(True), CI.frustration_peak.is_not(None)),
}


def _bucket_condition(name: str) -> ColumnElement[bool]:
    index = FRUSTRATION_BUCKETS.index(name)
    low = FRUSTRATION_EDGES[index - 1] if index > 0 else None
    high = FRUSTRATION_EDGES[index] if index < len(FRUSTRATION_EDGES) else None
    condition = DRILLS["scored"]
    if low is not None:
        condition = and_(condition, CI.frustration_peak >= low)
    if high is not None:
        condition = and_(condition, CI.frustration_peak < high)
    return condition


def resolution(session: Session, window: Window) -> dict[str, Any]:
    """Bot resolution at three levels over counted conversations, totals and by day."""
    columns = (
        _count(CI.counted.is_(True)),
        _count(DRILLS["confirmed"]),
        _count(DRILLS["assumed"]),
        _count(DRILLS["durable"]),
        _count(DRILLS["ended_not_found"]),
    )
    day = _day(session)
    rows = session.execute(
        select(day, *columns).where(window.where()).group_by(day).order_by(day)
    ).all()
    names = ("counted", "confirmed", "assumed", "durable", "ended_not_found")
    totals = dict.fromkeys(names, 0)
    days = []
    for row in rows:
        values = dict(zip(names, (int(v) for v in row[1:]), strict=True))
        for name in names:
            totals[name] += values[name]
        days.append({"day": row[0], **values})
    n = totals["counted"]
    return {
        "denominator": n,
        "confirmed": figure(totals["confirmed"], n, "confirmed"),
        "assumed": figure(totals["assumed"], n, "assumed"),
        "durable": figure(totals["durable"], n, "durable"),
        "ended_not_found": figure(totals["ended_not_found"], n, "ended_not_found"),
        "by_day": days,
    }


def escalations(session: Session, window: Window) -> dict[str, Any]:
    """Escalation rate over counted conversations, and the reasons by day."""
    n = session.scalar(select(_count(CI.counted.is_(True))).where(window.where())) or 0
    # Few distinct reason lists: grouped in SQL, split here.
    codes = cast(CI.reasons, Text)
    rows = session.execute(
        select(CI.day, codes, func.count())
        .where(window.where(), DRILLS["escalated"])
        .group_by(CI.day, codes)
    ).all()
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    escalated_by_day: Counter[str] = Counter()
    for row_day, listed, count in rows:
        escalated_by_day[row_day] += count
        for code in json.loads(listed) if listed else ():
            per_day[row_day][code] += count
            reasons[code] += count
    escalated = sum(escalated_by_day.values())
    return {
        "denominator": int(n),
        "escalated": figure(escalated, int(n), "escalated"),
        # One escalation may carry several reasons: each is counted over escalated conversations.
        "reasons": [
            figure(count, escalated, f"escalated&reason={code}") | {"reason": code}
            for code, count in reasons.most_common()
        ],
        "by_day": [
            {"day": d, "escalated": escalated_by_day[d], "reasons": dict(per_day[d])}
            for d in sorted(escalated_by_day)
        ],
    }


def first_response(session: Session, window: Window) -> dict[str, Any]:
    """Office-hours first-response time of escalations (p50/p90) and SLA met %."""
    rows = session.execute(
        select(CI.first_response_s, CI.sla_met).where(window.where(), DRILLS["escalated"])
    ).all()
    times = [t for t, _ in rows if t is not None]
    known = [met for _, met in rows if met is not None]
    p50, p90 = percentile(times, 50), percentile(times, 90)
    return {
        "escalated": len(rows),
        "responded": figure(len(times), len(rows), "responded"),
        "p50_s": round(p50, 1) if p50 is not None else None,
        "p90_s": round(p90, 1) if p90 is not None else None,
        # Unanswered escalations still inside the target are pending: in no denominator yet.
        "sla_met": figure(sum(known), len(known), "sla_met"),
        "sla_missed": figure(len(known) - sum(known), len(known), "sla_missed"),
    }


def csat(session: Session, window: Window) -> dict[str, Any]:
    """CSAT for bot-only and human-involved conversations, with the response rate."""
    rows = {
        bool(human): values
        for human, *values in session.execute(
            select(
                CI.human_involved,
                _count(CI.resolved.is_(True)),
                _count(CI.csat.is_not(None)),
                _count(CI.csat >= CSAT_SATISFIED),
                func.coalesce(func.sum(CI.csat), 0),
            )
            .where(window.where(), CI.counted.is_(True))
            .group_by(CI.human_involved)
        )
    }
    out: dict[str, Any] = {}
    for group, human in (("bot_only", False), ("human_involved", True)):
        resolved, rated, satisfied, total = (int(v) for v in rows.get(human, (0, 0, 0, 0)))
        prefix = "bot_only" if not human else "human"
        out[group] = {
            "response_rate": figure(rated, resolved, f"{prefix}_rated"),
            "satisfied": figure(satisfied, rated, f"{prefix}_rated"),
            "mean": round(total / rated, 2) if rated else None,
        }
    return out


def frustration(session: Session, window: Window) -> dict[str, Any]:
    """Peak frustration of counted conversations by bucket, totals and by day."""
    day = _day(session)
    columns = [_count(_bucket_condition(name)) for name in FRUSTRATION_BUCKETS]
    rows = session.execute(
        select(day, *columns).where(window.where()).group_by(day).order_by(day)
    ).all()
    totals = dict.fromkeys(FRUSTRATION_BUCKETS, 0)
    days = []
    for row in rows:
        values = dict(zip(FRUSTRATION_BUCKETS, (int(v) for v in row[1:]), strict=True))
        for name in FRUSTRATION_BUCKETS:
            totals[name] += values[name]
        days.append({"day": row[0], **values})
    n = sum(totals.values())
    return {
        "denominator": n,
        "edges": list(FRUSTRATION_EDGES),
        "buckets": {
            name: figure(totals[name], n, f"frustration={name}") for name in FRUSTRATION_BUCKETS
        },
        "by_day": days,
    }


def volume(session: Session, window: Window) -> dict[str, Any]:
    """Counted conversations by day and channel, and by hour of week (office timezone)."""
    day = _day(session)
    counted = CI.counted.is_(True)
    by_day = session.execute(
        select(day, CI.channel, func.count())
        .where(window.where(), counted)
        .group_by(day, CI.channel)
        .order_by(day)
    ).all()
    by_hour = session.execute(
        select(CI.hour_of_week, func.count())
        .where(window.where(), counted)
        .group_by(CI.hour_of_week)
    ).all()
    heatmap = [[0] * 24 for _ in range(7)]
    for hour, count in by_hour:
        heatmap[hour // 24][hour % 24] = int(count)
    channels: Counter[str] = Counter()
    for _, channel, count in by_day:
        channels[channel] += int(count)
    total = sum(channels.values())
    return {
        "denominator": total,
        "channels": {c: figure(n, total, f"counted&channel={c}") for c, n in channels.items()},
        "by_day": [{"day": d, "channel": c, "count": int(n)} for d, c, n in by_day],
        "hour_of_week": heatmap,
    }


def nps(session: Session, w: Window) -> dict[str, Any]:
    """NPS of the questions asked in the window (by the customer's channel), with the answers,
    the questions shown and asked, and the response rate (answers / shown): no answers is no
    score, not a score of 0."""
    summary = nps_summary(session, since=w.start, until=w.end, channel=w.channel)
    return {"available": summary.answers > 0, "score": summary.nps, **summary.to_dict()}


def drill_condition(drill: str) -> tuple[ColumnElement[bool], dict[str, str]]:
    """The condition of a drill-down key: a name from DRILLS or `frustration=<bucket>`, then
    optional `&day=YYYY-MM-DD`, `&channel=`, `&reason=`, `&hour=` (0-167) filters."""
    name, *filters = drill.split("&")
    if name.startswith("frustration="):
        bucket = name.split("=", 1)[1]
        if bucket not in FRUSTRATION_BUCKETS:
            raise InsightError(f"unknown frustration bucket {bucket!r}")
        condition = _bucket_condition(bucket)
    elif name in DRILLS:
        condition = DRILLS[name]
    else:
        raise InsightError(f"unknown drill-down {name!r}; one of {', '.join(sorted(DRILLS))}")
    extra: dict[str, str] = {}
    for item in filters:
        key, _, value = item.partition("=")
        if key not in ("day", "channel", "reason", "hour") or not value:
            raise InsightError(f"unknown drill-down filter {item!r}")
        extra[key] = value
    if "reason" in extra and not REASON_CODE.fullmatch(extra["reason"]):
        raise InsightError("a reason code is lowercase letters and underscores")
    if "channel" in extra:
        condition = and_(condition, CI.channel == extra["channel"])
    if "hour" in extra:
        if not extra["hour"].isdigit() or not 0 <= int(extra["hour"]) < 168:
            raise InsightError("hour is 0-167 (hours since Monday 00:00)")
        condition = and_(condition, CI.hour_of_week == int(extra["hour"]))
    return condition, extra


def drill_down(
    session: Session, window: Window, drill: str, *, limit: int | None = None, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """The conversations behind a figure, newest first: (total, rows of this page)."""
    condition, extra = drill_condition(drill)
    where = [window.where(), condition]
    if "day" in extra:
        where.append(_day(session) == extra["day"])
    if "reason" in extra:
        # The quoted code matches one element of the JSON list; "_" is escaped for LIKE.
        code = extra["reason"].replace("_", "\\_")
        where.append(cast(CI.reasons, Text).like(f'%"{code}"%', escape="\\"))
    total = session.scalar(select(func.count()).select_from(CI).where(*where)) or 0
    statement = (
        select(CI)
        .where(*where)
        .order_by(CI.started_at.desc(), CI.conversation_id)
        .offset(offset)
        .limit(limit)
    )
    return total, [_listed(insight) for insight in session.scalars(statement)]


def _listed(insight: CI) -> dict[str, Any]:
    return {
        "conversation_id": insight.conversation_id,
        "channel": insight.channel,
        "customer_id": insight.customer_id,
        "started_at": insight.started_at.isoformat(),
        "confirmed": insight.confirmed,
        "assumed": insight.assumed,
        "durable": insight.durable,
        "ended_not_found": insight.ended_not_found,
        "human_involved": insight.human_involved,
        "escalated": insight.escalated,
        "reasons": list(insight.reasons or ()),
        "first_response_s": insight.first_response_s,
        "sla_met": insight.sla_met,
        "csat": insight.csat,
        "frustration_peak": insight.frustration_peak,
        "frustration_bucket": frustration_bucket(insight.frustration_peak)
        if insight.frustration_peak is not None
        else None,
    }


DASHBOARD = {
    "resolution": resolution,
    "escalations": escalations,
    "first-response": first_response,
    "csat": csat,
    "frustration": frustration,
    "volume": volume,
    "nps": nps,
}
