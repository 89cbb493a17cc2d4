"""The one-owner handoff state machine: every status change goes through `transition`."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    AGENT = "agent"
    RESOLVED = "resolved"


class Transition(StrEnum):
    ESCALATE = "escalate"  # bot -> waiting
    WITHDRAW = "withdraw"  # waiting -> bot: the customer no longer wants a human
    CLAIM = "claim"  # waiting -> agent
    RELEASE = "release"  # agent -> waiting
    TRANSFER = "transfer"  # agent -> agent, another owner
    HAND_BACK = "hand_back"  # agent -> bot
    RESOLVE = "resolve"  # bot | waiting | agent -> resolved
    REOPEN = "reopen"  # resolved -> bot: the customer wrote again


class HandoffError(Exception):
    """Base class for handoff failures."""


class IllegalTransition(HandoffError):
    """The transition is not allowed from the current status."""

    def __init__(self, current: Status, action: Transition) -> None:
        super().__init__(f"cannot {action.value} a conversation whose status is {current.value}")
        self.current = current
        self.action = action


class HandoffConflict(HandoffError):
    """Someone else got there first (a claim race, or a CME who no longer owns the chat)."""


def transition(current: Status | str, action: Transition | str) -> Status:
    """Return the status after `action`, or raise IllegalTransition."""
    current, action = Status(current), Transition(action)
    match (current, action):
        case (Status.BOT, Transition.ESCALATE):
            return Status.WAITING
        case (Status.WAITING, Transition.WITHDRAW):
            return Status.BOT
        case (Status.WAITING, Transition.CLAIM):
            return Status.AGENT
        case (Status.AGENT, Transition.RELEASE):
            return Status.WAITING
        case (Status.AGENT, Transition.TRANSFER):
            return Status.AGENT
        case (Status.AGENT, Transition.HAND_BACK):
            return Status.BOT
        case (Status.BOT | Status.WAITING | Status.AGENT, Transition.RESOLVE):
            return Status.RESOLVED
        case (Status.RESOLVED, Transition.REOPEN):
            return Status.BOT
    raise IllegalTransition(current, action)


def bot_may_answer(status: Status | str) -> bool:
    """The bot never talks over a human: it answers only while it owns the conversation."""
    return Status(status) == Status.BOT
