"""The insight definitions, pinned on hand-built conversation histories (traps included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.cme.insights.definitions import (
    EscalationRecord,
    History,
    Turn,
    facts,
    frustration_bucket,
    percentile,
)
from escalation import OfficeHours

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
LATER = T0 + timedelta(days=30)  # every window has closed
ALWAYS = OfficeHours.parse("", "UTC")
HOURS = OfficeHours.parse("mon-fri 09:00-17:00", "UTC")
SLA_S = 600


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


BILLING = unit(1, 0, 0)
BILLING_AGAIN = unit(0.95, 0.3, 0)  # cosine 0.95 with BILLING
EXPORT = unit(0, 0, 1)


def q(minute: int, text_vector: np.ndarray | None = BILLING, frustration: float = 0.1) -> Turn:
    """A customer question."""
    return Turn(
        seq=0,
        role="customer",
        at=T0 + timedelta(minutes=minute),
        frustration=frustration,
        vector=text_vector,
    )


def hello(minute: int) -> Turn:
    return Turn(seq=0, role="customer", at=T0 + timedelta(minutes=minute), small_talk="greeting")


def bot(
    minute: int,
    action: str,
    *,
    small_talk: str | None = None,
    helpful: bool | None = None,
    off_topic: bool = False,
) -> Turn:
    return Turn(
        seq=0,
        role="bot",
        at=T0 + timedelta(minutes=minute),
        action=action,
        small_talk=small_talk,
        helpful=helpful,
        off_topic=off_topic,
    )


def agent(minute: int) -> Turn:
    return Turn(seq=0, role="agent", at=T0 + timedelta(minutes=minute))


def conv(
    cid: str,
    *turns: Turn,
    customer: int | None = 1,
    start: timedelta = timedelta(0),
    channel: str = "web",
    customer_id: str | None = "ann@web",
    **extra,
) -> History:
    """A conversation of customer record `customer`, shown as `customer_id` in `channel`."""
    shifted = [
        Turn(**{**t.__dict__, "seq": i + 1, "at": t.at + start}) for i, t in enumerate(turns)
    ]
    return History(
        id=cid,
        channel=channel,
        customer_id=customer_id,
        customer_ref=customer,
        created_at=T0 + start,
        turns=shifted,
        **extra,
    )


def facts_of(history: History, later=(), as_of=LATER, hours=ALWAYS):
    return facts(history, list(later), as_of=as_of, hours=hours, sla_s=SLA_S)


ANSWERED = (q(0), bot(0, "answer"))


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        pytest.param(
            conv("a", *ANSWERED, q(1, None), bot(1, "small_talk", small_talk="thanks")),
            (True, True, True, True),
            id="thanks-after-answer-is-confirmed",
        ),
        pytest.param(
            conv("a", q(0), bot(0, "answer", helpful=True)),
            (True, True, True, True),
            id="thumbs-up-is-confirmed",
        ),
        pytest.param(conv("a", *ANSWERED, csat=4), (True, True, True, True), id="csat-4-confirms"),
        pytest.param(conv("a", *ANSWERED, csat=3), (True, False, True, True), id="csat-3-does-not"),
        pytest.param(conv("a", *ANSWERED), (True, False, True, True), id="silence-is-assumed-only"),
        pytest.param(
            conv(
                "a",
                *ANSWERED,
                q(1),
                bot(1, "clarify"),
                q(2, None),
                bot(2, "small_talk", small_talk="thanks"),
                csat=5,
            ),
            (True, False, False, False),
            id="ended-on-could-not-find-is-never-resolved",
        ),
        pytest.param(
            conv(
                "a", q(0), bot(0, "clarify"), q(1, None), bot(1, "small_talk", small_talk="goodbye")
            ),
            (True, False, False, False),
            id="thanks-after-a-decline-confirms-nothing",
        ),
        pytest.param(
            conv("a", *ANSWERED, q(1), bot(1, "clarify", off_topic=True)),
            (True, False, True, True),
            id="an-off-topic-decline-after-an-answer-is-not-not-found",
        ),
        pytest.param(
            conv(
                "a",
                q(0),
                bot(0, "escalate"),
                agent(5),
                q(6, None),
                bot(6, "small_talk", small_talk="thanks"),
                escalations=[EscalationRecord(T0, T0 + timedelta(minutes=5), ("human_request",))],
                csat=5,
            ),
            (True, False, False, False),
            id="human-replies-are-not-bot-answers",
        ),
        pytest.param(
            conv("a", *ANSWERED, agent(3), csat=5),
            (True, False, False, False),
            id="a-cme-reply-without-escalation-is-human-involvement",
        ),
        pytest.param(
            conv("a", hello(0), bot(0, "small_talk", small_talk="greeting")),
            (False, False, False, False),
            id="greeting-only-is-not-counted",
        ),
        pytest.param(conv("a"), (False, False, False, False), id="empty-is-not-counted"),
    ],
)
def test_resolution_levels(history, expected):
    f = facts_of(history)
    assert (f.counted, f.confirmed, f.assumed, f.durable) == expected


def test_a_reopened_conversation_is_neither_assumed_nor_durable():
    history = conv("a", *ANSWERED, reopened_after=timedelta(hours=2))
    f = facts_of(history)
    assert not f.assumed and not f.durable and f.returns == ("reopen",)


def test_a_reopen_after_two_days_keeps_assumed_but_not_durable():
    f = facts_of(conv("a", *ANSWERED, csat=5, reopened_after=timedelta(days=2)))
    assert f.confirmed and f.assumed and not f.durable


def test_a_similar_question_from_the_same_customer_within_a_week_is_not_durable():
    first = conv("a", *ANSWERED, csat=5)
    again = conv("b", q(0, BILLING_AGAIN), bot(0, "answer"), start=timedelta(days=3))
    f = facts_of(first, [again])
    assert f.confirmed and f.assumed and not f.durable and f.returns == ("b",)


def test_a_different_question_within_a_week_keeps_it_durable():
    first = conv("a", *ANSWERED)
    other = conv("b", q(0, EXPORT), bot(0, "answer"), start=timedelta(days=3))
    assert facts_of(first, [other]).durable


def test_another_customers_similar_question_does_not_count():
    first = conv("a", *ANSWERED)
    other = conv("b", q(0, BILLING), bot(0, "answer"), customer=2, start=timedelta(days=3))
    assert facts_of(first, [other]).durable


@pytest.mark.parametrize(
    ("customer", "channel", "customer_id", "returned"),
    [
        pytest.param(1, "slack", "U0001", True, id="same-record-back-through-slack"),
        pytest.param(1, "web", "ann@web", True, id="same-record-same-channel"),
        pytest.param(2, "web", "ann@web", False, id="same-shown-id-other-record"),
        pytest.param(None, "web", "ann@web", False, id="no-record-no-return"),
    ],
)
def test_the_same_customer_is_the_record_in_any_channel(customer, channel, customer_id, returned):
    first = conv("a", *ANSWERED)  # record 1, in the widget as ann@web
    again = conv(
        "b",
        q(0, BILLING_AGAIN),
        bot(0, "answer"),
        customer=customer,
        channel=channel,
        customer_id=customer_id,
        start=timedelta(days=3),
    )
    f = facts_of(first, [again])
    assert f.assumed and f.durable is not returned
    assert f.returns == (("b",) if returned else ())


def test_any_new_conversation_within_24_hours_is_a_return():
    first = conv("a", *ANSWERED)
    other = conv("b", q(0, EXPORT), bot(0, "answer"), start=timedelta(hours=5))
    f = facts_of(first, [other])
    assert not f.assumed and not f.durable


def test_a_greeting_only_conversation_the_next_hour_is_no_return():
    first = conv("a", *ANSWERED)
    other = conv("b", hello(0), start=timedelta(hours=1))
    assert facts_of(first, [other]).assumed


def test_an_anonymous_conversation_has_no_returns_but_its_reopen():
    assert facts_of(conv("a", *ANSWERED, customer=None)).durable


def test_windows_that_have_not_closed_leave_the_levels_pending():
    history = conv("a", *ANSWERED, csat=5)
    f = facts_of(history, as_of=T0 + timedelta(hours=3))
    assert f.confirmed and not f.assumed and not f.durable
    assert f.recheck_at == T0 + timedelta(hours=24)
    f = facts_of(history, as_of=T0 + timedelta(days=2))
    assert f.assumed and not f.durable and f.recheck_at == T0 + timedelta(days=7)


@pytest.mark.parametrize(
    ("escalated_at", "answered_at", "hours", "response_s", "sla_met"),
    [
        (T0, T0 + timedelta(minutes=5), ALWAYS, 300, True),
        (T0, T0 + timedelta(minutes=15), ALWAYS, 900, False),
        # Escalated Friday 16:55, answered Monday 09:03: 5 + 3 office minutes.
        (
            datetime(2026, 11, 6, 16, 55, tzinfo=UTC),
            datetime(2026, 11, 9, 9, 3, tzinfo=UTC),
            HOURS,
            480,
            True,
        ),
        # Unanswered for longer than the target: missed.
        (T0, None, ALWAYS, None, False),
    ],
)
def test_first_response_counts_office_hours(escalated_at, answered_at, hours, response_s, sla_met):
    history = History(
        id="a",
        channel="web",
        customer_id=None,
        created_at=escalated_at,
        turns=[Turn(1, "customer", escalated_at, vector=BILLING)],
        escalations=[EscalationRecord(escalated_at, answered_at, ("frustration",))],
    )
    f = facts_of(history, hours=hours)
    assert (f.first_response_s, f.sla_met) == (response_s, sla_met)
    assert f.escalated and f.human_involved and f.reasons == ("frustration",)


def test_an_unanswered_escalation_inside_its_target_is_pending():
    history = History(
        id="a",
        channel="web",
        customer_id=None,
        created_at=T0,
        turns=[Turn(1, "customer", T0, vector=BILLING)],
        escalations=[EscalationRecord(T0, None)],
    )
    f = facts_of(history, as_of=T0 + timedelta(minutes=2))
    assert f.sla_met is None and f.recheck_at is not None


def test_reasons_of_several_escalations_are_listed_once_each():
    history = conv(
        "a",
        q(0),
        escalations=[
            EscalationRecord(T0, T0, ("frustration", "human_request")),
            EscalationRecord(T0, T0, ("human_request",)),
        ],
    )
    assert facts_of(history).reasons == ("frustration", "human_request")


@pytest.mark.parametrize(
    ("peak", "bucket"),
    [(0.0, "low"), (0.25, "mild"), (0.6, "high"), (0.75, "severe"), (1.0, "severe")],
)
def test_frustration_buckets(peak, bucket):
    assert frustration_bucket(peak) == bucket


def test_peak_frustration_and_hour_of_week():
    history = conv("a", q(0, frustration=0.2), bot(0, "answer"), q(1, frustration=0.7))
    f = facts_of(history)
    assert f.frustration_peak == pytest.approx(0.7)
    assert f.hour_of_week == 10  # Monday 10:00 UTC


def test_percentile_matches_numpy_and_is_none_when_empty():
    assert percentile([], 50) is None
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40], 90) == pytest.approx(37)
