"""Indexing speed on a large generated knowledge base: `supportbot eval indexing`.

The bar is relative, so both rates come from the same run on the same texts: the model's raw
batch-encoding rate over exactly the texts a cold build embeds, and the rate of the cold build
itself (parsing, chunking, embedding, saving, building FAISS and BM25). A second `KnowledgeBase`
over the same index folder then measures a restart with the KB unchanged.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from embedding import Embedder
from retrieval.articles import load_articles
from retrieval.knowledge_base import ENCODE_BATCH, KnowledgeBase
from retrieval.maintenance import KBMaintainer


def synthetic_kb(source: Path, destination: Path, count: int, seed: int = 0) -> int:
    """Write `count` articles to `destination`, each a distinct variant of one under `source`.

    Variants keep the source's structure and length (front matter, headings, lists), which is
    what indexing cost depends on. Each gets its own title and a shuffled section order; the
    title is part of every passage the model sees, so no two articles share a passage vector
    (single sentences, which the probe also learns from, do repeat across variants).
    """
    articles, _ = load_articles(source)
    templates = [articles[key] for key in sorted(articles)]
    if not templates:
        raise ValueError(f"{source}: no articles to build a benchmark knowledge base from")
    rng = random.Random(seed)
    destination.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        template = templates[number % len(templates)]
        intro, *sections = template.body.split("\n## ")
        rng.shuffle(sections)
        body = "\n## ".join([intro, *sections])
        title = f"{template.title} (variant {number})"
        front = f'---\ntitle: "{title}"\ntags: [{", ".join(template.tags)}]\n---\n'
        (destination / f"article-{number:05d}.md").write_text(front + body, encoding="utf-8")
    return count


def raw_encode_rate(embedder: Embedder, texts: list[str]) -> float:
    """The model's own throughput on `texts`, batched the way indexing batches them."""
    ordered = sorted(texts, key=len)
    started = time.perf_counter()
    for start in range(0, len(ordered), ENCODE_BATCH):
        embedder.encode(ordered[start : start + ENCODE_BATCH])
    elapsed = time.perf_counter() - started
    return len(ordered) / elapsed if elapsed > 0 else float("inf")


def benchmark_indexing(
    *, embedder: Embedder, source: Path, articles: int, kb_dir: Path | None = None
) -> dict[str, Any]:
    """Cold build, raw encoding of the same texts, and an unchanged restart, in one run."""
    with tempfile.TemporaryDirectory(prefix="supportbot-bench-") as scratch:
        root = Path(scratch)
        if kb_dir is None:
            kb_dir = root / "kb"
            synthetic_kb(source, kb_dir, articles)
        index_dir = root / "index"

        cold = KnowledgeBase(kb_dir, index_dir, embedder, public_url="http://localhost")
        cold_upkeep = KBMaintainer(cold)
        report = cold_upkeep.load()
        snapshot = cold.current
        assert snapshot is not None
        texts = cold.embedded_texts()
        index_rate = report.embedded_passages / report.seconds if report.seconds else None
        # The probe trains in the background after the build; let it finish so it does not
        # share the CPU with the raw-rate measurement.
        probe_started = time.perf_counter()
        cold_upkeep.wait_for_probe()
        probe_seconds = time.perf_counter() - probe_started
        raw = raw_encode_rate(embedder, texts)

        restarted = KnowledgeBase(kb_dir, index_dir, embedder, public_url="http://localhost")
        restarted_upkeep = KBMaintainer(restarted)
        again = restarted_upkeep.load()
        return {
            "articles": len(snapshot.article_ids),
            "passages": len(snapshot.passages),
            "texts_embedded": report.embedded_passages,
            "cold_build_s": round(report.seconds, 3),
            "index_texts_per_s": round(index_rate, 1) if index_rate else None,
            "raw_encode_per_s": round(raw, 1),
            "index_vs_raw": round(index_rate / raw, 3) if index_rate else None,
            "probe_wait_after_build_s": round(probe_seconds, 1),
            "restart_s": round(again.seconds, 3),
            "restart_embedded": again.embedded_passages,
            "restart_probe_ready": restarted_upkeep.wait_for_probe(0),
        }
