"""`supportbot eval topics`: topic quality on labelled queries against plain k-means."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, v_measure_score

from embedding import Embedder
from insight.topics import cluster, normalise


def article_vectors(embedder: Embedder, articles: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit vector per article, given its title and questions: the mean of their vectors."""
    if not articles:
        return np.empty((0, embedder.dim), dtype=np.float32)
    rows = [normalise(np.asarray(embedder.encode(list(texts)))).mean(axis=0) for texts in articles]
    return normalise(np.vstack(rows))


def eval_topics(
    embedder: Embedder, articles: Sequence[Sequence[str]], queries: Path, *, seed: int = 0
) -> dict[str, Any]:
    """ARI and V-measure of the topics and of k-means (k = articles) on the answerable queries,
    and the share of queries keeping their topic id when re-clustered with 10% more."""
    with queries.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("article")]
    texts = [row["text"] for row in rows]
    truth = [row["article"] for row in rows]
    vectors = normalise(np.asarray(embedder.encode(texts)))
    anchors = article_vectors(embedder, articles)
    topics = cluster(vectors, article_vectors=anchors)
    kmeans = KMeans(len(articles), n_init=10, random_state=seed).fit_predict(vectors)
    # Stability: cluster 90%, then re-cluster all with the old topics; count kept ids.
    order = np.random.default_rng(seed).permutation(len(vectors))
    first = order[: int(0.9 * len(order))]
    before = cluster(vectors[first], article_vectors=anchors)
    previous_labels: list[int | None] = [None] * len(vectors)
    for row, label in zip(first, before.labels, strict=True):
        previous_labels[row] = label
    after = cluster(
        vectors,
        article_vectors=anchors,
        previous=before.centroids,
        previous_labels=previous_labels,
        next_id=max(before.centroids, default=0) + 1,
    )
    kept = sum(after.labels[row] == previous_labels[row] for row in first) / max(len(first), 1)
    return {
        "queries": len(rows),
        "articles": len(articles),
        "topics": {
            "clusters": len(set(topics.labels)),
            "ari": round(float(adjusted_rand_score(truth, topics.labels)), 4),
            "v_measure": round(float(v_measure_score(truth, topics.labels)), 4),
        },
        "kmeans": {
            "clusters": len(articles),
            "ari": round(float(adjusted_rand_score(truth, kmeans)), 4),
            "v_measure": round(float(v_measure_score(truth, kmeans)), 4),
        },
        "kept_topic_id": round(kept, 4),
    }
