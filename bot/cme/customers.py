"""The customer page and lists for CMEs: identity, channels, a timeline of every conversation
with its outcome, escalations, CSAT and NPS answers, notes, and health with its why and trend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cme.customer_schemas import (
    AccountView,
    CustomerDetail,
    CustomerSummary,
    HealthComponentView,
    HealthPointView,
    HealthView,
    NoteView,
    NpsView,
    TimelineConversation,
    TimelineCsat,
    TimelineEscalation,
)
from bot.cme.recompute import health_config, load_histories
from bot.runtime import Bot
from bot.storage import (
    AccountHealth,
    Conversation,
    Csat,
    Customer,
    Escalation,
    Message,
    NotFound,
    NpsSurvey,
    Role,
    User,
    customers,
)

TREND_POINTS = 90


def summaries(session: Session, rows: Sequence[Customer]) -> list[CustomerSummary]:
    """List rows for these customer records (channels and conversation counts in one query)."""
    ids = [row.id for row in rows]
    channels: dict[int, set[str]] = defaultdict(set)
    counts: dict[int, int] = defaultdict(int)
    verified: dict[int, bool] = defaultdict(bool)
    if ids:
        for ref, channel, is_verified, count in session.execute(
            select(
                Conversation.customer_ref,
                Conversation.channel,
                Conversation.customer_verified,
                func.count(),
            )
            .where(Conversation.customer_ref.in_(ids))
            .group_by(
                Conversation.customer_ref, Conversation.channel, Conversation.customer_verified
            )
        ):
            channels[ref].add(channel)
            counts[ref] += count
            verified[ref] = verified[ref] or bool(is_verified)
    return [
        CustomerSummary(
            id=row.id,
            name=row.name,
            external_id=row.external_id,
            email=row.email,
            company=row.company,
            vip=row.vip,
            verified=verified[row.id] or bool(row.external_id or row.slack_user_id),
            channels=sorted(channels[row.id]),
            conversations=counts[row.id],
            last_seen_at=row.last_seen_at.isoformat(),
            health_score=None if row.health_score is None else round(row.health_score, 1),
            health_tier=row.health_tier,
            health_drop=row.health_drop,
        )
        for row in rows
    ]


def list_customers(bot: Bot, *, at_risk: bool, limit: int, offset: int) -> list[CustomerSummary]:
    """Customers, most recently seen first, or the at-risk ones, biggest recent drop first."""
    with bot.db.read() as session:
        rows = customers.list_customers(session, at_risk=at_risk, limit=limit, offset=offset)
        return summaries(session, rows)


def customer_detail(bot: Bot, customer_id: int) -> CustomerDetail:
    """Everything the customer page shows."""
    now = bot.clock()
    config = health_config(bot.settings)
    with bot.db.read() as session:
        record = customers.get_customer(session, customer_id=customer_id)
        if record is None:
            raise NotFound(f"customer {customer_id} does not exist")
        conversations = customers.customer_conversations(session, customer_id=customer_id)
        ids = [c.id for c in conversations]
        facts = {
            f.id: f
            for f in load_histories(
                session,
                customer_ids=[customer_id],
                since=min((c.created_at for c in conversations), default=now),
            )[customer_id].conversations
        }
        escalations: dict[str, list[TimelineEscalation]] = defaultdict(list)
        for escalation in session.scalars(
            select(Escalation).where(Escalation.conversation_id.in_(ids)).order_by(Escalation.id)
        ):
            escalations[escalation.conversation_id].append(
                TimelineEscalation(
                    created_at=escalation.created_at.isoformat(),
                    reasons=escalation.reasons or [],
                    outcome=escalation.outcome,
                )
            )
        ratings: dict[str, list[TimelineCsat]] = defaultdict(list)
        for csat in session.scalars(
            select(Csat).where(Csat.conversation_id.in_(ids)).order_by(Csat.resolution)
        ):
            ratings[csat.conversation_id].append(
                TimelineCsat(
                    resolution=csat.resolution,
                    rating=csat.rating,
                    reason=csat.reason,
                    comment=csat.comment,
                    created_at=csat.created_at.isoformat(),
                )
            )
        opening = (
            select(Message.conversation_id, func.min(Message.seq).label("seq"))
            .where(Message.conversation_id.in_(ids), Message.role == Role.CUSTOMER)
            .group_by(Message.conversation_id)
            .subquery()
        )
        first = dict(
            session.execute(
                select(Message.conversation_id, Message.text).join(
                    opening,
                    (Message.conversation_id == opening.c.conversation_id)
                    & (Message.seq == opening.c.seq),
                )
            ).all()
        )
        timeline = [
            TimelineConversation(
                id=c.id,
                channel=c.channel,
                status=c.status,
                outcome=facts[c.id].outcome(config, now).value if c.id in facts else "neutral",
                created_at=c.created_at.isoformat(),
                resolved_at=c.resolved_at.isoformat() if c.resolved_at else None,
                first_message=first.get(c.id),
                frustration_peak=facts[c.id].frustration_peak if c.id in facts else None,
                escalations=escalations[c.id],
                csat=ratings[c.id],
            )
            for c in reversed(conversations)
        ]
        surveys = session.scalars(
            select(NpsSurvey)
            .where(NpsSurvey.customer_id == customer_id)
            .order_by(NpsSurvey.asked_at.desc())
        ).all()
        authors = dict(session.execute(select(User.id, User.name)).all())
        notes = [
            NoteView(
                id=note.id,
                text=note.text,
                author_id=note.author_id,
                author_name=authors.get(note.author_id),
                created_at=note.created_at.isoformat(),
            )
            for note in customers.notes(session, customer_id=customer_id)
        ]
        trend = customers.health_history(
            session, customer_id=customer_id, since=now - timedelta(days=TREND_POINTS)
        )
        account = session.get(AccountHealth, record.company) if record.company else None
        summary = summaries(session, [record])[0]
        components = record.health_components or []
        return CustomerDetail(
            customer=summary,
            slack_user_id=record.slack_user_id,
            visitor=record.visitor_id is not None,
            health=HealthView(
                score=summary.health_score,
                tier=record.health_tier,
                drop=record.health_drop,
                computed_at=record.health_at.isoformat() if record.health_at else None,
                population=round(
                    record.health_score - sum(c["contribution"] for c in components), 1
                )
                if record.health_score is not None
                else None,
                why=[HealthComponentView(**c) for c in components],
                trend=[
                    HealthPointView(at=p.at.isoformat(), score=round(p.score, 1), tier=p.tier)
                    for p in trend
                ],
            ),
            account=AccountView(
                company=account.company,
                customers=account.customers,
                score=round(account.score, 1),
                tier=account.tier,
            )
            if account
            else None,
            timeline=timeline,
            nps=[
                NpsView(
                    score=s.score,
                    comment=s.comment,
                    channel=s.channel,
                    asked_at=s.asked_at.isoformat(),
                    answered_at=s.answered_at.isoformat() if s.answered_at else None,
                    shown=s.shown_at is not None or s.score is not None,
                )
                for s in surveys
            ],
            notes=notes,
        )


def add_note(bot: Bot, *, customer_id: int, author: User, text: str) -> NoteView:
    """Store a CME's note on a customer."""
    with bot.db.write() as session:
        if customers.get_customer(session, customer_id=customer_id) is None:
            raise NotFound(f"customer {customer_id} does not exist")
        note = customers.add_note(
            session, customer_id=customer_id, author_id=author.id, text=text, at=bot.clock()
        )
        return NoteView(
            id=note.id,
            text=note.text,
            author_id=author.id,
            author_name=author.name,
            created_at=note.created_at.isoformat(),
        )


def set_vip(bot: Bot, *, customer_id: int, vip: bool) -> None:
    """Mark or unmark a customer as VIP (their open conversations too)."""
    with bot.db.write() as session:
        record = customers.get_customer(session, customer_id=customer_id)
        if record is None:
            raise NotFound(f"customer {customer_id} does not exist")
        record.vip = vip
        for conversation in customers.customer_conversations(session, customer_id=customer_id):
            conversation.vip = vip
