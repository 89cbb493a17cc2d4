"""Measure retrieval on a labelled query set with the real KnowledgeBase search and gate."""

from __future__ import annotations

import csv
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from embedding import Embedder
from retrieval.benchmark import raw_encode_rate
from retrieval.examples import LabelledExample
from retrieval.index import version_key
from retrieval.knowledge_base import (
    DEFAULT_ANSWER_PRECISION,
    KnowledgeBase,
    ReloadReport,
    SearchResult,
)
from retrieval.maintenance import KBMaintainer
from retrieval.ranking import RankingConfig

log = logging.getLogger(__name__)


def read_queries(queries_path: Path) -> list[tuple[str, str]]:
    """(text, expected article id or "") pairs from a `text,article` CSV."""
    with Path(queries_path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "article"} <= set(reader.fieldnames):
            raise ValueError(f"{queries_path}: needs the columns text,article")
        return [((row["text"] or "").strip(), (row["article"] or "").strip()) for row in reader]


def auroc(positive: list[float], negative: list[float]) -> float | None:
    """Probability a random positive outscores a random negative (ties count half)."""
    if not positive or not negative:
        return None
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    n_pos = len(positive)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * len(negative)))


@contextmanager
def _settled_kb(
    kb_dir: Path,
    embedder: Embedder,
    index_dir: Path | None,
    threshold: float | None,
    answer_precision: float,
    ranking: RankingConfig | None,
    adapt: bool,
) -> Iterator[tuple[KnowledgeBase, ReloadReport]]:
    """A KB loaded with all its background work done (probe, adapted model, calibrated gate),
    indexed in `index_dir` or a scratch folder removed afterwards; with the first load's report."""
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as scratch:
        kb = KnowledgeBase(
            Path(kb_dir),
            Path(index_dir) if index_dir is not None else Path(scratch),
            embedder,
            public_url="http://localhost",
            answer_threshold=threshold,
            answer_precision=answer_precision,
            ranking=ranking,
        )
        upkeep = KBMaintainer(kb, adapt=adapt)
        report = upkeep.load()
        upkeep.wait_for_probe()
        upkeep.wait_for_adaptation()  # then retrieval has switched to the adapted model
        upkeep.wait_for_probe()
        upkeep.wait_for_calibration()
        yield kb, report


def evaluate_retrieval(
    *,
    kb_dir: Path,
    queries_path: Path,
    out_path: Path | None,
    embedder: Embedder,
    index_dir: Path | None = None,
    threshold: float | None = None,
    answer_precision: float = DEFAULT_ANSWER_PRECISION,
    ranking: RankingConfig | None = None,
    adapt: bool = False,
) -> dict[str, Any]:
    """hit@1/3, MRR, AUROC, answered precision and coverage at the threshold, and throughput."""
    queries = read_queries(queries_path)
    with _settled_kb(kb_dir, embedder, index_dir, threshold, answer_precision, ranking, adapt) as (
        kb,
        report,
    ):
        index_rate = report.embedded_passages / report.seconds if report.embedded_passages else None
        # Against the same texts the build embedded (passages and the probe's short texts),
        # once background training no longer shares the CPU.
        raw_rate = (
            raw_encode_rate(embedder, kb.embedded_texts()) if report.embedded_passages else None
        )

        started = time.perf_counter()
        results = [kb.search(query, k=10) for query in kb.queries([text for text, _ in queries])]
        seconds = time.perf_counter() - started

    metrics = _metrics(queries, results, kb.threshold)
    metrics.update(
        queries_per_s=len(queries) / seconds if seconds > 0 else None,
        index_passages_per_s=index_rate,
        raw_encode_per_s=raw_rate,
        threshold=kb.threshold,
        n=len(queries),
        answer_gate=kb.gate_report(),
    )
    if out_path is not None:
        _write_details(Path(out_path), queries, results)
    return metrics


def _metrics(
    queries: list[tuple[str, str]], results: list[SearchResult], threshold: float
) -> dict[str, Any]:
    hit1 = hit3 = reciprocal = 0.0
    answerable = answered = answered_right = answered_answerable = 0
    positive: list[float] = []
    negative: list[float] = []
    off_topic = {True: 0, False: 0}  # answerable or not -> how many were judged off-topic
    for (_, expected), result in zip(queries, results, strict=True):
        off_topic[bool(expected)] += not result.in_scope
        ranked = [hit.article_id for hit in result.hits]
        if expected:
            answerable += 1
            positive.append(result.confidence)
            if expected in ranked:
                rank = ranked.index(expected) + 1
                hit1 += rank == 1
                hit3 += rank <= 3
                reciprocal += 1 / rank
        else:
            negative.append(result.confidence)
        if result.answerable:
            answered += 1
            answered_right += bool(expected) and ranked[:1] == [expected]
            answered_answerable += bool(expected)
    return {
        "hit@1": hit1 / answerable if answerable else None,
        "hit@3": hit3 / answerable if answerable else None,
        "mrr": reciprocal / answerable if answerable else None,
        "auroc": auroc(positive, negative),
        "answered_precision": answered_right / answered if answered else None,
        "coverage": answered_answerable / answerable if answerable else None,
        # Declined as off-topic (not counted as an in-scope gap): wanted high on queries from
        # other domains, near zero on answerable ones.
        "off_topic_unanswerable": off_topic[False] / len(negative) if negative else None,
        "off_topic_answerable": off_topic[True] / answerable if answerable else None,
    }


def _write_details(
    out_path: Path, queries: list[tuple[str, str]], results: list[SearchResult]
) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as handle:
        for (text, expected), result in zip(queries, results, strict=True):
            record = {
                "text": text,
                "expected": expected or None,
                "top": [
                    {"article": hit.article_id, "score": round(hit.score, 4)}
                    for hit in result.hits[:3]
                ],
                "confidence": round(result.confidence, 4),
                "answered": result.answerable,
                "in_scope": result.in_scope,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# Weights of replayed outcomes, as the product records them (bot.conversation.outcomes): a
# customer's thumb counts half of a CME's choice of article; a CME's reply without an article
# (the KB has no answer) counts half too.
CUSTOMER_WEIGHT = 0.5
CME_WEIGHT = 1.0
CME_DECLINE_WEIGHT = 0.5
REPORTED = ("answered_precision", "coverage", "hit@1", "auroc")


def outcomes_of(
    queries: list[tuple[str, str]], results: list[SearchResult], versions: dict[str, str]
) -> list[LabelledExample]:
    """What the product would learn from these queries: a thumb up or down on each answered one
    (the customer knows whether the answer helped), and for each declined one the article a CME
    picks for the reply (or none, when the KB has no answer)."""
    examples = []
    for (text, expected), result in zip(queries, results, strict=True):
        if result.answerable:
            top = result.hits[0].article_id
            examples.append(
                LabelledExample(
                    text, top, 1 if top == expected else -1, CUSTOMER_WEIGHT, versions.get(top)
                )
            )
        else:
            weight = CME_WEIGHT if expected else CME_DECLINE_WEIGHT
            examples.append(
                LabelledExample(text, expected or None, 1, weight, versions.get(expected))
            )
    return examples


def _at_coverage(
    queries: list[tuple[str, str]], results: list[SearchResult], coverage: float
) -> dict[str, float | None]:
    """Answered precision when the threshold is set to answer `coverage` of the answerable
    queries (the k-th best confidence among them, k = coverage * answerable)."""
    answerable = sorted(
        (result.confidence for (_, expected), result in zip(queries, results, strict=True)
         if expected),
        reverse=True,
    )  # fmt: skip
    k = round(coverage * len(answerable))
    if k == 0:
        return {"threshold": None, "answered_precision": None, "coverage": 0.0}
    threshold = answerable[k - 1]
    answered = right = covered = 0
    for (_, expected), result in zip(queries, results, strict=True):
        if result.hits and result.confidence >= threshold:
            answered += 1
            covered += bool(expected)
            right += bool(expected) and result.hits[0].article_id == expected
    return {
        "threshold": threshold,
        "answered_precision": right / answered if answered else None,
        "coverage": covered / len(answerable),
    }


def replay_outcomes(
    *,
    kb_dir: Path,
    queries_path: Path,
    embedder: Embedder,
    share: float = 0.2,
    seeds: int = 5,
    index_dir: Path | None = None,
    threshold: float | None = None,
    answer_precision: float = DEFAULT_ANSWER_PRECISION,
    adapt: bool = False,
) -> dict[str, Any]:
    """Learning from outcomes, measured: for each seed, the outcomes of a random `share` of the
    queries (see `outcomes_of`) are fed back as labelled examples and the rest is searched with
    and without them. Reports answered precision at the product's gate, and at equal coverage
    (the threshold that answers as many of the answerable queries as the run without feedback),
    per seed and on average."""
    queries = read_queries(queries_path)
    with _settled_kb(kb_dir, embedder, index_dir, threshold, answer_precision, None, adapt) as (
        kb,
        _,
    ):
        versions = {article.id: version_key(article) for article in kb.articles()}
        embedded = kb.queries([text for text, _ in queries])
        runs = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(queries))
            cut = round(share * len(queries))
            fed, rest = sorted(order[:cut].tolist()), sorted(order[cut:].tolist())
            kb.use_examples([])
            seen = [kb.search(embedded[row], k=3) for row in fed]
            examples = outcomes_of([queries[row] for row in fed], seen, versions)
            rest_queries = [queries[row] for row in rest]
            before = [kb.search(embedded[row], k=3) for row in rest]
            kb.use_examples(examples)
            after = [kb.search(embedded[row], k=3) for row in rest]
            kb.use_examples([])
            base = _metrics(rest_queries, before, kb.threshold)
            learnt = _metrics(rest_queries, after, kb.threshold)
            equal = _at_coverage(rest_queries, after, base["coverage"] or 0.0)
            runs.append(
                {
                    "seed": seed,
                    "examples": len(examples),
                    "examples_by_kind": {
                        "thumbs_up": sum(
                            1 for ex, r in zip(examples, seen, strict=True)
                            if r.answerable and ex.polarity > 0
                        ),
                        "thumbs_down": sum(1 for ex in examples if ex.polarity < 0),
                        "cme_article": sum(
                            1 for ex, r in zip(examples, seen, strict=True)
                            if not r.answerable and ex.article_id
                        ),
                        "cme_no_answer": sum(1 for ex in examples if ex.article_id is None),
                    },
                    "without": {name: base[name] for name in REPORTED},
                    "with": {name: learnt[name] for name in REPORTED},
                    "with_at_equal_coverage": equal,
                }
            )  # fmt: skip

    def mean(path: tuple[str, str]) -> float | None:
        values = [run[path[0]][path[1]] for run in runs if run[path[0]][path[1]] is not None]
        return float(np.mean(values)) if values else None

    summary = {
        "precision_without": mean(("without", "answered_precision")),
        "coverage_without": mean(("without", "coverage")),
        "precision_with_at_equal_coverage": mean(("with_at_equal_coverage", "answered_precision")),
        "coverage_with_at_equal_coverage": mean(("with_at_equal_coverage", "coverage")),
        "precision_with_at_gate": mean(("with", "answered_precision")),
        "coverage_with_at_gate": mean(("with", "coverage")),
        "hit@1_without": mean(("without", "hit@1")),
        "hit@1_with": mean(("with", "hit@1")),
        "auroc_without": mean(("without", "auroc")),
        "auroc_with": mean(("with", "auroc")),
    }
    gain = None
    if summary["precision_with_at_equal_coverage"] is not None and summary["precision_without"]:
        gain = summary["precision_with_at_equal_coverage"] - summary["precision_without"]
    return {
        "feedback_share": share,
        "seeds": seeds,
        "n": len(queries),
        "threshold": kb.threshold,
        "precision_gain_at_equal_coverage": gain,
        **summary,
        "runs": runs,
    }
