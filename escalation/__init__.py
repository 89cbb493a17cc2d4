"""Escalation: when the bot steps aside, and the one-owner handoff state machine."""

from escalation.handoff import (
    HandoffConflict,
    HandoffError,
    IllegalTransition,
    Status,
    Transition,
    bot_may_answer,
    transition,
)
from escalation.policy import Action, Decision, PolicyConfig, Reason, TurnEvidence, decide

__all__ = [
    "Action",
    "Decision",
    "HandoffConflict",
    "HandoffError",
    "IllegalTransition",
    "PolicyConfig",
    "Reason",
    "Status",
    "Transition",
    "TurnEvidence",
    "bot_may_answer",
    "decide",
    "transition",
]
