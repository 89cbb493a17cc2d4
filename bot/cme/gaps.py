"""The KB gap report for editors: topics of questions the bot declined or escalated, or whose
answer the stored outcome examples mark as a failure (a thumbs-down, a request for a person right
after an answer, a CME answering what the bot declined), ranked by volume x failure rate; and
per article, its share of answers, helpful and unhelpful marks, and articles no one was served."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cme.topics import article_vectors
from bot.conversation.outcomes import kb_key
from bot.runtime import Bot
from bot.storage import OutcomeExample, OutcomeSource, Topic
from bot.storage import insight as insight_store
from escalation import Action

FAILED_SOURCES = {
    OutcomeSource.THUMBS_DOWN,
    OutcomeSource.ESCALATED_AFTER_ANSWER,
    OutcomeSource.CME_REPLY_TO_DECLINE,
    OutcomeSource.REPHRASE,
}


def _failed_turn(decision: dict[str, Any] | None) -> bool:
    """The bot escalated, or declined a question in scope (an off-topic decline is no gap)."""
    decision = decision or {}
    codes = {reason.get("code") for reason in decision.get("reasons", ())}
    if decision.get("action") == Action.ESCALATE:
        return True
    return decision.get("action") == Action.CLARIFY and "off_topic" not in codes


def kb_gaps(
    session: Session,
    *,
    kb: str,
    model_id: str,
    article_ids: list[str],
    article_vectors: np.ndarray,
    now: datetime,
    days: int = 28,
    limit: int = 20,
) -> dict[str, Any]:
    """The gap report over the last `days` (trend: against the `days` before)."""
    middle = now - timedelta(days=days)
    start = now - timedelta(days=2 * days)
    questions = insight_store.questions(session, model_id=model_id, since=start)
    outcomes = session.scalars(
        select(OutcomeExample).where(OutcomeExample.kb == kb, OutcomeExample.created_at >= start)
    ).all()
    outcome_of = {(o.conversation_id, o.message_seq): o for o in outcomes}
    topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.model_id == model_id))}

    volume: Counter[int] = Counter()
    failed: Counter[int] = Counter()
    failed_before: Counter[int] = Counter()
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    examples: dict[int, list[str]] = defaultdict(list)
    answers: Counter[str] = Counter()
    for message in questions:
        outcome = outcome_of.get((message.conversation_id, message.seq))
        decision = message.decision or {}
        recent = message.created_at >= middle
        if recent and decision.get("action") == Action.ANSWER:
            hits = (message.retrieval or {}).get("hits") or []
            if hits:
                answers[hits[0]["article_id"]] += 1
        if message.topic_id is None:
            continue
        why = None
        if outcome is not None and OutcomeSource(outcome.source) in FAILED_SOURCES:
            why = outcome.source
        elif _failed_turn(decision):
            why = f"bot_{decision.get('action')}"
        if not recent:
            failed_before[message.topic_id] += why is not None
            continue
        volume[message.topic_id] += 1
        if why is not None:
            failed[message.topic_id] += 1
            reasons[message.topic_id][why] += 1
            if len(examples[message.topic_id]) < 3:
                examples[message.topic_id].append(message.text[:300])

    gaps = []
    for topic_id, count in failed.items():
        topic = topics.get(topic_id)
        closest, score = None, None
        if topic is not None and len(article_vectors):
            similarity = article_vectors @ np.frombuffer(topic.centroid, dtype=np.float32)
            closest, score = article_ids[int(similarity.argmax())], float(similarity.max())
        rate = count / volume[topic_id]
        gaps.append(
            {
                "topic_id": topic_id,
                "label": topic.label if topic else "",
                "volume": volume[topic_id],
                "failed": count,
                "failure_rate": round(rate, 3),
                "score": round(volume[topic_id] * rate, 3),
                "failed_before": failed_before[topic_id],
                "trend": count - failed_before[topic_id],
                "reasons": dict(reasons[topic_id]),
                "examples": examples[topic_id],
                "closest_article": closest,
                "closest_score": round(score, 3) if score is not None else None,
            }
        )
    gaps.sort(key=lambda gap: (-gap["score"], gap["topic_id"]))

    marks: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes:
        if outcome.created_at >= middle and outcome.article_id:
            if outcome.source == OutcomeSource.THUMBS_UP:
                marks[outcome.article_id]["helpful"] += 1
            elif outcome.source == OutcomeSource.THUMBS_DOWN:
                marks[outcome.article_id]["unhelpful"] += 1
    total = sum(answers.values())
    articles = []
    for article_id in sorted(set(article_ids) | set(answers)):
        helpful, unhelpful = marks[article_id]["helpful"], marks[article_id]["unhelpful"]
        rated = helpful + unhelpful
        articles.append(
            {
                "article_id": article_id,
                "answers": answers[article_id],
                "answer_share": round(answers[article_id] / total, 3) if total else 0.0,
                "helpful": helpful,
                "unhelpful": unhelpful,
                "helpful_rate": round(helpful / rated, 3) if rated else None,
                "unhelpful_rate": round(unhelpful / rated, 3) if rated else None,
            }
        )
    articles.sort(key=lambda a: (-a["answers"], a["article_id"]))
    return {
        "days": days,
        "gaps": gaps[:limit],
        "articles": articles,
        "never_served": [a for a in sorted(article_ids) if answers[a] == 0],
    }


def gaps_table(report: dict[str, Any]) -> str:
    """The report as plain text for a terminal."""
    lines = [f"KB gaps, last {report['days']} days (volume x failure rate)"]
    lines.append(f"{'score':>6} {'fail':>5} {'vol':>5} {'trend':>6}  topic / closest article")
    for gap in report["gaps"]:
        lines.append(
            f"{gap['score']:>6.1f} {gap['failed']:>5} {gap['volume']:>5} {gap['trend']:>+6}  "
            f"{gap['label'][:60]}  [{gap['closest_article']} {gap['closest_score']}]"
        )
    lines.append("")
    lines.append(f"{'answers':>7} {'share':>6} {'+':>4} {'-':>4}  article")
    for article in report["articles"]:
        lines.append(
            f"{article['answers']:>7} {article['answer_share']:>6.1%} {article['helpful']:>4} "
            f"{article['unhelpful']:>4}  {article['article_id']}"
        )
    lines.append("")
    lines.append("never served: " + (", ".join(report["never_served"]) or "none"))
    return "\n".join(lines)


def gap_report(bot: Bot, session: Session, *, days: int = 28) -> dict[str, Any]:
    """The gap report for the running bot's KB and model."""
    article_ids, vectors = article_vectors(bot)
    return kb_gaps(
        session,
        kb=kb_key(bot),
        model_id=bot.embedder.model_id,
        article_ids=article_ids,
        article_vectors=vectors,
        now=bot.clock(),
        days=days,
    )
