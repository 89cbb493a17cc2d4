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
    unanswered_before: int = 0  # consecutive earlier turns the bot could not answer
    vip: bool = False
    signals: dict[str, float] = field(default_factory=dict)


def decide(evidence: TurnEvidence, config: PolicyConfig | None = None) -> Decision:
    """Answer, clarify, small talk or escalate, with the reasons."""
    config = config or PolicyConfig()
    reasons: list[Reason] = []
    if evidence.human_request:
        reasons.append(Reason("human_request", "the customer asked for a person"))
    if evidence.frustration >= config.frustration_threshold:
        reasons.append(
            Reason(
                "frustration",
                f"frustration {evidence.frustration:.2f} >= {config.frustration_threshold:.2f}",
            )
        )
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
    if not_answered and evidence.unanswered_before + 1 >= config.max_unanswered:
        reasons.append(
            Reason(
                "unanswered",
                f"{evidence.unanswered_before + 1} turns in a row without an answer",
            )
        )
    if evidence.vip and (not_answered or reasons):
        reasons.append(Reason("vip", "VIP customer"))
    if reasons:
        return Decision(Action.ESCALATE, tuple(reasons))
    if evidence.small_talk:
        return Decision(
            Action.SMALL_TALK, (Reason("small_talk", evidence.small_talk),), evidence.small_talk
        )
    if evidence.answerable:
        return Decision(Action.ANSWER, (Reason("answer", f"answered from {evidence.top_article}"),))
    return Decision(
        Action.CLARIFY, (Reason("below_threshold", evidence.gate_reason or "no match"),)
    )
