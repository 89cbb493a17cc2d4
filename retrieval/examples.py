"""Learning from outcomes: labelled queries (thumbs, rephrases, escalations, CME picks) as a
nearest-neighbour memory that moves the ranking of queries like them.

Each example says "a query like this one is (or is not) answered by that article", or "the KB has
no answer for it" (`article_id` None). At search time the query's cosine similarity to every
example, above a floor, becomes a kernel weight; per article the strongest positive and the
strongest negative example count (a max, not a sum: a hundred copies of one thumbs-down weigh
what one does), and a "no answer" example lowers every article, so the gate declines queries
like it. The term is added to the fused score before the confidence is computed, so the gate
sees it too.

A memory rather than a re-trained probe: a new example or an undo takes effect at once, costs one
encode, and every shift can be traced to the examples that caused it. Examples are plain data:
the database and who may add them are the application's business (`bot.outcomes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Below this cosine similarity an example says nothing about a query (paraphrases of one
# question score ~0.7-0.95 with the bundled model; questions on neighbouring topics ~0.4-0.7).
SIMILARITY_FLOOR = 0.6
# Largest shift of the fused score (cosine scale) one fully similar, full-weight example makes.
# Both chosen on clinc30 near val (`eval retrieval --feedback-share 0.2`): precision at equal
# coverage +0.023 (0.6, 0.15), +0.030 (0.6, 0.25), +0.035 (0.6, 0.4), +0.033 (0.5, 0.25), +0.021
# (0.7, 0.25). The stronger settings gain little and let one careless thumb move more.
STRENGTH = 0.25


@dataclass(frozen=True)
class LabelledExample:
    """One outcome: `text` is (polarity +1) or is not (-1) answered by `article_id`; with
    `article_id` None, the KB has no answer for it (polarity is then +1). `version` is the
    article's `version_key` when recorded: an example about an older version is dropped."""

    text: str
    article_id: str | None
    polarity: int
    weight: float
    version: str | None = None


@dataclass(frozen=True)
class ExampleMemory:
    """Example vectors with their article rows (-1: no answer), signs and weights."""

    vectors: np.ndarray  # (n, dim), unit length
    articles: np.ndarray  # (n,) article row, -1 for "no answer"
    signs: np.ndarray  # (n,) +1 / -1
    weights: np.ndarray  # (n,) in (0, 1]
    n_articles: int

    @property
    def size(self) -> int:
        """How many examples the memory holds."""
        return int(self.articles.size)

    def scores(self, vector: np.ndarray) -> np.ndarray:
        """The shift of every article's fused score for one query vector."""
        shift = np.zeros(self.n_articles, np.float64)
        if not self.size:
            return shift
        sims = self.vectors @ np.asarray(vector, np.float32)
        kernel = np.clip((sims - SIMILARITY_FLOOR) / (1 - SIMILARITY_FLOOR), 0.0, 1.0)
        kernel = kernel * self.weights
        near = kernel > 0
        if not near.any():
            return shift
        positive = np.zeros(self.n_articles)
        negative = np.zeros(self.n_articles)
        unanswerable = 0.0
        for row, article, sign in zip(
            kernel[near].tolist(), self.articles[near].tolist(), self.signs[near].tolist(),
            strict=True,
        ):  # fmt: skip
            if article < 0:
                unanswerable = max(unanswerable, row)
            elif sign > 0:
                positive[article] = max(positive[article], row)
            else:
                negative[article] = max(negative[article], row)
        return STRENGTH * (positive - negative - unanswerable)


def build_memory(
    examples: Sequence[LabelledExample],
    vectors: np.ndarray,
    article_ids: Sequence[str],
    versions: dict[str, str],
) -> tuple[ExampleMemory, int]:
    """The memory for one snapshot: examples about articles that are gone, or whose text changed
    since (`versions`: article id -> current version key), are left out. Returns the memory and
    how many examples were dropped."""
    row_of = {article_id: row for row, article_id in enumerate(article_ids)}
    keep: list[int] = []
    rows: list[int] = []
    for position, example in enumerate(examples):
        if example.article_id is None:
            keep.append(position)
            rows.append(-1)
            continue
        if example.article_id not in row_of:
            continue
        if example.version is not None and versions.get(example.article_id) != example.version:
            continue
        keep.append(position)
        rows.append(row_of[example.article_id])
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    memory = ExampleMemory(
        vectors=np.ascontiguousarray(vectors[keep], np.float32)
        if keep
        else np.zeros((0, dim), np.float32),
        articles=np.asarray(rows, np.int64),
        signs=np.asarray([1 if examples[i].polarity >= 0 else -1 for i in keep], np.int64),
        weights=np.asarray([min(max(examples[i].weight, 0.0), 1.0) for i in keep], np.float64),
        n_articles=len(article_ids),
    )
    return memory, len(examples) - len(keep)
