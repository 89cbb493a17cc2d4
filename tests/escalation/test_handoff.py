"""The handoff state machine: every legal transition, and every illegal one raises."""

from __future__ import annotations

import itertools

import pytest

from escalation import IllegalTransition, Status, Transition, bot_may_answer, transition

LEGAL = {
    (Status.BOT, Transition.ESCALATE): Status.WAITING,
    (Status.WAITING, Transition.WITHDRAW): Status.BOT,
    (Status.WAITING, Transition.CLAIM): Status.AGENT,
    (Status.AGENT, Transition.RELEASE): Status.WAITING,
    (Status.AGENT, Transition.TRANSFER): Status.AGENT,
    (Status.AGENT, Transition.HAND_BACK): Status.BOT,
    (Status.BOT, Transition.RESOLVE): Status.RESOLVED,
    (Status.WAITING, Transition.RESOLVE): Status.RESOLVED,
    (Status.AGENT, Transition.RESOLVE): Status.RESOLVED,
    (Status.RESOLVED, Transition.REOPEN): Status.BOT,
}


@pytest.mark.parametrize(("start", "action"), list(LEGAL))
def test_legal_transition_reaches_expected_status(start, action):
    assert transition(start, action) == LEGAL[(start, action)]


ILLEGAL = [pair for pair in itertools.product(Status, Transition) if pair not in LEGAL]


@pytest.mark.parametrize(("start", "action"), ILLEGAL)
def test_illegal_transition_raises(start, action):
    with pytest.raises(IllegalTransition, match=f"cannot {action.value}"):
        transition(start, action)


@pytest.mark.parametrize(
    ("status", "answers"),
    [(Status.BOT, True), (Status.WAITING, False), (Status.AGENT, False), (Status.RESOLVED, False)],
)
def test_bot_answers_only_while_it_owns_the_conversation(status, answers):
    assert bot_may_answer(status) is answers
