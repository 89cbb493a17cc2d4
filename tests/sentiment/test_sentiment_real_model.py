"""End to end with the bundled MiniLM: paraphrased repeats, and angry above calm."""

from __future__ import annotations

import pytest

from embedding import Embedder
from sentiment import Turn, TurnScorer, looks_like_bot_failure

pytestmark = pytest.mark.real_model


def _replay(scorer: TurnScorer, embedder: Embedder, script: list[tuple[str, str]]) -> list[Turn]:
    """Score every customer turn of a scripted conversation, as the pipeline would."""
    customer_texts = [text for role, text in script if role == "customer"]
    vectors = iter(embedder.encode(customer_texts))
    history: list[Turn] = []
    for role, text in script:
        if role == "customer":
            turn = Turn(role="customer", text=text, vector=next(vectors))
            history.append(
                Turn(
                    role="customer",
                    text=text,
                    vector=turn.vector,
                    scores=scorer.score(turn, history),
                )
            )
        else:
            history.append(Turn(role=role, text=text, declined=looks_like_bot_failure(text)))
    return history


@pytest.fixture(scope="module")
def scorer(real_embedder: Embedder) -> TurnScorer:
    return TurnScorer(embedder=real_embedder)


def test_paraphrased_question_is_detected_as_repeat(
    scorer: TurnScorer, real_embedder: Embedder
) -> None:
    history = _replay(
        scorer,
        real_embedder,
        [
            ("customer", "hello"),
            ("bot", "Hi! How can I help?"),
            ("customer", "How can I get my money back for a cancelled order?"),
            ("bot", "Sorry, I couldn't find anything about that."),
            ("customer", "thanks"),
            ("bot", "You're welcome."),
            ("customer", "How do I get a refund for an order I cancelled?"),
            ("customer", "thanks"),
        ],
    )
    assert history[6].scores is not None and history[6].scores.repeated_of == 2
    assert history[7].scores is not None and history[7].scores.repeated_of is None


def test_angry_conversation_scores_higher_than_calm(
    scorer: TurnScorer, real_embedder: Embedder
) -> None:
    calm = _replay(
        scorer,
        real_embedder,
        [
            ("customer", "Hi, can I change the delivery address on my order?"),
            ("bot", "Yes, you can change it under Orders > Edit address."),
            ("customer", "Perfect, thank you!"),
        ],
    )
    angry = _replay(
        scorer,
        real_embedder,
        [
            ("customer", "Can I change the delivery address on my order?"),
            ("bot", "I'm sorry, I don't understand. Could you rephrase?"),
            ("customer", "I already asked this. How do I change the delivery address??"),
            ("bot", "I'm sorry, I couldn't find an answer."),
            ("customer", "This is ridiculous, you are useless. Let me talk to a real person."),
        ],
    )
    calm_peak = max(t.scores.frustration for t in calm if t.scores is not None)
    angry_peak = max(t.scores.frustration for t in angry if t.scores is not None)
    assert angry_peak > 0.8
    assert calm_peak < 0.3
    assert angry[2].scores is not None and angry[2].scores.repeated_of == 0
    assert angry[4].scores is not None and angry[4].scores.human_request
