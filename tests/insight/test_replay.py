"""A small, fast replay of generated traffic (the full `eval alerts` is a CLI benchmark)."""

from __future__ import annotations

import numpy as np

from embedding import FakeEmbedder
from insight import SpikeRule
from insight.bench import article_vectors
from insight.replay import generate, replay

WORDS = [
    "card declined shop",
    "password reset login",
    "refund order money",
    "invoice billing copy",
    "export data download",
    "address change delivery",
]


def topic_texts() -> list[list[str]]:
    """Eight phrasings per topic that share its words and no other topic's."""
    texts = []
    for words in WORDS:
        a, b, c = words.split()
        texts.append([f"{a} {b} {c}", f"{b} {c}", f"{a} {c}", f"{c} {a} {b}", f"{a} {b}",
                      f"my {a} {b}", f"{b} {a}", f"{c} {b} {a}"])  # fmt: skip
    return texts


def test_a_small_replay_finds_the_big_incidents_without_flooding() -> None:
    embedder = FakeEmbedder()
    traffic = generate(topic_texts(), [], seed=3, weeks=2, daily=600, per_size=2)
    assert traffic.history_minutes >= 7 * 24 * 60
    assert len(traffic.incidents) == 6
    assert all(i.extra >= 5 * (i.size - 1) for i in traffic.incidents)
    anchors = article_vectors(embedder, [[words] for words in WORDS])
    result = replay(traffic, lambda texts: np.asarray(embedder.encode(texts)), anchors, SpikeRule())
    assert result["by_size"]["5x"]["recall"] == 1.0
    assert result["recall"] == 1.0
    assert result["false_alerts_per_week"] <= 1
    assert set(result) >= {"recall", "recall_2x", "false_alerts_per_week", "median_delay_min"}
