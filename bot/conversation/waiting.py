"""What a waiting customer is told: their place in the queue, how long they have waited against
the first-response SLA, whether the team is on duty, and whether we can follow up by email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.storage import Conversation, Escalation, store
from escalation import Status


@dataclass(frozen=True)
class Wait:
    """The wait as it really is; the widget words it (honestly, once the SLA has passed)."""

    status: Status
    position: int | None  # 1 = next; None when not waiting
    waited_s: float
    sla_s: int
    sla_passed: bool
    team_on_duty: bool
    opens_at: datetime | None  # when the team is next on duty, if it is not now
    email_known: bool
    ask_email: bool  # the SLA has passed or the team is away, and we have no address


def wait_of(bot: Bot, session: Session, conversation: Conversation) -> Wait:
    """The wait of `conversation`, read in `session`."""
    now = bot.clock()
    sla_s = bot.settings.sla_first_response_s
    opens_at = bot.hours.next_open(now)
    email_known = bool(conversation.customer_email)
    escalation = store.current_escalation(session, conversation_id=conversation.id)
    waiting = conversation.status == Status.WAITING and escalation is not None
    if not waiting or escalation is None:
        return Wait(
            Status(conversation.status), None, 0.0, sla_s, False, opens_at is None, opens_at,
            email_known, False,
        )  # fmt: skip
    ahead = session.scalar(
        select(func.count())
        .select_from(Escalation)
        .join(Conversation, Conversation.id == Escalation.conversation_id)
        .where(
            Conversation.status == Status.WAITING,
            Escalation.closed_at.is_(None),
            Escalation.created_at < escalation.created_at,
        )
    )
    waited_s = max(0.0, (now - escalation.created_at).total_seconds())
    sla_passed = waited_s > sla_s
    return Wait(
        status=Status.WAITING,
        position=int(ahead or 0) + 1,
        waited_s=round(waited_s, 1),
        sla_s=sla_s,
        sla_passed=sla_passed,
        team_on_duty=opens_at is None,
        opens_at=opens_at,
        email_known=email_known,
        ask_email=not email_known and (sla_passed or opens_at is not None),
    )


def wait_for(bot: Bot, *, conversation_id: str) -> Wait:
    """The wait of one conversation (its own read)."""
    with bot.db.read() as session:
        conversation = store.get_conversation(session, conversation_id=conversation_id)
        return wait_of(bot, session, conversation)


def leave_email(bot: Bot, *, conversation_id: str, email: str) -> str:
    """Keep the address a waiting customer left for a follow-up; a verified customer's own
    address is not replaced."""
    with bot.db.write() as session:
        conversation = store.get_conversation(session, conversation_id=conversation_id)
        if not conversation.customer_verified or not conversation.customer_email:
            conversation.customer_email = email
        return conversation.customer_email or email
