"""Topics of customer questions, kept in the database: each new question joins its nearest
topic (a background job reading the stored turn vectors), and the topics are re-clustered
periodically with ids kept (insight.cluster). Only vectors of the current model are used."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.storage import insight as insight_store
from bot.storage import store
from insight import central_index, cluster, nearest_topic, normalise
from insight.redact import redact

log = logging.getLogger(__name__)

ASSIGN_BATCH = 500
ASSIGN_EVERY_S = 5.0
MIN_QUESTIONS = 20  # fewer questions than this are not clustered yet
ARTICLE_MATCH = 0.5  # a topic maps to an article this similar to its centre


def article_vectors(bot: Bot) -> tuple[list[str], np.ndarray]:
    """Served articles' ids and unit vectors (title and questions, averaged)."""
    articles = bot.kb.articles()
    if not articles:
        return [], np.empty((0, bot.embedder.dim), dtype=np.float32)
    rows = [
        normalise(np.asarray(bot.embedder.encode([a.title, *a.questions]))).mean(axis=0)
        for a in articles
    ]
    return [a.id for a in articles], normalise(np.vstack(rows))


def assign_pending(bot: Bot, session: Session) -> int:
    """Give unassigned questions of the current model their nearest topic; returns how many."""
    model_id = bot.embedder.model_id
    centres = insight_store.centroids(insight_store.topics(session, model_id=model_id))
    if not centres:
        return 0
    pending = insight_store.questions(
        session, model_id=model_id, unassigned=True, limit=ASSIGN_BATCH
    )
    assignments = {}
    for message in pending:
        vector = store.decode_embedding(message.embedding)
        topic_id, _ = nearest_topic(
            vector, centres, min_similarity=bot.settings.topic_min_similarity
        )
        if topic_id is not None:
            assignments[message.id] = topic_id
    insight_store.set_topics(session, assignments=assignments)
    return len(assignments)


def recluster(bot: Bot, session: Session, *, now: datetime | None = None) -> int:
    """Re-cluster the last `topic_window_days` of questions, keeping topic ids; returns the
    number of topics."""
    now = now or bot.clock()
    model_id = bot.embedder.model_id
    since = now - timedelta(days=bot.settings.topic_window_days)
    messages = insight_store.questions(session, model_id=model_id, since=since)
    if len(messages) < MIN_QUESTIONS:
        return len(insight_store.topics(session, model_id=model_id))
    vectors = np.vstack([store.decode_embedding(m.embedding) for m in messages])
    old = insight_store.topics(session, model_id=model_id)
    article_ids, anchors = article_vectors(bot)
    result = cluster(
        vectors,
        article_vectors=anchors,
        previous=insight_store.centroids(old),
        previous_labels=[m.topic_id for m in messages],
        next_id=insight_store.next_topic_id(session),
    )
    labels = np.asarray(result.labels)
    names, mapped, sizes = {}, {}, {}
    for topic_id, centre in result.centroids.items():
        rows = np.flatnonzero(labels == topic_id)
        central = messages[int(rows[central_index(vectors[rows], centre)])]
        names[topic_id] = redact(central.text)[:300]
        sizes[topic_id] = len(rows)
        mapped[topic_id] = None
        if len(anchors):
            similarity = anchors @ centre
            if similarity.max() >= ARTICLE_MATCH:
                mapped[topic_id] = article_ids[int(similarity.argmax())]
    insight_store.replace_topics(
        session,
        model_id=model_id,
        centres=result.centroids,
        labels=names,
        articles=mapped,
        sizes=sizes,
        now=now,
    )
    insight_store.set_topics(
        session, assignments={m.id: label for m, label in zip(messages, result.labels, strict=True)}
    )
    return len(result.centroids)


def topics_step(bot: Bot, last_cluster: datetime | None) -> datetime | None:
    """One round of the background job; returns when topics were last re-clustered. Opens a
    write transaction only when there is something to write."""
    now = bot.clock()
    every = timedelta(hours=bot.settings.topic_recluster_hours)
    model_id = bot.embedder.model_id
    with bot.db.read() as session:
        empty = not insight_store.topics(session, model_id=model_id)
        due = empty or last_cluster is None or now - last_cluster >= every
        pending = insight_store.questions(session, model_id=model_id, unassigned=True, limit=1)
        if due and empty:
            due = len(insight_store.questions(session, model_id=model_id)) >= MIN_QUESTIONS
    if not due and not pending:
        return last_cluster
    with bot.db.write() as session:
        if due:
            recluster(bot, session, now=now)
            last_cluster = now
        assign_pending(bot, session)
    return last_cluster


async def topics_forever(bot: Bot) -> None:
    """Background: assign new questions every few seconds; re-cluster on schedule (and as soon
    as there are enough questions and no topics)."""
    last_cluster: datetime | None = None
    while True:
        try:
            last_cluster = await asyncio.to_thread(topics_step, bot, last_cluster)
        except Exception:  # logged with its traceback; the next round retries
            log.exception("topic assignment failed; retrying")
        await asyncio.sleep(ASSIGN_EVERY_S)


def topic_stats(
    bot: Bot, session: Session, *, days: int = 7, now: datetime | None = None
) -> list[dict]:
    """Each topic of the current model with its label, mapped article, volume in the last `days`
    and the `days` before (the trend), share answered, escalation rate, mean frustration and
    the newest example questions; busiest first."""
    now = now or bot.clock()
    start = now - timedelta(days=2 * days)
    middle = now - timedelta(days=days)
    rows = insight_store.topics(session, model_id=bot.embedder.model_id)
    recent = [
        m
        for m in insight_store.questions(session, model_id=bot.embedder.model_id, since=start)
        if m.topic_id is not None
    ]
    by_topic: dict[int, list] = {row.id: [] for row in rows}
    for message in recent:
        by_topic.setdefault(message.topic_id, []).append(message)
    stats = []
    for row in rows:
        messages = by_topic.get(row.id, [])
        current = [m for m in messages if m.created_at >= middle]
        actions = [(m.decision or {}).get("action") for m in current]
        frustration = [
            float(m.scores["frustration"])
            for m in current
            if isinstance((m.scores or {}).get("frustration"), int | float)
        ]
        stats.append(
            {
                "id": row.id,
                "label": row.label,
                "article_id": row.article_id,
                "size": row.size,
                "volume": len(current),
                "previous_volume": len(messages) - len(current),
                "answered_share": _share(actions, "answer"),
                "escalation_rate": _share(actions, "escalate"),
                "mean_frustration": round(sum(frustration) / len(frustration), 3)
                if frustration
                else None,
                "examples": [
                    {"conversation_id": m.conversation_id, "seq": m.seq, "text": m.text[:300]}
                    for m in sorted(current, key=lambda m: m.created_at, reverse=True)[:3]
                ],
            }
        )
    return sorted(stats, key=lambda s: (-s["volume"], s["id"]))


def _share(actions: list, action: str) -> float | None:
    decided = [a for a in actions if a]
    return round(sum(a == action for a in decided) / len(decided), 3) if decided else None
