"""Escalation: when the bot steps aside, and the one-owner handoff state machine."""

from escalation.hours import OfficeHours, OfficeHoursError
from escalation.policy import Action, Decision, PolicyConfig, Reason, TurnEvidence, decide
from escalation.transitions import (
    HandoffConflict,
    HandoffError,
    IllegalTransition,
    Status,
    Transition,
    bot_may_answer,
    transition,
)

__all__ = [
    "Action",
    "Decision",
    "HandoffConflict",
    "HandoffError",
    "IllegalTransition",
    "OfficeHours",
    "OfficeHoursError",
    "PolicyConfig",
    "Reason",
    "Status",
    "Transition",
    "TurnEvidence",
    "bot_may_answer",
    "decide",
    "transition",
]
