"""The escalation policy as a table."""

from __future__ import annotations

import pytest

from escalation import Action, PolicyConfig, TurnEvidence, decide

CALM = {"frustration": 0.1, "answerable": True, "top_article": "billing/invoices"}


@pytest.mark.parametrize(
    ("evidence", "action", "reason"),
    [
        (CALM, Action.ANSWER, "answer"),
        ({**CALM, "human_request": True}, Action.ESCALATE, "human_request"),
        ({**CALM, "frustration": 0.9}, Action.ESCALATE, "frustration"),
        ({**CALM, "repeated": True}, Action.ESCALATE, "repeated_question"),
        ({**CALM, "top_article_escalates": True}, Action.ESCALATE, "escalate_article"),
        ({**CALM, "answerable": False}, Action.CLARIFY, "below_threshold"),
        ({**CALM, "answerable": False, "unanswered_before": 1}, Action.ESCALATE, "unanswered"),
        ({**CALM, "answerable": False, "vip": True}, Action.ESCALATE, "vip"),
        ({**CALM, "answerable": False, "small_talk": "thanks"}, Action.SMALL_TALK, "small_talk"),
        (
            {**CALM, "answerable": False, "small_talk": "thanks", "unanswered_before": 5},
            Action.SMALL_TALK,
            "small_talk",
        ),
        ({**CALM, "small_talk": "greeting", "repeated": True}, Action.SMALL_TALK, "small_talk"),
        ({**CALM, "same_article_similarity": 0.6}, Action.ESCALATE, "repeated_question"),
        ({**CALM, "same_article_similarity": 0.4}, Action.ANSWER, "answer"),
        (
            {**CALM, "answerable": False, "same_article_similarity": 0.9},
            Action.CLARIFY,
            "below_threshold",
        ),
    ],
)
def test_decision_table(evidence, action, reason):
    decision = decide(
        TurnEvidence(**evidence), PolicyConfig(max_unanswered=2, frustration_threshold=0.7)
    )
    assert decision.action == action
    assert reason in [r.code for r in decision.reasons]
