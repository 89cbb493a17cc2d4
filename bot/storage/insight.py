"""Store functions for topics and alerts. Keyword-only, flush, never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.storage.models import Alert, AlertStatus, Message, Role, Topic, utcnow
from bot.storage.store import Conflict, NotFound


def topics(session: Session, *, model_id: str) -> list[Topic]:
    """The current topics of one embedding model."""
    return list(
        session.scalars(select(Topic).where(Topic.model_id == model_id).order_by(Topic.id)).all()
    )


def centroids(rows: Sequence[Topic]) -> dict[int, np.ndarray]:
    """Topic id -> unit centroid."""
    return {row.id: np.frombuffer(row.centroid, dtype=np.float32) for row in rows}


def next_topic_id(session: Session) -> int:
    """An id no topic of any model has used."""
    return int(session.scalar(select(func.max(Topic.id))) or 0) + 1


def replace_topics(
    session: Session,
    *,
    model_id: str,
    centres: Mapping[int, np.ndarray],
    labels: Mapping[int, str],
    articles: Mapping[int, str | None],
    sizes: Mapping[int, int],
    now: datetime | None = None,
) -> None:
    """Make `centres` the model's topics: update kept ids, add new ones, drop the rest (their
    questions lose their topic until assigned again)."""
    now = now or utcnow()
    existing = {row.id: row for row in topics(session, model_id=model_id)}
    for topic_id, centre in centres.items():
        row = existing.pop(topic_id, None)
        if row is None:
            row = Topic(id=topic_id, model_id=model_id, created_at=now)
            session.add(row)
        row.centroid = np.asarray(centre, dtype=np.float32).tobytes()
        row.label = labels.get(topic_id, "")
        row.article_id = articles.get(topic_id)
        row.size = sizes.get(topic_id, 0)
        row.updated_at = now
    if existing:
        session.execute(
            update(Message).where(Message.topic_id.in_(list(existing))).values(topic_id=None)
        )
        for row in existing.values():
            session.delete(row)
    session.flush()


def questions(
    session: Session,
    *,
    model_id: str,
    since: datetime | None = None,
    unassigned: bool = False,
    limit: int | None = None,
) -> list[Message]:
    """Customer messages with a vector of `model_id`, oldest first."""
    statement = select(Message).where(
        Message.role == Role.CUSTOMER,
        Message.embedding.is_not(None),
        Message.embedding_model == model_id,
    )
    if since is not None:
        statement = statement.where(Message.created_at >= since)
    if unassigned:
        statement = statement.where(Message.topic_id.is_(None))
    statement = statement.order_by(Message.created_at, Message.id)
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement).all())


def set_topics(session: Session, *, assignments: Mapping[int, int | None]) -> None:
    """Message id -> topic id."""
    for message_id, topic_id in assignments.items():
        session.execute(update(Message).where(Message.id == message_id).values(topic_id=topic_id))
    session.flush()


def add_alert(session: Session, **fields: object) -> Alert:
    """Store a new open alert."""
    alert = Alert(status=AlertStatus.OPEN, **fields)
    session.add(alert)
    session.flush()
    return alert


def last_alert(
    session: Session,
    *,
    kind: str,
    topic_id: int | None = None,
    conversation_id: str | None = None,
    since: datetime,
) -> Alert | None:
    """The newest alert of this kind and subject since `since` (the cooldown)."""
    statement = select(Alert).where(Alert.kind == kind, Alert.created_at >= since)
    statement = statement.where(
        Alert.topic_id.is_(None) if topic_id is None else Alert.topic_id == topic_id
    )
    if conversation_id is not None:
        statement = statement.where(Alert.conversation_id == conversation_id)
    return session.scalars(statement.order_by(Alert.created_at.desc()).limit(1)).first()


def list_alerts(
    session: Session, *, status: AlertStatus | None = None, limit: int = 100
) -> list[Alert]:
    """Alerts, newest first."""
    statement = select(Alert)
    if status is not None:
        statement = statement.where(Alert.status == status)
    return list(session.scalars(statement.order_by(Alert.id.desc()).limit(limit)).all())


def change_alert(
    session: Session, *, alert_id: int, status: AlertStatus, user_id: int, now: datetime
) -> Alert:
    """Acknowledge or resolve an alert, recording who and when."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if alert.status == AlertStatus.RESOLVED:
        raise Conflict(f"alert {alert_id} is already resolved")
    if status == AlertStatus.ACKNOWLEDGED:
        if alert.status == AlertStatus.ACKNOWLEDGED:
            raise Conflict(f"alert {alert_id} is already acknowledged")
        alert.acknowledged_at, alert.acknowledged_by = now, user_id
    elif status == AlertStatus.RESOLVED:
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, user_id
        alert.resolved_at, alert.resolved_by = now, user_id
    else:
        raise Conflict(f"an alert cannot go back to {status}")
    alert.status = status
    session.flush()
    return alert


def erase_mentions(
    session: Session, *, customer_id: str, conversation_ids: Sequence[str]
) -> dict[str, int]:
    """Erasure: drop a customer's examples and entries from alerts, and blank topic labels
    taken from their questions (the next re-clustering labels those topics anew)."""
    erased = set(conversation_ids)
    changed = 0
    for alert in session.scalars(select(Alert)).all():
        examples = [e for e in alert.examples or [] if e.get("conversation_id") not in erased]
        customers = [
            c
            for c in alert.customers or []
            if c.get("conversation_id") not in erased and c.get("customer_id") != customer_id
        ]
        if len(examples) != len(alert.examples or []) or len(customers) != len(
            alert.customers or []
        ):
            alert.examples, alert.customers = examples, customers
            changed += 1
        if alert.conversation_id in erased:
            alert.conversation_id = None
    texts = set()
    if erased:
        texts = set(
            session.scalars(
                select(Message.text).where(
                    Message.conversation_id.in_(list(erased)), Message.role == Role.CUSTOMER
                )
            ).all()
        )
    relabelled = 0
    for topic in session.scalars(select(Topic)).all():
        if topic.label and any(topic.label == text[: len(topic.label)] for text in texts):
            topic.label = ""
            relabelled += 1
    session.flush()
    return {"alerts": changed, "topic_labels": relabelled}


def conversation_topics(session: Session, *, conversation_id: str) -> list[tuple[int, Topic]]:
    """(seq, topic) of a conversation's customer questions that have a topic."""
    rows = session.execute(
        select(Message.seq, Topic)
        .join(Topic, Topic.id == Message.topic_id)
        .where(Message.conversation_id == conversation_id, Message.role == Role.CUSTOMER)
        .order_by(Message.seq)
    ).all()
    return [(seq, topic) for seq, topic in rows]
