"""Measure retrieval on a labelled query set with the real KnowledgeBase search and gate."""

from __future__ import annotations

import csv
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from embedding import Embedder
from retrieval.benchmark import raw_encode_rate
from retrieval.knowledge_base import DEFAULT_ANSWER_PRECISION, KnowledgeBase, SearchResult
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
        index_rate = report.embedded_passages / report.seconds if report.embedded_passages else None
        upkeep.wait_for_probe()
        upkeep.wait_for_adaptation()  # then retrieval has switched to the adapted model
        upkeep.wait_for_probe()
        upkeep.wait_for_calibration()
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
