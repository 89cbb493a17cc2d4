"""A plain-Python reference of the insight definitions, written separately from bot.cme.insights:
it reads the raw tables and counts, so that the dashboard's rollup and SQL can be checked."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage import Conversation, Csat, Escalation, Feedback, Message

DAY, WEEK = timedelta(days=1), timedelta(days=7)


def reference(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    sla_s: int,
    channel: str | None = None,
    similarity: float = 0.6,
) -> dict:
    conversations = {c.id: c for c in session.scalars(select(Conversation))}
    messages = defaultdict(list)
    for m in session.scalars(select(Message).order_by(Message.seq)):
        if m.role in ("customer", "bot", "agent"):
            messages[m.conversation_id].append(m)
    thumbs = {
        (f.conversation_id, f.message_seq): f.helpful for f in session.scalars(select(Feedback))
    }
    ratings = {c.conversation_id: c.rating for c in session.scalars(select(Csat))}
    escalations = defaultdict(list)
    for e in session.scalars(select(Escalation).order_by(Escalation.id)):
        escalations[e.conversation_id].append(e)

    def questions(cid):
        return [
            m
            for m in messages[cid]
            if m.role == "customer" and not (m.scores or {}).get("small_talk")
        ]

    def ending(cid):
        times = [m.created_at for m in messages[cid]]
        return max(times) if times else conversations[cid].created_at

    def vectors(cid):
        return [np.frombuffer(m.embedding, dtype=np.float32) for m in questions(cid) if m.embedding]

    def returned(cid, window, similar):
        c = conversations[cid]
        if c.reopened_after_s is not None and c.reopened_after_s <= window.total_seconds():
            return True
        if c.customer_ref is None:  # "the same customer" is the record, in any channel
            return False
        for other in conversations.values():
            if other.id == cid or other.customer_ref != c.customer_ref or not questions(other.id):
                continue
            if not ending(cid) < other.created_at <= ending(cid) + window:
                continue
            if not similar or other.reopened_from == cid:
                return True
            if any(float(a @ b) >= similarity for a in vectors(cid) for b in vectors(other.id)):
                return True
        return False

    rows = {}
    for cid, c in conversations.items():
        if not (start <= c.created_at < end) or (channel and c.channel != channel):
            continue
        bot_turns = [m for m in messages[cid] if m.role == "bot"]
        actions = [(m.decision or {}).get("action") for m in bot_turns]
        answered = "answer" in actions
        not_found = False
        for m in reversed(bot_turns):
            d = m.decision or {}
            if d.get("action") == "answer":
                break
            off = any(r.get("code") == "off_topic" for r in d.get("reasons", []))
            if d.get("action") == "clarify" and not off:
                not_found = True
                break
        human = bool(escalations[cid]) or any(m.role == "agent" for m in messages[cid])
        helped = ratings.get(cid, 0) >= 4
        seen_answer = False
        for m in bot_turns:
            d = m.decision or {}
            if d.get("action") == "answer":
                seen_answer = True
                helped = helped or thumbs.get((cid, m.seq)) is True
            elif seen_answer and d.get("small_talk") in ("thanks", "goodbye"):
                helped = True
        counted = bool(questions(cid))
        ok = counted and answered and not not_found and not human
        confirmed = ok and helped
        assumed = ok and now >= ending(cid) + DAY and not returned(cid, DAY, False)
        durable = (
            (confirmed or assumed) and now >= ending(cid) + WEEK and not returned(cid, WEEK, True)
        )
        first = escalations[cid][0] if escalations[cid] else None
        response = sla = None
        if first is not None:
            if first.first_response_at is not None:
                response = (first.first_response_at - first.created_at).total_seconds()
                sla = response <= sla_s
            elif (now - first.created_at).total_seconds() > sla_s:
                sla = False
        peaks = [(m.scores or {}).get("frustration") for m in messages[cid] if m.role == "customer"]
        peaks = [p for p in peaks if p is not None]
        rows[cid] = {
            "counted": counted,
            "confirmed": confirmed,
            "assumed": assumed,
            "durable": durable,
            "not_found": not_found,
            "human": human,
            "escalated": first is not None,
            "reasons": {r["code"] for e in escalations[cid] for r in e.reasons},
            "response": response,
            "sla": sla,
            "resolved": c.resolved_at is not None,
            "csat": ratings.get(cid),
            "peak": max(peaks) if peaks else None,
            "channel": c.channel,
            "how": c.created_at.weekday() * 24 + c.created_at.hour,
        }
    counted = {cid: r for cid, r in rows.items() if r["counted"]}

    def ids(key):
        return {cid for cid, r in counted.items() if r[key]}

    reasons = Counter(code for r in counted.values() if r["escalated"] for code in r["reasons"])
    times = [
        r["response"] for r in counted.values() if r["escalated"] and r["response"] is not None
    ]
    csat = {}
    for group, human in (("bot_only", False), ("human_involved", True)):
        members = [r for r in counted.values() if r["human"] is human]
        rated = [r["csat"] for r in members if r["csat"] is not None]
        csat[group] = {
            "resolved": sum(r["resolved"] for r in members),
            "rated": len(rated),
            "satisfied": sum(x >= 4 for x in rated),
        }
    buckets = Counter()
    for r in counted.values():
        if r["peak"] is not None:
            p = r["peak"]
            buckets[
                "low" if p < 0.25 else "mild" if p < 0.5 else "high" if p < 0.75 else "severe"
            ] += 1
    heat = Counter(r["how"] for r in counted.values())
    return {
        "counted": set(counted),
        "confirmed": ids("confirmed"),
        "assumed": ids("assumed"),
        "durable": ids("durable"),
        "ended_not_found": ids("not_found"),
        "escalated": ids("escalated"),
        "reasons": dict(reasons),
        "p50": float(np.percentile(times, 50)) if times else None,
        "p90": float(np.percentile(times, 90)) if times else None,
        "sla_met": {cid for cid, r in counted.items() if r["sla"] is True},
        "sla_missed": {cid for cid, r in counted.items() if r["sla"] is False},
        "csat": csat,
        "frustration": dict(buckets),
        "channels": dict(Counter(r["channel"] for r in counted.values())),
        "heat": dict(heat),
    }
