"""What a CME sees: the urgency-ordered queue and a conversation's context packet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, load_only

from bot.cme.assignment import conversation_teams
from bot.cme.schemas import (
    ContextPacket,
    ConversationView,
    CsatView,
    CustomerView,
    EscalationView,
    FeedbackMark,
    QueueItem,
    Retrieved,
    SummaryView,
    TranscriptMessage,
    TrendPoint,
)
from bot.cme.unread import unread_counts
from bot.conversation import summarize
from bot.runtime import Bot
from bot.schemas import AttachmentOut
from bot.storage import Conversation, Csat, Customer, Escalation, Message, Role, store
from escalation import Status


def _customer(session: Session, conversation: Conversation) -> CustomerView:
    record = session.get(Customer, conversation.customer_ref) if conversation.customer_ref else None
    return _customer_view(conversation, record)


def _customer_view(conversation: Conversation, record: Customer | None) -> CustomerView:
    return CustomerView(
        id=conversation.customer_id,
        name=conversation.customer_name,
        email=conversation.customer_email,
        verified=conversation.customer_verified,
        company=conversation.customer_company,
        record_id=conversation.customer_ref,
        health_score=(
            round(record.health_score, 1)
            if record is not None and record.health_score is not None
            else None  # not computed yet; a score of 0 is a score
        ),
        health_tier=record.health_tier if record else None,
    )


def _escalation(bot: Bot, escalation: Escalation | None, now: datetime) -> EscalationView | None:
    if escalation is None:
        return None
    target = timedelta(seconds=bot.settings.sla_first_response_s)
    answered = escalation.first_response_at
    due = escalation.created_at + target
    return EscalationView(
        id=escalation.id,
        reasons=escalation.reasons,
        trigger_seq=escalation.trigger_seq,
        created_at=escalation.created_at.isoformat(),
        claimed_at=escalation.claimed_at.isoformat() if escalation.claimed_at else None,
        claimed_by=escalation.claimed_by,
        first_response_at=answered.isoformat() if answered else None,
        waiting_seconds=round(((answered or now) - escalation.created_at).total_seconds(), 1),
        sla_due_at=due.isoformat(),
        sla_breached=(answered or now) > due,
    )


def _message(message: Message) -> TranscriptMessage:
    return TranscriptMessage(
        seq=message.seq,
        role=message.role,
        text=message.text,
        created_at=message.created_at.isoformat(),
        author_id=message.author_id,
        citations=message.citations or [],
        confidence=message.confidence,
        scores=message.scores,
        decision=message.decision,
        retrieval=message.retrieval,
        attachments=[AttachmentOut.of(a, cme=True) for a in message.attachments],
    )


def context_packet(bot: Bot, conversation_id: str) -> ContextPacket:
    """Everything a CME needs to take over without asking the customer to repeat themselves."""
    now = bot.clock()
    with bot.db.read() as session:
        conversation = store.get_conversation(session, conversation_id=conversation_id)
        messages = list(
            store.list_messages(session, conversation_id=conversation_id, internal=True)
        )
        escalation = session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id.desc())
        ).first()
        feedback = store.helpful_marks(session, conversation_id=conversation_id)
        customer = _customer(session, conversation)
        rating = session.scalars(  # the latest resolution's rating
            select(Csat)
            .where(Csat.conversation_id == conversation_id)
            .order_by(Csat.resolution.desc())
        ).first()
        csat = (
            CsatView(
                rating=rating.rating,
                comment=rating.comment,
                created_at=rating.created_at.isoformat(),
            )
            if rating is not None
            else None
        )
    summary = summarize(messages)
    return ContextPacket(
        conversation=ConversationView(
            id=conversation.id,
            channel=conversation.channel,
            channel_ref=conversation.channel_ref,
            customer=customer,
            vip=conversation.vip,
            status=conversation.status,  # type: ignore[arg-type]
            owner_id=conversation.owner_id,
            created_at=conversation.created_at.isoformat(),
            reopened_from=conversation.reopened_from,
        ),
        escalation=_escalation(bot, escalation, now),
        summary=SummaryView(
            main_question=summary.main_question, latest_message=summary.latest_message
        ),
        frustration_trend=[
            TrendPoint(seq=m.seq, frustration=(m.scores or {}).get("frustration"))
            for m in messages
            if m.role == Role.CUSTOMER and m.scores
        ],
        retrieved=[
            Retrieved(
                seq=m.seq,
                query=(m.retrieval or {}).get("query"),
                hits=(m.retrieval or {}).get("hits", []),
            )
            for m in messages
            if m.role == Role.CUSTOMER and m.retrieval
        ],
        feedback=[
            FeedbackMark(seq=seq, helpful=helpful) for seq, helpful in sorted(feedback.items())
        ],
        csat=csat,
        transcript=[_message(m) for m in messages],
    )


QUEUE_VIEWS = ("all", "mine", "unassigned", "resolved")
RESOLVED_SHOWN = 50


def _in_view(view: str, user_id: int | None) -> Select[tuple[Conversation]]:
    open_statuses = [Status.WAITING, Status.AGENT]
    match view:
        case "mine":
            where = (Conversation.status == Status.AGENT) & (Conversation.owner_id == user_id)
        case "unassigned":
            where = Conversation.status == Status.WAITING
        case "resolved":
            return (
                select(Conversation)
                .where(Conversation.status == Status.RESOLVED)
                .order_by(Conversation.resolved_at.desc(), Conversation.id)
                .limit(RESOLVED_SHOWN)
            )
        case _:
            where = Conversation.status.in_(open_statuses)
    return select(Conversation).where(where)


def queue(
    bot: Bot, *, view: str = "all", user_id: int | None = None, team: str | None = None
) -> list[QueueItem]:
    """Conversations in a view, most urgent first: all open, mine (claimed by `user_id`),
    unassigned (waiting), or the latest resolved (most recent first); only one team's when
    `team` is given. Each carries `user_id`'s unread count."""
    now = bot.clock()
    with bot.db.read() as session:
        conversations = session.scalars(_in_view(view, user_id)).all()
        rows = queue_items(bot, session, conversations, now)
        if team is not None:
            rows = [row for row in rows if row.team == team]
        if user_id is not None:
            unread = unread_counts(session, user_id=user_id, conversation_ids=[r.id for r in rows])
            for row in rows:
                row.unread = unread.get(row.id, 0)
    if view != "resolved":
        rows.sort(key=lambda row: (row.status != Status.WAITING, -row.urgency))
    return rows


def queue_item(bot: Bot, session: Session, conversation: Conversation, now: datetime) -> QueueItem:
    """One conversation as a queue card, with its urgency."""
    return queue_items(bot, session, [conversation], now)[0]


def queue_items(
    bot: Bot, session: Session, conversations: Sequence[Conversation], now: datetime
) -> list[QueueItem]:
    """Conversations as queue cards, in their order: a fixed number of queries for any number
    of cards (open escalations, customer records, the customers' turns, their files, and the
    latest retrieval of each)."""
    ids = [conversation.id for conversation in conversations]
    if not ids:
        return []
    escalations: dict[str, Escalation] = {}
    for escalation in session.scalars(
        select(Escalation)
        .where(Escalation.conversation_id.in_(ids), Escalation.closed_at.is_(None))
        .order_by(Escalation.id.desc())
    ):
        escalations.setdefault(escalation.conversation_id, escalation)
    refs = {c.customer_ref for c in conversations if c.customer_ref}
    records = (
        {r.id: r for r in session.scalars(select(Customer).where(Customer.id.in_(refs)))}
        if refs
        else {}
    )
    turns: dict[str, list[Message]] = defaultdict(list)
    for message in session.scalars(
        select(Message)
        .options(
            load_only(
                Message.id,
                Message.conversation_id,
                Message.seq,
                Message.role,
                Message.text,
                Message.scores,
            )  # fmt: skip
        )
        .where(Message.conversation_id.in_(ids), Message.role == Role.CUSTOMER)
        .order_by(Message.conversation_id, Message.seq)
    ):
        turns[message.conversation_id].append(message)
    teams = conversation_teams(bot, session, ids)
    return [
        _card(
            bot,
            c,
            _customer_view(c, records.get(c.customer_ref) if c.customer_ref else None),
            escalations.get(c.id),
            turns[c.id],
            teams.get(c.id),
            now,
        )
        for c in conversations
    ]


def _card(
    bot: Bot,
    conversation: Conversation,
    customer: CustomerView,
    escalation: Escalation | None,
    customer_turns: list[Message],
    team: str | None,
    now: datetime,
) -> QueueItem:
    sla = bot.settings.sla_first_response_s
    latest = customer_turns[-1] if customer_turns else None
    info = _escalation(bot, escalation, now)
    frustration = float((latest.scores or {}).get("frustration") or 0) if latest else 0.0
    waited = info.waiting_seconds if info else 0.0
    unanswered = info is not None and info.first_response_at is None
    urgency = (
        frustration
        + (min(waited / sla, 2.0) if unanswered else 0)
        + (1.0 if info and info.sla_breached and unanswered else 0)
        + (0.5 if conversation.vip else 0)
    )
    return QueueItem(
        id=conversation.id,
        status=conversation.status,  # type: ignore[arg-type]
        owner_id=conversation.owner_id,
        channel=conversation.channel,
        customer=customer,
        vip=conversation.vip,
        frustration=round(frustration, 3),
        latest_message=latest.text if latest else None,
        main_question=summarize(customer_turns).main_question,
        team=team,
        escalation=info,
        urgency=round(urgency, 3),
    )
