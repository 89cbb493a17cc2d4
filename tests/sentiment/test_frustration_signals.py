"""Each frustration signal on small hand-written conversations, with hand-built vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from embedding import FakeEmbedder
from sentiment import DEFAULT_WEIGHTS, Scores, ScoringConfig, Signal, Turn, TurnScorer

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
DIM = 8


def vec(*components: float) -> np.ndarray:
    """A unit vector in DIM dimensions from its first few components."""
    v = np.zeros(DIM, dtype=np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


def customer(text: str, *, seconds: float | None = None, vector: np.ndarray | None = None) -> Turn:
    at = None if seconds is None else T0 + timedelta(seconds=seconds)
    return Turn(role="customer", text=text, at=at, vector=vector)


def bot(
    text: str, *, seconds: float | None = None, declined: bool = False, unhelpful: bool = False
) -> Turn:
    at = None if seconds is None else T0 + timedelta(seconds=seconds)
    return Turn(role="bot", text=text, at=at, declined=declined, unhelpful=unhelpful)


def value(scores: Scores, name: str) -> float:
    signal = scores.signal(name)
    assert signal is not None, name
    return signal.value


@pytest.fixture
def scorer() -> TurnScorer:
    return TurnScorer()


def test_negative_message_scores_higher_than_calm_one(scorer: TurnScorer) -> None:
    calm = scorer.score(customer("Can you tell me when my order ships?"), [])
    angry = scorer.score(
        customer("This is ridiculous, my order is still not here. Terrible service."), []
    )
    assert value(angry, "negative_sentiment") > 0.3
    assert value(calm, "negative_sentiment") == 0.0
    assert angry.label == "negative"
    assert angry.frustration > calm.frustration + 0.2


def test_trend_rises_when_earlier_turns_were_negative(scorer: TurnScorer) -> None:
    turn = customer("What is the status of my order?")
    calm_history = [customer("Hi, I ordered a lamp last week."), bot("Let me check.")]
    sour_history = [
        customer("My order is late again, this is terrible."),
        bot("Let me check."),
        customer("Still waiting, worst experience ever."),
        bot("Let me check."),
    ]
    calm = scorer.score(turn, calm_history)
    sour = scorer.score(turn, sour_history)
    assert value(calm, "sentiment_trend") == 0.0
    assert value(sour, "sentiment_trend") > 0.3
    assert sour.frustration > calm.frustration


def test_trend_uses_stored_scores_of_earlier_turns(scorer: TurnScorer) -> None:
    earlier = customer("fine")
    stored = scorer.score(customer("This is the worst, I'm furious."), [])
    with_scores = Turn(role="customer", text=earlier.text, scores=stored)
    assert value(scorer.score(customer("ok"), [with_scores]), "sentiment_trend") > 0.3


def test_paraphrased_question_counts_as_repeat(scorer: TurnScorer) -> None:
    history = [
        customer("How do I reset my password?", vector=vec(1, 0.1)),
        bot("You can reset it from the login page."),
        customer("Where do I update my address?", vector=vec(0, 0, 1)),
        bot("Under Settings."),
    ]
    scores = scorer.score(
        customer("What's the way to change my password?", vector=vec(1, 0.2)), history
    )
    assert scores.repeated_of == 0
    assert value(scores, "repeated_question") == 1.0


def test_new_question_is_not_a_repeat(scorer: TurnScorer) -> None:
    history = [
        customer("How do I reset my password?", vector=vec(1, 0)),
        bot("From the login page."),
    ]
    scores = scorer.score(customer("Do you ship to Canada?", vector=vec(0, 1)), history)
    assert scores.repeated_of is None
    assert value(scores, "repeated_question") == 0.0


@pytest.mark.parametrize("text", ["thanks", "Thank you!", "hello", "ok", "bye"])
def test_repeated_small_talk_is_not_a_repeated_question(scorer: TurnScorer, text: str) -> None:
    same = vec(1, 0)
    history = [customer(text, vector=same), bot("You're welcome.")]
    scores = scorer.score(customer(text, vector=same), history)
    assert scores.repeated_of is None
    assert value(scores, "repeated_question") == 0.0


def test_long_unanswered_wait_raises_waiting(scorer: TurnScorer) -> None:
    history = [customer("My card was charged twice", seconds=0)]
    prompt = scorer.score(customer("Can you check?", seconds=10), history)
    late = scorer.score(customer("Can you check?", seconds=600), history)
    assert value(prompt, "waiting") == 0.0
    assert value(late, "waiting") == 1.0
    assert late.frustration > prompt.frustration


def test_slow_reply_still_counts_at_next_turn(scorer: TurnScorer) -> None:
    history = [customer("Is my flight on time?", seconds=0), bot("Yes it is.", seconds=900)]
    scores = scorer.score(customer("ok, and the gate?", seconds=910), history)
    assert value(scores, "waiting") == 1.0
    quick = [customer("Is my flight on time?", seconds=0), bot("Yes it is.", seconds=3)]
    assert value(scorer.score(customer("ok, and the gate?", seconds=10), quick), "waiting") == 0.0


def test_hello_nudges_without_a_reply_are_a_burst(scorer: TurnScorer) -> None:
    history = [
        customer("I need to change my booking", seconds=0),
        customer("hello?", seconds=40),
    ]
    first_nudge = scorer.score(customer("hello?", seconds=40), history[:1])
    second_nudge = scorer.score(customer("hello??", seconds=70), history)
    assert value(first_nudge, "burst") >= 0.7
    assert value(second_nudge, "burst") >= value(first_nudge, "burst")
    assert second_nudge.small_talk == "greeting"
    assert second_nudge.frustration > 0.3


def test_hello_after_a_reply_is_just_a_greeting(scorer: TurnScorer) -> None:
    history = [customer("hi", seconds=0), bot("Hi! How can I help?", seconds=2)]
    assert value(scorer.score(customer("hello?", seconds=5), history), "burst") == 0.0


def test_messages_spread_out_are_not_a_burst(scorer: TurnScorer) -> None:
    history = [customer("My order is missing an item", seconds=0)]
    scores = scorer.score(customer("It was the charger", seconds=3600), history)
    assert value(scores, "burst") == 0.0


def test_no_timing_signals_without_timestamps(scorer: TurnScorer) -> None:
    history = [customer("I need to change my booking"), customer("hello?")]
    scores = scorer.score(customer("hello??"), history)
    assert value(scores, "waiting") == 0.0
    assert value(scores, "burst") == 0.0
    assert "no timestamp" in scores.signal("waiting").detail  # type: ignore[union-attr]


def test_naive_and_aware_timestamps_mix(scorer: TurnScorer) -> None:
    history = [Turn(role="customer", text="where is my parcel", at=datetime(2024, 5, 1, 9, 0))]
    scores = scorer.score(customer("??", seconds=400), history)
    assert value(scores, "waiting") == 1.0


@pytest.mark.parametrize(
    ("text", "signal", "expected"),
    [
        ("WHY IS MY ORDER NOT HERE YET", "shouting", 1.0),
        ("I flew with AA to the USA", "shouting", 0.0),
        ("where is it?!?!", "punctuation", 1.0),
        ("really??", "punctuation", 0.4),
        ("where is it?", "punctuation", 0.0),
        ("this is fucking useless", "profanity", 0.7),
        ("you are useless", "profanity", 1.0),
        ("what the hell is going on", "profanity", 0.7),
        ("you stupid bot", "profanity", 1.0),
        ("my order arrived damaged", "profanity", 0.0),
        ("talk to a person", "human_request", 1.0),
        ("quiero hablar con un agente", "human_request", 1.0),
        ("is a person able to edit invoices?", "human_request", 0.0),
        ("No, I said the 5th, not the 6th", "correction", 0.9),
        ("I already told you my order number", "correction", 1.0),
    ],
)
def test_message_signals(scorer: TurnScorer, text: str, signal: str, expected: float) -> None:
    assert value(scorer.score(customer(text), []), signal) == pytest.approx(expected, abs=0.1)


def test_human_request_sets_flag_and_raises_frustration(scorer: TurnScorer) -> None:
    scores = scorer.score(customer("agent please"), [])
    assert scores.human_request
    assert scores.frustration >= 0.5
    assert not scorer.score(customer("what are your hours?"), []).human_request


@pytest.mark.parametrize(
    "failed_reply",
    [
        bot("I'm sorry, I don't have that information.", declined=True),
        bot("You can find it in Settings.", unhelpful=True),
    ],
)
def test_bot_failures_raise_frustration(scorer: TurnScorer, failed_reply: Turn) -> None:
    turn = customer("How do I export my invoices?")
    good = scorer.score(turn, [customer("Hi there"), bot("You can find it in Settings.")])
    bad = scorer.score(turn, [customer("Hi there"), failed_reply])
    assert value(good, "bot_failures") == 0.0
    assert value(bad, "bot_failures") == 1.0
    assert bad.frustration > good.frustration


def test_earlier_failures_count_less_than_the_latest(scorer: TurnScorer) -> None:
    turn = customer("ok")
    old = [bot("Sorry, I didn't understand that.", declined=True), customer("x"), bot("Done.")]
    latest = [bot("Done."), customer("x"), bot("Sorry, I didn't understand that.", declined=True)]
    assert (
        0
        < value(scorer.score(turn, old), "bot_failures")
        < value(scorer.score(turn, latest), "bot_failures")
    )


def test_frustration_stays_in_unit_interval(scorer: TurnScorer) -> None:
    same = vec(1, 0)
    history = [
        customer("WHERE IS MY REFUND", seconds=0, vector=same),
        bot("Sorry, I couldn't find that.", seconds=900, declined=True),
        customer("where is my refund!!!", seconds=905, vector=same),
        customer("hello??", seconds=910),
    ]
    worst = scorer.score(
        customer(
            "WHERE IS MY DAMN REFUND?!?! you useless bot, talk to a human NOW",
            seconds=2000,
            vector=same,
        ),
        history,
    )
    calm = scorer.score(customer("thanks"), [])
    assert 0.9 < worst.frustration <= 1.0
    assert 0.0 <= calm.frustration < 0.1
    for s in worst.signals:
        assert 0.0 <= s.value <= 1.0


def test_signals_carry_contribution_and_detail(scorer: TurnScorer) -> None:
    scores = scorer.score(customer("this is the worst"), [])
    signal = scores.signal("complaint")
    assert signal is not None
    assert signal.contribution == pytest.approx(signal.value * signal.weight)
    assert "worst" in signal.detail


def test_scoring_is_pure(scorer: TurnScorer) -> None:
    history = [customer("where is my order", seconds=0, vector=vec(1, 0))]
    turn = customer("where is my order??", seconds=200, vector=vec(1, 0.1))
    assert scorer.score(turn, history) == scorer.score(turn, history)


def test_scores_round_trip_through_json(scorer: TurnScorer) -> None:
    history = [customer("How do I reset my password?", vector=vec(1, 0))]
    scores = scorer.score(customer("how can I reset my password!!", vector=vec(1, 0.05)), history)
    assert scores.repeated_of == 0
    again = Scores.from_dict(json.loads(json.dumps(scores.to_dict())))
    assert again == scores
    assert again.signals[0] == Signal.from_dict(scores.signals[0].to_dict())


def test_prototypes_are_embedded_once_and_used() -> None:
    embedder = FakeEmbedder()
    scorer = TurnScorer(embedder=embedder)
    assert len(embedder.calls) == 1
    text = "You are not helping me at all."
    scores = scorer.score(customer(text, vector=embedder.encode([text])[0]), [])
    assert value(scores, "frustration_prototype") > 0.5
    calm_text = "Can you tell me your opening hours?"
    calm = scorer.score(customer(calm_text, vector=embedder.encode([calm_text])[0]), [])
    assert value(calm, "frustration_prototype") == 0.0


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValueError, match="role"):
        Turn(role="robot", text="hi")


def test_config_overrides_one_weight_and_keeps_the_rest() -> None:
    scorer = TurnScorer(config=ScoringConfig(weights={"human_request": 0.0}))
    scores = scorer.score(customer("agent please"), [])
    assert scores.human_request
    assert scores.signal("human_request").contribution == 0.0  # type: ignore[union-attr]
    assert scores.signal("negative_sentiment").weight == DEFAULT_WEIGHTS["negative_sentiment"]  # type: ignore[union-attr]


def test_positive_message_damps_frustration(scorer: TurnScorer) -> None:
    failed = [customer("Book me a table"), bot("Sorry, I couldn't do that.", declined=True)]
    flat = scorer.score(customer("ok, try 7pm then"), failed)
    happy = scorer.score(customer("ok great, 7pm works perfectly, thank you!"), failed)
    assert happy.signal("positive_sentiment").weight < 0  # type: ignore[union-attr]
    assert happy.frustration < flat.frustration


def test_calm_problem_report_is_not_frustration(scorer: TurnScorer) -> None:
    report = scorer.score(customer("my payment failed and the app keeps crashing"), [])
    assert value(report, "situation") > 0.5
    assert value(report, "negative_sentiment") < 0.2
    assert report.frustration < 0.3
    assert report.anger == 0.0


def test_anger_at_the_service_is_its_own_measure(scorer: TurnScorer) -> None:
    angry = scorer.score(customer("you people are useless, a complete waste of my time"), [])
    assert value(angry, "service_anger") == 1.0
    assert angry.anger >= 0.9
    assert angry.frustration >= 0.5
    upset = scorer.score(customer("I'm so frustrated, my battery won't charge"), [])
    assert upset.frustration >= 0.5
    assert upset.anger < 0.5


def test_sarcasm_is_not_damped_as_praise(scorer: TurnScorer) -> None:
    sarcastic = scorer.score(customer("great, another delay. thanks a lot"), [])
    assert value(sarcastic, "sarcasm") == 1.0
    assert value(sarcastic, "positive_sentiment") == 0.0
    assert sarcastic.anger >= 0.5
    sincere = scorer.score(customer("great, thanks a lot"), [])
    assert value(sincere, "sarcasm") == 0.0
    assert sarcastic.frustration > sincere.frustration + 0.4
