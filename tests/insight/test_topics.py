"""Topics: clustering seeded by articles, stable ids across re-clustering, nearest topic."""

from __future__ import annotations

import numpy as np
import pytest

from insight import cluster, nearest_topic, normalise


def blobs(rng: np.random.Generator, centres: np.ndarray, per: int, spread: float) -> np.ndarray:
    """`per` noisy unit vectors around each centre, and their true centre index."""
    rows = np.repeat(centres, per, axis=0)
    return normalise(rows + rng.normal(scale=spread, size=rows.shape)), np.repeat(
        np.arange(len(centres)), per
    )


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    centres = normalise(rng.normal(size=(12, 64)))
    vectors, truth = blobs(rng, centres, 40, 0.08)
    return centres, vectors, truth


def test_topics_follow_the_articles_that_seed_them(data) -> None:
    centres, vectors, truth = data
    result = cluster(vectors, article_vectors=centres)
    labels = np.asarray(result.labels)
    for topic in range(len(centres)):
        members = labels[truth == topic]
        assert (members == members[0]).mean() >= 0.95
    assert len(set(result.labels)) == len(centres)


def test_most_questions_keep_their_topic_id_across_a_reclustering() -> None:
    rng = np.random.default_rng(5)
    centres = normalise(rng.normal(size=(15, 64)))
    vectors, _ = blobs(rng, centres, 40, 0.15)  # noise as large as the centre
    order = rng.permutation(len(vectors))
    first = order[: int(0.9 * len(order))]
    before = cluster(vectors[first], article_vectors=centres[:10])  # 5 topics no article has
    old: list[int | None] = [None] * len(vectors)
    for row, label in zip(first, before.labels, strict=True):
        old[row] = label
    after = cluster(
        vectors,
        article_vectors=centres[:10],
        previous=before.centroids,
        previous_labels=old,
        next_id=max(before.centroids) + 1,
    )
    kept = np.mean([after.labels[row] == old[row] for row in first])
    assert kept >= 0.9
    assert set(after.centroids) & set(before.centroids)


def test_a_new_cluster_gets_a_fresh_id(data) -> None:
    centres, vectors, _ = data
    before = cluster(vectors[:400], article_vectors=centres[:10])
    rng = np.random.default_rng(9)
    stranger = normalise(rng.normal(size=(1, 64)))
    extra, _ = blobs(rng, stranger, 30, 0.05)
    everything = np.vstack([vectors, extra])
    old = [*before.labels, *([None] * (len(everything) - 400))]
    after = cluster(
        everything, previous=before.centroids, previous_labels=old, next_id=100, min_size=3
    )
    assert after.new_ids
    assert min(after.new_ids) >= 100
    assert len(set(after.labels[-30:])) == 1


def test_nearest_topic_needs_the_minimum_similarity() -> None:
    centres = {7: np.array([1.0, 0.0]), 9: np.array([0.0, 1.0])}
    assert nearest_topic(np.array([0.9, 0.1]), centres, min_similarity=0.5)[0] == 7
    assert nearest_topic(np.array([-1.0, 0.0]), centres, min_similarity=0.5)[0] is None
    assert nearest_topic(np.array([1.0, 0.0]), {}, min_similarity=0.0) == (None, 0.0)
