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
        # Answer first: frustration without anger at the service gets the answer and the offer.
        ({**CALM, "frustration": 0.9}, Action.ANSWER, "offer_person"),
        ({**CALM, "frustration": 0.9, "answerable": False}, Action.CLARIFY, "offer_person"),
        ({**CALM, "frustration": 0.9, "anger": 0.8}, Action.ESCALATE, "frustration"),
        ({**CALM, "frustration": 0.9, "offered_person": True}, Action.ESCALATE, "frustration"),
        ({**CALM, "frustration": 0.9, "human_request": True}, Action.ESCALATE, "human_request"),
        (
            {**CALM, "frustration": 0.9, "top_article_escalates": True},
            Action.ESCALATE,
            "escalate_article",
        ),
        ({**CALM, "anger": 0.9}, Action.ANSWER, "answer"),
        # After the offer: a yes, or "that didn't help", hands over.
        (
            {**CALM, "offered_person": True, "accepted_offer": True},
            Action.ESCALATE,
            "accepted_offer",
        ),
        ({**CALM, "offered_person": True, "not_helped": True}, Action.ESCALATE, "not_helped"),
        ({**CALM, "offered_person": True}, Action.ANSWER, "answer"),
        # Off-topic declines do not count toward max_unanswered; in-scope ones do.
        (
            {**CALM, "answerable": False, "in_scope": False, "unanswered_before": 1},
            Action.CLARIFY,
            "off_topic",
        ),
        (
            {**CALM, "answerable": False, "in_scope": True, "unanswered_before": 1},
            Action.ESCALATE,
            "unanswered",
        ),
        (
            {**CALM, "answerable": False, "in_scope": False, "vip": True},
            Action.CLARIFY,
            "off_topic",
        ),
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


def test_offer_is_not_an_escalation_reason():
    decision = decide(TurnEvidence(**{**CALM, "frustration": 0.9}), PolicyConfig())
    assert decision.offers_person
    assert [r.code for r in decision.reasons] == ["answer", "offer_person"]
    assert not decide(TurnEvidence(**CALM), PolicyConfig()).offers_person


def test_off_topic_declines_never_reach_max_unanswered():
    config = PolicyConfig(max_unanswered=2)
    off_topic = {**CALM, "answerable": False, "in_scope": False}
    for unanswered_before in range(5):
        decision = decide(TurnEvidence(**off_topic, unanswered_before=unanswered_before), config)
        assert decision.action == Action.CLARIFY
        assert decision.off_topic
