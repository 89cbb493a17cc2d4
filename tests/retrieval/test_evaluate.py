"""The offline retrieval evaluation over a labelled query CSV."""

from __future__ import annotations

import json
from pathlib import Path

from embedding import FakeEmbedder
from retrieval.evaluate import auroc, evaluate_retrieval


def test_evaluation_reports_ranking_gate_and_throughput(tmp_path: Path, small_kb_dir: Path) -> None:
    queries = tmp_path / "queries.csv"
    queries.write_text(
        "text,article,domain\n"
        "request a refund invoice,billing/refunds,x\n"
        "reset password link,account/reset-password,x\n"
        "zebra giraffe savanna,,x\n",
        encoding="utf-8",
    )
    out = tmp_path / "details.jsonl"
    metrics = evaluate_retrieval(
        kb_dir=small_kb_dir,
        queries_path=queries,
        out_path=out,
        embedder=FakeEmbedder(),
        threshold=0.0,
    )
    assert metrics["n"] == 3
    assert metrics["hit@1"] == metrics["hit@3"] == metrics["mrr"] == 1.0
    assert metrics["coverage"] == 1.0
    assert metrics["answered_precision"] == 2 / 3  # the answered off-topic query counts as wrong
    assert metrics["auroc"] is not None
    assert metrics["index_passages_per_s"] > 0 and metrics["raw_encode_per_s"] > 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert (
        rows[0]["expected"] == "billing/refunds"
        and rows[0]["top"][0]["article"] == "billing/refunds"
    )
    assert rows[2]["expected"] is None and rows[2]["answered"] is True


def test_auroc_counts_ties_as_half() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.5], [0.5]) == 0.5
    assert auroc([0.5], []) is None
