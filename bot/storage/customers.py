"""Store functions for customer records: who a conversation belongs to, notes, NPS surveys and
stored health. Keyword-only, flush, never commit.

Identity rules, in order: a verified widget identity (`data-customer-id`, signed), a Slack user
id, a verified e-mail. A visitor without a verified identity is one customer per browser (the
widget's visitor id, which `reset()` clears) or, without one, a customer of their own. Nothing
unverified ever joins two customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    Conversation,
    Customer,
    CustomerNote,
    HealthPoint,
    NpsSurvey,
    utcnow,
)

SLACK_CHANNEL = "slack"

MAX_VISITOR_ID_CHARS = 64


@dataclass(frozen=True)
class CustomerKeys:
    """What identifies a customer, verified keys only (visitor id aside: it never merges)."""

    external_id: str | None = None
    slack_user_id: str | None = None
    email: str | None = None
    visitor_id: str | None = None

    def lookups(self) -> list[tuple[str, str]]:
        """(column, value) to look a customer up by, in the order of the identity rules."""
        keys = [
            ("external_id", self.external_id),
            ("slack_user_id", self.slack_user_id),
            ("email", self.email),
            ("visitor_id", self.visitor_id),
        ]
        return [(column, value) for column, value in keys if value]


def keys_for(
    *,
    channel: str,
    customer_id: str | None,
    email: str | None,
    verified: bool,
    visitor_id: str | None,
) -> CustomerKeys:
    """The keys a new conversation's customer is found by (the module docstring's rules)."""
    if verified and customer_id:
        fitting_email = email.lower() if email and len(email) <= MAX_EMAIL_CHARS else None
        if channel == SLACK_CHANNEL:
            return CustomerKeys(slack_user_id=customer_id[:64], email=fitting_email)
        return CustomerKeys(external_id=customer_id, email=fitting_email)
    if visitor_id and len(visitor_id) <= MAX_VISITOR_ID_CHARS:
        return CustomerKeys(visitor_id=visitor_id)
    return CustomerKeys()


def find_customer(session: Session, *, keys: CustomerKeys) -> Customer | None:
    """The customer these keys name, by the first key that matches."""
    for column, value in keys.lookups():
        statement = select(Customer).where(getattr(Customer, column) == value)
        if column == "email" and keys.external_id:
            # An e-mail joins a record without a verified id (a Slack user's), never another id's.
            statement = statement.where(Customer.external_id.is_(None))
        found = session.scalars(statement).first()
        if found is not None:
            return found
    return None


def resolve_customer(
    session: Session,
    *,
    keys: CustomerKeys,
    name: str | None = None,
    company: str | None = None,
    vip: bool = False,
    now: datetime | None = None,
) -> Customer:
    """The customer for these keys, created when none matches; verified details are refreshed.
    Safe against a concurrent creation of the same customer (one wins, the other finds it)."""
    now = now or utcnow()
    for _attempt in range(3):
        customer = find_customer(session, keys=keys)
        if customer is not None:
            break
        try:
            with session.begin_nested():
                customer = Customer(
                    name=name[:MAX_NAME_CHARS] if name else None,
                    company=company[:MAX_NAME_CHARS] if company else None,
                    vip=vip,
                    created_at=now,
                    last_seen_at=now,
                    health_components=[],
                    health_stale=True,
                    **dict(keys.lookups()),
                )
                session.add(customer)
                session.flush()
            return customer
        except IntegrityError:
            continue  # created meanwhile by another transaction: the next lookup finds it
    if customer is None:
        raise RuntimeError("could not create or find the customer")
    _learn_keys(session, customer, keys)
    if name:
        customer.name = name[:MAX_NAME_CHARS]
    if company:
        customer.company = company[:MAX_NAME_CHARS]
    customer.vip = customer.vip or vip
    customer.last_seen_at = now
    customer.health_stale = True
    session.flush()
    return customer


def _learn_keys(session: Session, customer: Customer, keys: CustomerKeys) -> None:
    """Verified keys the customer lacks and nobody else holds (a Slack user whose verified
    e-mail then signs in on the web keeps one record)."""
    for column in ("external_id", "slack_user_id", "email"):
        value = getattr(keys, column)
        if not value or getattr(customer, column):
            continue
        taken = session.scalar(
            select(func.count()).select_from(Customer).where(getattr(Customer, column) == value)
        )
        if not taken:
            setattr(customer, column, value)


def mark_stale(session: Session, *, customer_ref: int | None) -> None:
    """A conversation of this customer changed: their health is computed again soon."""
    if customer_ref is not None:
        session.execute(
            update(Customer).where(Customer.id == customer_ref).values(health_stale=True)
        )


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    """One customer record by its id."""
    return session.get(Customer, customer_id)


def customer_conversations(session: Session, *, customer_id: int) -> Sequence[Conversation]:
    """Every conversation of a customer, oldest first."""
    return session.scalars(
        select(Conversation)
        .where(Conversation.customer_ref == customer_id)
        .order_by(Conversation.created_at)
    ).all()


def list_customers(
    session: Session, *, at_risk: bool = False, limit: int = 100, offset: int = 0
) -> Sequence[Customer]:
    """Customers, the most recently seen first; `at_risk`: only the at-risk tier, the biggest
    recent drop first."""
    statement = select(Customer)
    if at_risk:
        statement = statement.where(Customer.health_tier == "at_risk").order_by(
            func.coalesce(Customer.health_drop, 0.0).desc(), Customer.health_score, Customer.id
        )
    else:
        statement = statement.order_by(Customer.last_seen_at.desc(), Customer.id.desc())
    return session.scalars(statement.limit(limit).offset(offset)).all()


def add_note(
    session: Session, *, customer_id: int, author_id: int | None, text: str, at: datetime
) -> CustomerNote:
    """A CME's note on a customer."""
    note = CustomerNote(customer_id=customer_id, author_id=author_id, text=text, created_at=at)
    session.add(note)
    session.flush()
    return note


def notes(session: Session, *, customer_id: int) -> Sequence[CustomerNote]:
    """A customer's notes, newest first."""
    return session.scalars(
        select(CustomerNote)
        .where(CustomerNote.customer_id == customer_id)
        .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())
    ).all()


def health_history(
    session: Session, *, customer_id: int, since: datetime | None = None
) -> Sequence[HealthPoint]:
    """A customer's stored health over time, oldest first."""
    statement = select(HealthPoint).where(HealthPoint.customer_id == customer_id)
    if since is not None:
        statement = statement.where(HealthPoint.at >= since)
    return session.scalars(statement.order_by(HealthPoint.at, HealthPoint.id)).all()


def customers_of(session: Session, *, customer_id: str) -> list[int]:
    """Customer records an erasure request names: by verified id, Slack user, e-mail or visitor
    id, and those linked to conversations carrying this `customer_id`."""
    direct = select(Customer.id).where(
        or_(
            Customer.external_id == customer_id,
            Customer.slack_user_id == customer_id,
            Customer.email == customer_id.lower(),
            Customer.visitor_id == customer_id,
        )
    )
    linked = select(Conversation.customer_ref).where(
        Conversation.customer_id == customer_id, Conversation.customer_ref.is_not(None)
    )
    return sorted(set(session.scalars(direct)) | set(session.scalars(linked)))


def erase_customers(session: Session, *, customer_ids: list[int]) -> dict[str, int]:
    """Delete customer records with their notes, NPS surveys and health history; their
    conversations must be gone already (or are unlinked here)."""
    removed = {"customers": 0, "customer_notes": 0, "nps_surveys": 0, "health_history": 0}
    if not customer_ids:
        return removed
    session.execute(
        update(Conversation)
        .where(Conversation.customer_ref.in_(customer_ids))
        .values(customer_ref=None)
    )
    for name, model in (
        ("customer_notes", CustomerNote),
        ("nps_surveys", NpsSurvey),
        ("health_history", HealthPoint),
    ):
        removed[name] = session.execute(
            delete(model).where(model.customer_id.in_(customer_ids))
        ).rowcount
    removed["customers"] = session.execute(
        delete(Customer).where(Customer.id.in_(customer_ids))
    ).rowcount
    return removed


def nps_due(session: Session, *, customer_id: int, now: datetime, interval_days: int) -> bool:
    """Whether this customer may be asked the NPS question now: no question was put in front of
    them (shown or answered) within the interval. A question they never saw does not count."""
    last = session.scalar(
        select(func.max(NpsSurvey.asked_at)).where(
            NpsSurvey.customer_id == customer_id,
            or_(NpsSurvey.shown_at.is_not(None), NpsSurvey.score.is_not(None)),
        )
    )
    return last is None or last <= now - timedelta(days=interval_days)


def ask_nps(
    session: Session, *, conversation: Conversation, now: datetime, interval_days: int
) -> NpsSurvey | None:
    """After a resolution: put the NPS question to the conversation's customer if it is due
    (the customer row is locked first, so two resolutions at once ask once). A question the
    customer never saw moves to this conversation instead of a second one being asked."""
    if conversation.customer_ref is None:
        return None
    session.scalars(
        select(Customer.id).where(Customer.id == conversation.customer_ref).with_for_update()
    ).first()
    if not nps_due(
        session, customer_id=conversation.customer_ref, now=now, interval_days=interval_days
    ):
        return None
    survey = session.scalars(
        select(NpsSurvey)
        .where(
            NpsSurvey.customer_id == conversation.customer_ref,
            NpsSurvey.shown_at.is_(None),
            NpsSurvey.score.is_(None),
        )
        .order_by(NpsSurvey.asked_at.desc(), NpsSurvey.id.desc())
    ).first()
    if survey is None:
        survey = NpsSurvey(customer_id=conversation.customer_ref)
        session.add(survey)
    survey.conversation_id, survey.channel, survey.asked_at = (
        conversation.id,
        conversation.channel,
        now,
    )
    session.flush()
    return survey


def mark_nps_shown(session: Session, *, survey: NpsSurvey, now: datetime) -> None:
    """The question is in front of the customer (the widget fetched it to show it, or Slack
    posted it): from now on it is in the response rate's denominator."""
    if survey.shown_at is None:
        survey.shown_at = now
        session.flush()


def pending_nps(session: Session, *, conversation_id: str) -> NpsSurvey | None:
    """The NPS question put after this conversation, if any."""
    return session.scalars(
        select(NpsSurvey)
        .where(NpsSurvey.conversation_id == conversation_id)
        .order_by(NpsSurvey.id.desc())
    ).first()


def answer_nps(
    session: Session, *, survey: NpsSurvey, score: int, comment: str | None, now: datetime
) -> bool:
    """Record the answer to an NPS question; False if it was already answered."""
    if survey.score is not None:
        return False
    survey.score, survey.comment, survey.answered_at = score, comment, now
    survey.shown_at = survey.shown_at or now  # an answer is proof it was seen
    mark_stale(session, customer_ref=survey.customer_id)
    session.flush()
    return True


def comment_nps(session: Session, *, survey: NpsSurvey, comment: str) -> bool:
    """Add a comment to an answered NPS question (Slack asks for it after the click); False if
    it is unanswered or already has one."""
    if survey.score is None or survey.comment:
        return False
    survey.comment = comment
    session.flush()
    return True


def get_survey(session: Session, *, survey_id: int) -> NpsSurvey | None:
    """One NPS question by id."""
    return session.get(NpsSurvey, survey_id)
