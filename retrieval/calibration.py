"""The answer gate, calibrated on the knowledge base itself: no labelled queries needed.

A confidence threshold learnt on one KB does not transfer to another: how close a right answer
scores, and how close the nearest wrong article gets when the KB has no answer, depend on the
KB's size, style and how near its topics sit. So each KB simulates its own traffic:

- **Unanswerable questions**: the articles are split into folds; for each fold, the KB is
  searched *without* those articles (their passages, BM25 scores and probe classes gone), with
  each of their titles, questions and headings as the query: what a customer asks about a topic
  the KB does not cover. Whatever answers them is wrong. (Body sentences are details rather than
  questions, and score too far from the neighbours: on the benchmark sets they made the gate
  too lenient where neighbouring articles are near-duplicates.)
- **Answerable questions**: with the same fold removed, each remaining article is asked
  "topic" queries: the mean vector of three of its texts that the fold's probe did not learn
  from. One sentence alone is often generic ("Open Settings."); three together say what the
  article is about, as a customer's question does. Right when the top article is its own.

The probe is refitted per fold without the fold's articles and texts, so neither side leaks.
Given the share of unanswerable traffic assumed (`UNANSWERABLE_SHARE`), the estimated answered
precision at a threshold t is

    (1 - u) P(right, c >= t | answerable) / ((1 - u) P(c >= t | answerable) + u P(c >= t | not))

and the gate takes the lowest threshold whose estimate reaches the target precision
(`SUPPORTBOT_ANSWER_PRECISION`). Every short text of the hidden articles (sentences too) sets
the floor below which a question is off-topic for this KB altogether (`off_topic_below`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.probe import train_probe
from retrieval.ranking import RankingConfig, article_scores, confidence

log = logging.getLogger(__name__)

CALIBRATION_FORMAT = 3
FOLDS = 5
UNANSWERABLE_SHARE = 0.2  # of in-scope traffic the KB has no article for (assumed)
TOPIC_UNITS = 3  # texts averaged into one answerable "topic" query
TOPIC_QUERIES_PER_ARTICLE = 6  # per fold in which the article is kept
MAX_QUERIES = 3000  # per side, sampled: bounds the time on a large KB
MAX_PROBE_UNITS = 20000  # per fold probe
# A question whose best article scores below this quantile of the unanswerable simulation's
# best dense similarity is off-topic (about something else entirely), not an in-scope gap.
OFF_TOPIC_QUANTILE = 0.02
MAX_FLOOR_QUERIES = 1000  # other texts of hidden articles, sampled for the off-topic floor
MIN_ARTICLES = 5  # fewer cannot be split into folds meaningfully
MIN_HEADING_QUERIES = 30  # fewer unanswerable heading queries: use every short text instead
MIN_FALLBACK_COVERAGE = 0.25  # when no threshold meets the target (see _choose)
MIN_THRESHOLD = 0.5  # the gate never goes below the pre-calibration default (see _choose)
SEED = 20261201


@dataclass(frozen=True)
class Calibration:
    """The gate chosen for one KB snapshot, with the simulation's estimates."""

    key: str
    target_precision: float
    threshold: float  # confidence needed to answer
    estimated_precision: float | None  # at the threshold, for the assumed traffic mix
    estimated_coverage: float  # share of answerable pseudo-queries answered
    auroc: float | None  # answerable vs unanswerable pseudo-queries, by confidence
    off_topic_below: float  # best dense similarity under which a query is off-topic
    answerable_queries: int
    unanswerable_queries: int
    reached_target: bool  # False: even the strictest threshold misses the target
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (reports, the admin API)."""
        return asdict(self)

    def save(self, path: Path) -> None:
        """Write as JSON, atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_dict(), handle)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, key: str) -> Calibration | None:
        """The cached calibration if it was made for exactly this key, else None."""
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            return cls(**stored) if stored.get("key") == key else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("ignoring unreadable calibration %s: %s", path, exc)
            return None


def calibration_key(probe_key: str, target_precision: float, ranking: RankingConfig) -> str:
    """Equal keys, equal calibrations: the probe key covers the model and every text."""
    text = f"{CALIBRATION_FORMAT}\n{probe_key}\n{target_precision:.4f}\n{ranking}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Units:
    """The KB's short texts (title, questions, headings, sentences), each with its article row
    and vector: the material of the simulation."""

    articles: np.ndarray  # (n,) article row
    texts: list[str]
    vectors: np.ndarray  # (n, dim)
    headings: np.ndarray  # (n,) True for titles, questions and headings


class _Searcher:
    """Ranks articles for a vector over one snapshot with some articles hidden, as
    `KnowledgeBase.search` does (same passages, BM25, fusion and confidence)."""

    def __init__(self, snapshot: Any, ranking: RankingConfig) -> None:
        self.snapshot = snapshot
        self.ranking = ranking
        self.passages = snapshot.index.reconstruct_n(0, snapshot.index.ntotal)
        self.n_articles = len(snapshot.article_ids)

    def rank(self, vector: np.ndarray, text: str, hidden: np.ndarray, probe: Any) -> tuple:
        snapshot = self.snapshot
        sims = self.passages @ vector
        visible = ~hidden[snapshot.passage_article]
        rows = np.flatnonzero(visible)
        considered = min(self.ranking.passages_considered, rows.size)
        if considered == 0:
            return [], 0.0
        best = rows[np.argpartition(-sims[rows], considered - 1)[:considered]]
        best = best[np.argsort(-sims[best], kind="stable")]
        lexical = snapshot.lexical_scores(text).astype(np.float64)
        lexical[hidden] = 0.0
        ranked = article_scores(
            best,
            sims[best],
            snapshot.passage_article,
            snapshot.passage_is_content,
            lexical,
            self.n_articles,
            self.ranking,
            probe.probabilities(vector) if probe is not None else None,
        )
        return ranked, confidence(ranked)


@dataclass(frozen=True)
class Simulation:
    """Confidences of the simulated questions (see the module docstring)."""

    positive: np.ndarray  # answerable topic queries
    right: np.ndarray  # ... whose top article was their own
    negative_units: np.ndarray  # unanswerable: one short text of a hidden article
    negative_headings: np.ndarray  # those of negative_units that are titles/questions/headings
    best_dense: np.ndarray  # best dense similarity of the unanswerable unit queries


def simulate(snapshot: Any, units: Units, ranking: RankingConfig) -> Simulation | None:
    """Run the leave-articles-out simulation; None when the KB is too small to split."""
    n_articles = len(snapshot.article_ids)
    if n_articles < MIN_ARTICLES or len(units.texts) < 2 * FOLDS:
        return None
    rng = np.random.default_rng(SEED)
    article_fold = rng.permutation(n_articles) % FOLDS
    unit_fold = rng.permutation(len(units.texts)) % FOLDS
    searcher = _Searcher(snapshot, ranking)

    # Sample which pseudo-queries to run up front, so a large KB costs a bounded time: the
    # headings decide the gate, a sample of the other texts only the off-topic floor.
    def sample(rows: np.ndarray, most: int) -> np.ndarray:
        return rows if rows.size <= most else rng.choice(rows, most, replace=False)

    unanswerable = np.sort(
        np.concatenate(
            [
                sample(np.flatnonzero(units.headings), MAX_QUERIES),
                sample(np.flatnonzero(~units.headings), MAX_FLOOR_QUERIES),
            ]
        )
    )
    topic_budget = max(1, MAX_QUERIES // (n_articles * (FOLDS - 1)))
    per_article = min(TOPIC_QUERIES_PER_ARTICLE, topic_budget)

    def topic(pool: np.ndarray) -> tuple[np.ndarray, str]:
        pick = rng.choice(pool, min(TOPIC_UNITS, pool.size), replace=False)
        vector = units.vectors[pick].mean(axis=0)
        vector = (vector / (np.linalg.norm(vector) or 1.0)).astype(np.float32)
        return vector, " ".join(units.texts[row] for row in pick)

    positive: list[tuple[float, bool]] = []  # (confidence, right) of answerable queries
    negative_units: list[float] = []
    negative_headings: list[float] = []
    best_dense: list[float] = []
    for fold in range(FOLDS):
        hidden = article_fold == fold
        learn_rows = np.flatnonzero(~hidden[units.articles] & (unit_fold != fold))
        if learn_rows.size > MAX_PROBE_UNITS:
            learn_rows = rng.choice(learn_rows, MAX_PROBE_UNITS, replace=False)
        probe = train_probe(
            "calibration",
            snapshot.article_ids,
            units.vectors[learn_rows],
            units.articles[learn_rows],
        )
        for row in unanswerable[hidden[units.articles[unanswerable]]]:
            ranked, sure = searcher.rank(units.vectors[row], units.texts[row], hidden, probe)
            if ranked:
                negative_units.append(sure)
                best_dense.append(ranked[0].dense)
                if units.headings[row]:
                    negative_headings.append(sure)
        for article in np.flatnonzero(~hidden):
            pool = np.flatnonzero((units.articles == article) & (unit_fold == fold))
            if pool.size < 2:
                continue
            for _ in range(per_article):
                vector, text = topic(pool)
                ranked, sure = searcher.rank(vector, text, hidden, probe)
                if ranked:
                    positive.append((sure, ranked[0].article == article))
    if not positive or not negative_units:
        return None
    return Simulation(
        np.array([sure for sure, _ in positive]),
        np.array([right for _, right in positive]),
        np.array(negative_units),
        np.array(negative_headings),
        np.array(best_dense),
    )


def calibrate(
    snapshot: Any,
    units: Units,
    *,
    key: str,
    target_precision: float,
    ranking: RankingConfig,
) -> Calibration | None:
    """Simulate answerable and unanswerable questions on `snapshot` and choose the gate; None
    when the KB is too small to simulate (fewer than MIN_ARTICLES articles)."""
    started = time.perf_counter()
    simulation = simulate(snapshot, units, ranking)
    if simulation is None:
        return None
    # Titles, questions and headings are the unanswerable questions; a KB with too few of them
    # (flat articles) falls back on every short text.
    negative = simulation.negative_headings
    if negative.size < MIN_HEADING_QUERIES:
        negative = simulation.negative_units
    return _choose(
        key,
        target_precision,
        simulation.positive,
        simulation.right,
        negative,
        float(np.quantile(simulation.best_dense, OFF_TOPIC_QUANTILE)),
        time.perf_counter() - started,
    )


def estimated_precision(
    positive: np.ndarray, right: np.ndarray, negative: np.ndarray, threshold: float
) -> float | None:
    """Answered precision at `threshold` for the assumed mix of answerable and not."""
    answered = (positive >= threshold).mean()
    answered_right = ((positive >= threshold) & right).mean()
    wrongly = (negative >= threshold).mean()
    share = UNANSWERABLE_SHARE
    denominator = (1 - share) * answered + share * wrongly
    return float((1 - share) * answered_right / denominator) if denominator > 0 else None


def _choose(
    key: str,
    target: float,
    positive: np.ndarray,
    right: np.ndarray,
    negative: np.ndarray,
    off_topic_below: float,
    seconds: float,
) -> Calibration:
    # Scan thresholds from strict to lenient; keep the most lenient one that meets the target.
    candidates = np.unique(np.concatenate([positive, negative]))[::-1]
    chosen, precision, reached = float(candidates[0]), None, False
    for threshold in candidates:
        estimate = estimated_precision(positive, right, negative, float(threshold))
        if estimate is not None and estimate >= target:
            chosen, precision, reached = float(threshold), estimate, True
    if not reached:
        # No threshold meets the target (a KB of near-duplicate articles): take the one with
        # the best estimate that still answers a quarter of what it could, and say so.
        best = -1.0
        for threshold in candidates:
            if (positive >= threshold).mean() < MIN_FALLBACK_COVERAGE:
                continue
            estimate = estimated_precision(positive, right, negative, float(threshold))
            if estimate is not None and estimate > best:
                chosen, precision, best = float(threshold), estimate, estimate
    if chosen < MIN_THRESHOLD:
        # Pseudo-queries are easier to reject than real near-domain questions ("do you have a
        # loyalty scheme?" in a bike shop's KB) when a KB is small and its articles far apart:
        # there the simulation sees no overlap at all. It may raise the gate, never lower it
        # below the conservative default.
        chosen = MIN_THRESHOLD
        precision = estimated_precision(positive, right, negative, chosen)
    from sklearn.metrics import roc_auc_score

    labels = np.r_[np.ones(positive.size), np.zeros(negative.size)]
    return Calibration(
        key=key,
        target_precision=target,
        threshold=chosen,
        estimated_precision=precision,
        estimated_coverage=float((positive >= chosen).mean()),
        auroc=float(roc_auc_score(labels, np.r_[positive, negative])),
        off_topic_below=off_topic_below,
        answerable_queries=int(positive.size),
        unanswerable_queries=int(negative.size),
        reached_target=reached,
        seconds=seconds,
    )


def units_of(
    article_rows: Sequence[int],
    texts: Sequence[str],
    vectors: Sequence[np.ndarray],
    headings: Sequence[bool],
) -> Units:
    """Bundle the simulation's material."""
    return Units(
        np.asarray(article_rows, np.int64),
        list(texts),
        np.asarray(np.stack(vectors) if len(vectors) else np.zeros((0, 1)), np.float32),
        np.asarray(headings, bool),
    )
