"""The escalation policy: a pure function from a turn's evidence to a decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    SMALL_TALK = "small_talk"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    action: Action
    reasons: tuple[Reason, ...] = ()
    small_talk: str | None = None

    @property
    def offers_person(self) -> bool:
        """The reply should offer a person (the bot answers first)."""
        return any(reason.code == "offer_person" for reason in self.reasons)

    @property
    def off_topic(self) -> bool:
        """The bot declines a question outside what the KB covers."""
        return any(reason.code == "off_topic" for reason in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reasons": [reason.to_dict() for reason in self.reasons],
            "small_talk": self.small_talk,
        }


@dataclass(frozen=True)
class PolicyConfig:
    """Thresholds; the defaults are calibrated with `supportbot eval escalation`."""

    frustration_threshold: float = 0.5
    # Anger aimed at the service or the bot (0..1) at which frustration escalates at once,
    # before the bot has tried to answer.
    anger_threshold: float = 0.5
    max_unanswered: int = 2
    escalate_on_repeat: bool = True
    # A paraphrase of a question already answered from the same article means the answer did
    # not help. MiniLM puts paraphrases at 0.58-0.65 cosine and real follow-ups at 0.30-0.45.
    repeat_same_article_similarity: float = 0.55


@dataclass(frozen=True)
class TurnEvidence:
    """What the policy sees of one customer turn (built by the pipeline)."""

    frustration: float
    human_request: bool = False
    repeated: bool = False
    # Highest cosine similarity to an earlier question answered from this turn's top article.
    same_article_similarity: float = 0.0
    small_talk: str | None = None
    answerable: bool = False
    top_article: str | None = None
    top_article_escalates: bool = False
    gate_reason: str | None = None
    unanswered_before: int = 0  # consecutive earlier in-scope turns the bot could not answer
    vip: bool = False
    # How clearly the customer is angry at the service or the bot (Scores.anger).
    anger: float = 0.0
    # False when the question is off-topic for this KB: declining it is not a failure.
    in_scope: bool = True
    # The bot already offered a person in this conversation (with an answer or a decline).
    offered_person: bool = False
    # The bot's last reply offered a person, and this turn says yes or that it did not help.
    accepted_offer: bool = False
    not_helped: bool = False
    signals: dict[str, float] = field(default_factory=dict)


def decide(evidence: TurnEvidence, config: PolicyConfig | None = None) -> Decision:
    """Answer, clarify, small talk or escalate, with the reasons.

    Frustration alone does not hand the customer over before the bot has tried: a calm or
    upset problem report gets the answer (or the decline) with the offer of a person, and the
    escalation follows if that did not help. A request for a person, an article marked
    `escalate: true`, or clear anger at the service escalate at once.
    """
    config = config or PolicyConfig()
    reasons: list[Reason] = []
    offers: list[Reason] = []
    if evidence.human_request:
        reasons.append(Reason("human_request", "the customer asked for a person"))
    if evidence.accepted_offer:
        reasons.append(Reason("accepted_offer", "the customer took up the offer of a person"))
    if evidence.frustration >= config.frustration_threshold:
        detail = f"frustration {evidence.frustration:.2f} >= {config.frustration_threshold:.2f}"
        angry = evidence.anger >= config.anger_threshold
        if angry:
            reasons.append(
                Reason("frustration", f"{detail}, angry at the service ({evidence.anger:.2f})")
            )
        elif evidence.offered_person:
            reasons.append(Reason("frustration", f"{detail} after the bot offered a person"))
        else:
            offers.append(Reason("offer_person", f"{detail}: answer first, offer a person"))
    if evidence.not_helped and evidence.offered_person and not evidence.small_talk:
        reasons.append(Reason("not_helped", "the answer did not help and a person was offered"))
    asked_again = evidence.repeated or (
        evidence.answerable
        and evidence.same_article_similarity >= config.repeat_same_article_similarity
    )
    if config.escalate_on_repeat and asked_again and not evidence.small_talk:
        reasons.append(Reason("repeated_question", "the customer asked the same thing again"))
    if evidence.answerable and evidence.top_article_escalates:
        reasons.append(
            Reason("escalate_article", f"article {evidence.top_article} is for a human to handle")
        )
    not_answered = not evidence.answerable and not evidence.small_talk
    counts = not_answered and evidence.in_scope
    if counts and evidence.unanswered_before + 1 >= config.max_unanswered:
        reasons.append(
            Reason(
                "unanswered",
                f"{evidence.unanswered_before + 1} turns in a row without an answer",
            )
        )
    if evidence.vip and (counts or reasons):
        reasons.append(Reason("vip", "VIP customer"))
    if reasons:
        return Decision(Action.ESCALATE, tuple(reasons))
    if evidence.small_talk:
        return Decision(
            Action.SMALL_TALK, (Reason("small_talk", evidence.small_talk),), evidence.small_talk
        )
    if evidence.answerable:
        answer = Reason("answer", f"answered from {evidence.top_article}")
        return Decision(Action.ANSWER, (answer, *offers))
    if not evidence.in_scope:
        return Decision(
            Action.CLARIFY, (Reason("off_topic", "outside what the knowledge base covers"),)
        )
    return Decision(
        Action.CLARIFY,
        (Reason("below_threshold", evidence.gate_reason or "no match"), *offers),
    )
