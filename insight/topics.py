"""Topics: customer questions grouped by their turn vectors.

Clustering is k-means seeded with the knowledge base's own articles (one seed per article, so a
topic tends to be "the questions this article answers"), the previous topics' centroids (so
re-clustering moves topics rather than renaming them) and extra seeds for questions no article is
near (the gaps). New clusters keep the id of the old topic they share most members with.
Vectors are unit length; similarity is the dot product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering, KMeans

# A question this far from every article seeds a topic of its own, if enough neighbours join it.
FAR_FROM_ARTICLES = 0.35
# Once topics exist, an article seeds a new one only if no old topic is this similar to it.
NEW_ARTICLE_SIMILARITY = 0.5
# Complete-linkage cosine distance under which far questions form one seed group.
FAR_GROUP_DISTANCE = 0.7


@dataclass(frozen=True)
class Clustering:
    """The result of one re-clustering: a topic id per vector (in input order), each topic's
    unit centroid, and the ids that are new (no old topic matched them)."""

    labels: list[int]
    centroids: dict[int, np.ndarray]
    new_ids: frozenset[int]


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def _far_seeds(vectors: np.ndarray, anchors: np.ndarray, min_size: int) -> np.ndarray:
    """Centroids of groups of at least `min_size` questions near no anchor."""
    if len(anchors):
        far = vectors[(vectors @ anchors.T).max(axis=1) < FAR_FROM_ARTICLES]
    else:
        far = vectors
    if len(far) < max(min_size, 2):
        return np.empty((0, vectors.shape[1]), dtype=np.float32)
    groups = AgglomerativeClustering(
        n_clusters=None, distance_threshold=FAR_GROUP_DISTANCE, metric="cosine", linkage="complete"
    ).fit_predict(far)
    seeds = [
        far[groups == g].mean(axis=0) for g in np.unique(groups) if (groups == g).sum() >= min_size
    ]
    if not seeds:
        return np.empty((0, vectors.shape[1]), dtype=np.float32)
    return normalise(np.vstack(seeds))


def cluster(
    vectors: np.ndarray,
    *,
    article_vectors: np.ndarray | None = None,
    previous: Mapping[int, np.ndarray] | None = None,
    previous_labels: Sequence[int | None] | None = None,
    min_size: int = 3,
    next_id: int = 1,
) -> Clustering:
    """Cluster unit `vectors` into topics with ids stable across calls.

    `previous` holds the old topics' centroids and `previous_labels` each vector's old topic
    (None when it had none); a new cluster takes the id of the old topic with which it shares
    the most vectors (a one-to-one matching), otherwise a fresh id from `next_id` up."""
    vectors = normalise(vectors)
    n = len(vectors)
    if n == 0:
        return Clustering([], {}, frozenset())
    dim = vectors.shape[1]
    previous = dict(previous or {})
    old = normalise(np.vstack(list(previous.values()))) if previous else np.empty((0, dim))
    articles = (
        normalise(article_vectors)
        if article_vectors is not None and len(article_vectors)
        else np.empty((0, dim))
    )
    # An article an old topic already stands for (the old topic's nearest article) adds no
    # seed: seeding it again would split that topic and rename half its questions.
    if len(old) and len(articles):
        covered = np.zeros(len(articles), dtype=bool)
        covered[(old @ articles.T).argmax(axis=1)] = True
        # An article near an old topic would pull that topic's questions apart as well.
        covered |= (articles @ old.T).max(axis=1) >= NEW_ARTICLE_SIMILARITY
        articles = articles[~covered]
    anchors = np.vstack([old, articles]) if len(old) + len(articles) else np.empty((0, dim))
    # A gap topic needs a share of the traffic, or noise would add topics on every run.
    far = _far_seeds(vectors, anchors, max(min_size, n // 200))
    seeds = np.vstack([anchors, far]).astype(np.float32)
    if len(seeds) == 0:
        seeds = vectors[:1]
    # A seed no question is nearest to would be emptied, and k-means moves an empty cluster
    # onto the questions farthest from their centre, splitting a topic: drop such seeds.
    nearest = np.bincount((vectors @ seeds.T).argmax(axis=1), minlength=len(seeds))
    seeds = seeds[nearest >= min(min_size, n)] if (nearest >= min(min_size, n)).any() else seeds[:1]
    model = KMeans(n_clusters=len(seeds), init=seeds, n_init=1, max_iter=100).fit(vectors)
    raw = model.labels_
    values, sizes = np.unique(raw, return_counts=True)
    used = values[sizes >= min(min_size, n)]
    if len(used) < len(values):
        # Clusters too small to be topics: their questions join the nearest kept cluster.
        kept = normalise(model.cluster_centers_[used])
        orphans = ~np.isin(raw, used)
        raw = raw.copy()
        raw[orphans] = used[(vectors[orphans] @ kept.T).argmax(axis=1)]
    centroids = {int(c): normalise(vectors[raw == c].mean(axis=0, keepdims=True))[0] for c in used}
    mapping = _match(raw, used, previous_labels, set(previous))
    fresh = next_id
    taken = set(previous) | set(mapping.values())
    for c in used:
        if int(c) not in mapping:
            while fresh in taken:
                fresh += 1
            mapping[int(c)] = fresh
            taken.add(fresh)
    matched = set(previous)
    return Clustering(
        labels=[mapping[int(c)] for c in raw],
        centroids={mapping[c]: v for c, v in centroids.items()},
        new_ids=frozenset(mapping[int(c)] for c in used if mapping[int(c)] not in matched),
    )


def _match(
    raw: np.ndarray,
    used: np.ndarray,
    previous_labels: Sequence[int | None] | None,
    old_ids: set[int],
) -> dict[int, int]:
    """New cluster -> old topic id, one-to-one, maximising the members they share."""
    if not previous_labels or not old_ids:
        return {}
    olds = sorted(old_ids)
    row = {int(c): i for i, c in enumerate(used)}
    col = {t: j for j, t in enumerate(olds)}
    overlap = np.zeros((len(used), len(olds)))
    for new, old in zip(raw, previous_labels, strict=True):
        if old is not None and old in col:
            overlap[row[int(new)], col[old]] += 1
    rows, cols = linear_sum_assignment(-overlap)
    return {int(used[r]): olds[c] for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0}


def nearest_topic(
    vector: np.ndarray, centroids: Mapping[int, np.ndarray], *, min_similarity: float
) -> tuple[int | None, float]:
    """The topic whose centroid is most similar to `vector`, if at least `min_similarity`."""
    if not centroids:
        return None, 0.0
    ids = list(centroids)
    matrix = np.vstack([centroids[i] for i in ids])
    similarities = matrix @ normalise(vector[None, :])[0]
    best = int(np.argmax(similarities))
    score = float(similarities[best])
    return (ids[best], score) if score >= min_similarity else (None, score)


def central_index(vectors: np.ndarray, centroid: np.ndarray) -> int:
    """The row of `vectors` most similar to `centroid`: the topic's most central question."""
    return int(np.argmax(normalise(vectors) @ centroid))
