"""The insight metrics' definitions: pure functions from a conversation's history (plain data) to
the facts the dashboard counts. No database here; `rollup.py` feeds these and stores the facts.

Definitions (also in the README and the dashboard's tooltips):

- counted: the conversation has at least one customer turn that is not small talk. Empty and
  greeting-only conversations are in no denominator.
- bot answered: the bot replied with a KB answer. Human (CME) replies never count as answers.
- ended not found: the bot's last substantive reply (an answer or an "I couldn't find an article"
  decline; small talk, off-topic declines and handoff notices are skipped) was the decline. Such a
  conversation is never resolved, whatever the customer said next.
- human involved: the conversation was escalated or a CME wrote to the customer.
- confirmed: bot answered, no human, not ended not found, and the customer said it helped: a
  thumbs-up on an answer, thanks or goodbye after an answer, or CSAT >= 4.
- assumed: bot answered, no human, not ended not found, and no return within 24 h of the last
  message (no reopen, no new conversation from the same customer), once those 24 h have passed.
  "The same customer" is the customer record (`customer_ref`): one person across channels (a
  widget visitor and their Slack user, joined by the identity rules), never an unverified hint.
- durable: confirmed or assumed, and within 7 days of the last message no reopen and no new
  conversation from the same customer on a similar question (cosine of the stored question
  embeddings >= the similarity threshold), once those 7 days have passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from escalation import OfficeHours

ASSUMED_WINDOW = timedelta(hours=24)
DURABLE_WINDOW = timedelta(days=7)
DEFAULT_SIMILARITY = 0.6
CONFIRMED_CSAT = 4
# Peak frustration buckets for the distribution chart: [0, .25), [.25, .5), [.5, .75), [.75, 1].
FRUSTRATION_EDGES = (0.25, 0.5, 0.75)
FRUSTRATION_BUCKETS = ("low", "mild", "high", "severe")

# What each figure means: the dashboard's tooltips and the API's `definitions`.
DEFINITIONS = {
    "counted": "Conversations with at least one customer question (not only greetings or "
    "small talk). Empty and greeting-only conversations are in no denominator.",
    "confirmed": "Bot resolution, confirmed: the bot answered from the KB, no person was "
    "involved, the bot's last substantive reply was not \"I couldn't find an article\", and the "
    "customer said it helped: a thumbs-up on an answer, thanks or goodbye after an answer, or "
    "CSAT 4 or 5.",
    "assumed": "Bot resolution, assumed: answered by the bot, no person involved, not ended on "
    '"I couldn\'t find an article", and no return within 24 h of the last message (no reopen, '
    "no new conversation from the same customer, in any channel). Counted once the 24 h have "
    "passed.",
    "durable": "Bot resolution, durable: confirmed or assumed, and within 7 days no reopen and "
    "no new conversation from the same customer on a similar question (stored question "
    "embeddings at or above INSIGHTS_SIMILARITY). Counted once the 7 days have passed.",
    "ended_not_found": "Conversations whose last substantive bot reply was \"I couldn't find "
    'an article": never counted as resolved.',
    "escalated": "Counted conversations handed to a person (the human queue), over counted "
    "conversations; reasons are counted over escalated conversations (one may have several).",
    "first_response": "Time from an escalation to the first CME reply, counting only office "
    "hours (OFFICE_HOURS); p50 and p90 over answered escalations. SLA met: first reply within "
    "SLA_FIRST_RESPONSE_S office-hours seconds; unanswered escalations still inside the target "
    "are pending and in no denominator.",
    "csat": "CSAT (1-5) split by whether a person was involved. Response rate: ratings over "
    "resolved conversations (each is offered the rating). Satisfied: ratings of 4 or 5.",
    "frustration": "The highest per-turn frustration of each counted conversation, in buckets: "
    "low < 0.25 <= mild < 0.5 <= high < 0.75 <= severe.",
    "volume": "Counted conversations by the day (UTC) they started and channel, and by hour of "
    "the week in the office timezone (for staffing).",
    "nps": "Net Promoter Score: % promoters (9-10) minus % detractors (0-6), with the number of "
    "answers and the response rate: answers over the questions the customers were shown (the "
    "widget showed it, Slack posted it). Questions asked when nobody was watching (an idle "
    "conversation closed by the sweep in a closed widget) are counted apart, not as declined.",
}


@dataclass(frozen=True)
class Turn:
    """One stored message, as the definitions see it."""

    seq: int
    role: str  # customer | bot | agent | system | note
    at: datetime
    action: str | None = None  # a bot reply's decision: answer | clarify | small_talk | escalate
    small_talk: str | None = None  # greeting | thanks | goodbye | chitchat (bot reply or customer)
    off_topic: bool = False
    frustration: float | None = None  # customer turns
    vector: np.ndarray | None = None  # customer turns: the stored embedding
    helpful: bool | None = None  # bot replies: the customer's thumb


@dataclass(frozen=True)
class EscalationRecord:
    created_at: datetime
    first_response_at: datetime | None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class History:
    """A conversation as plain data."""

    id: str
    channel: str
    customer_id: str | None  # the channel's id for the customer: shown, never compared
    created_at: datetime
    turns: Sequence[Turn] = ()
    escalations: Sequence[EscalationRecord] = ()
    csat: int | None = None
    resolved_at: datetime | None = None
    reopened_after: timedelta | None = None  # from a resolution to the first reopen
    reopened_from: str | None = None  # a Slack conversation that continues this one's customer
    # The customer record (conversations.customer_ref): who "the same customer" is, across
    # channels. None (a conversation without one): only a reopen can be its return.
    customer_ref: int | None = None

    @property
    def ended_at(self) -> datetime:
        return max((turn.at for turn in self.turns), default=self.created_at)

    def questions(self) -> list[Turn]:
        """Customer turns that are not small talk."""
        return [t for t in self.turns if t.role == "customer" and t.small_talk is None]

    def question_vectors(self) -> list[np.ndarray]:
        return [t.vector for t in self.questions() if t.vector is not None]


@dataclass(frozen=True)
class Facts:
    """What the dashboard counts about one conversation, computed at `as_of`."""

    conversation_id: str
    channel: str
    customer_id: str | None
    started_at: datetime
    ended_at: datetime
    counted: bool
    bot_answered: bool
    ended_not_found: bool
    human_involved: bool
    confirmed: bool
    assumed: bool
    durable: bool
    escalated: bool
    escalated_at: datetime | None
    reasons: tuple[str, ...]
    first_response_s: float | None  # office-hours seconds to the first human reply
    sla_met: bool | None  # None: unanswered and still inside the target
    resolved: bool
    csat: int | None
    frustration_peak: float | None
    hour_of_week: int  # 0 = Monday 00:00-01:00 in the office timezone
    # When time alone could change these facts (a window closes, an SLA runs out); None: never.
    recheck_at: datetime | None = None
    returns: tuple[str, ...] = field(default=())  # later conversations that count as a return


def counted(history: History) -> bool:
    """Not empty and not greeting-only: some customer turn is a question."""
    return bool(history.questions())


def bot_answered(history: History) -> bool:
    """The bot replied with a KB answer (CME replies never count)."""
    return any(t.role == "bot" and t.action == "answer" for t in history.turns)


def ended_not_found(history: History) -> bool:
    """The bot's last substantive reply was "I couldn't find an article"."""
    for turn in reversed(history.turns):
        if turn.role != "bot":
            continue
        if turn.action == "answer":
            return False
        if turn.action == "clarify" and not turn.off_topic:
            return True
    return False


def human_involved(history: History) -> bool:
    """Escalated, or a CME wrote to the customer."""
    return bool(history.escalations) or any(t.role == "agent" for t in history.turns)


def said_it_helped(history: History) -> bool:
    """A thumbs-up on an answer, thanks/goodbye after an answer, or CSAT >= 4."""
    if history.csat is not None and history.csat >= CONFIRMED_CSAT:
        return True
    answered = False
    for turn in history.turns:
        if turn.role != "bot":
            continue
        if turn.action == "answer":
            answered = True
            if turn.helpful is True:
                return True
        elif answered and turn.action == "small_talk" and turn.small_talk in ("thanks", "goodbye"):
            return True
    return False


def _similar(a: Sequence[np.ndarray], b: Sequence[np.ndarray], threshold: float) -> bool:
    for x in a:
        for y in b:
            if x.shape == y.shape and float(np.dot(x, y)) >= threshold:
                return True
    return False


def returns(
    history: History, later: Sequence[History], *, window: timedelta, similar: float | None
) -> list[str]:
    """Later counted conversations of the same customer record (in any channel) starting within
    `window` after this one ended (on a similar question when `similar` is a threshold); a
    reopen counts as "reopen"."""
    found = []
    if history.reopened_after is not None and history.reopened_after <= window:
        found.append("reopen")
    if history.customer_ref is None:
        return found
    end = history.ended_at
    mine = history.question_vectors()
    for other in later:
        if other.id == history.id or other.customer_ref != history.customer_ref:
            continue
        if not (end < other.created_at <= end + window) or not counted(other):
            continue
        if other.reopened_from == history.id:
            found.append(other.id)
        elif similar is None or _similar(mine, other.question_vectors(), similar):
            found.append(other.id)
    return found


def first_response_s(escalation: EscalationRecord, hours: OfficeHours) -> float | None:
    """Office-hours seconds from the escalation to the first human reply."""
    if escalation.first_response_at is None:
        return None
    return hours.open_seconds(escalation.created_at, escalation.first_response_at)


def frustration_bucket(peak: float) -> str:
    """The distribution bucket of a peak frustration."""
    for edge, name in zip(FRUSTRATION_EDGES, FRUSTRATION_BUCKETS, strict=False):
        if peak < edge:
            return name
    return FRUSTRATION_BUCKETS[-1]


def hour_of_week(at: datetime, hours: OfficeHours) -> int:
    local = at.astimezone(hours.zone)
    return local.weekday() * 24 + local.hour


def facts(
    history: History,
    later: Sequence[History],
    *,
    as_of: datetime,
    hours: OfficeHours,
    sla_s: int,
    similarity: float = DEFAULT_SIMILARITY,
) -> Facts:
    """The facts of one conversation, given the same customer's later conversations."""
    is_counted = counted(history)
    answered = bot_answered(history)
    not_found = ended_not_found(history)
    human = human_involved(history)
    end = history.ended_at
    bot_ok = is_counted and answered and not not_found and not human
    confirmed = bot_ok and said_it_helped(history)
    day_returns = returns(history, later, window=ASSUMED_WINDOW, similar=None)
    week_returns = returns(history, later, window=DURABLE_WINDOW, similar=similarity)
    assumed = bot_ok and as_of >= end + ASSUMED_WINDOW and not day_returns
    durable = (confirmed or assumed) and as_of >= end + DURABLE_WINDOW and not week_returns

    first = history.escalations[0] if history.escalations else None
    response_s = first_response_s(first, hours) if first else None
    sla_met: bool | None = None
    recheck: list[datetime] = []
    if first is not None:
        if response_s is not None:
            sla_met = response_s <= sla_s
        elif hours.open_seconds(first.created_at, as_of) > sla_s:
            sla_met = False
        else:
            recheck.append(as_of + timedelta(seconds=60))
    if bot_ok:
        recheck += [t for t in (end + ASSUMED_WINDOW, end + DURABLE_WINDOW) if t > as_of]
    peaks = [t.frustration for t in history.turns if t.frustration is not None]
    reasons = tuple(dict.fromkeys(code for e in history.escalations for code in e.reasons))
    return Facts(
        conversation_id=history.id,
        channel=history.channel,
        customer_id=history.customer_id,
        started_at=history.created_at,
        ended_at=end,
        counted=is_counted,
        bot_answered=answered,
        ended_not_found=not_found,
        human_involved=human,
        confirmed=confirmed,
        assumed=assumed,
        durable=durable,
        escalated=first is not None,
        escalated_at=first.created_at if first else None,
        reasons=reasons,
        first_response_s=response_s,
        sla_met=sla_met,
        resolved=history.resolved_at is not None,
        csat=history.csat,
        frustration_peak=max(peaks) if peaks else None,
        hour_of_week=hour_of_week(history.created_at, hours),
        recheck_at=min(recheck) if recheck else None,
        returns=tuple(dict.fromkeys(day_returns + week_returns)),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear interpolation, as numpy computes it."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))
