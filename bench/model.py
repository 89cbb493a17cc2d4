"""The model alone, on the bench's own texts: what the server's figures are divided by."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from embedding import Embedder
from retrieval.articles import load_articles
from retrieval.chunking import chunk_article


@dataclass(frozen=True)
class BareModel:
    """One-at-a-time latency of encode + exact search, and the closed-loop batched rate."""

    single_p50_ms: float
    single_encode_p50_ms: float
    batched_rate: float  # texts per second, batches of `batch` texts back to back
    batched_cpu_rate: float  # texts per CPU-second of this process (all its threads)
    single_cpu_ms: float  # CPU milliseconds of one encode + search, on average
    batch: int
    passages: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "single_encode_search_p50_ms": round(self.single_p50_ms, 2),
            "single_encode_p50_ms": round(self.single_encode_p50_ms, 2),
            "batched_msgs_per_s": round(self.batched_rate, 1),
            "batched_msgs_per_cpu_s": round(self.batched_cpu_rate, 1),
            "single_encode_search_cpu_ms": round(self.single_cpu_ms, 2),
            "batch": self.batch,
            "index_passages": self.passages,
        }


def kb_index(embedder: Embedder, kb_dir: Path) -> tuple[faiss.IndexFlatIP, int]:
    """An exact inner-product index of the KB's passages, as the server searches it."""
    articles, _ = load_articles(kb_dir)
    texts = [
        passage.embed_text
        for article in articles.values()
        for passage in chunk_article(article, embedder.count_tokens, embedder.max_tokens)
    ]
    index = faiss.IndexFlatIP(embedder.dim)
    if texts:
        index.add(embedder.encode(texts))
    return index, len(texts)


def measure_bare_model(
    embedder: Embedder,
    texts: list[str],
    *,
    kb_dir: Path,
    batch: int,
    singles: int = 60,
    seconds: float = 3.0,
) -> BareModel:
    """Time `singles` one-text encodes (each followed by a search) and batches of `batch` texts
    for about `seconds`, after a warm-up."""
    index, passages = kb_index(embedder, kb_dir)
    embedder.encode(texts[:batch])  # warm-up: first calls allocate
    encode_ms: list[float] = []
    total_ms: list[float] = []
    cpu_started = time.process_time()
    for number in range(singles):
        text = texts[number % len(texts)]
        started = time.perf_counter()
        vector = embedder.encode([text])
        encoded = time.perf_counter()
        if passages:
            index.search(np.asarray(vector, dtype=np.float32), 10)
        done = time.perf_counter()
        encode_ms.append((encoded - started) * 1000)
        total_ms.append((done - started) * 1000)
    single_cpu_ms = (time.process_time() - cpu_started) * 1000 / singles
    repeated = (texts * (batch // max(len(texts), 1) + 1))[:batch]
    count = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    while True:
        embedder.encode(repeated)
        count += len(repeated)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            break
    cpu = time.process_time() - cpu_started
    return BareModel(
        single_p50_ms=statistics.median(total_ms),
        single_encode_p50_ms=statistics.median(encode_ms),
        batched_rate=count / elapsed,
        batched_cpu_rate=count / cpu if cpu > 0 else float("inf"),
        single_cpu_ms=single_cpu_ms,
        batch=batch,
        passages=passages,
    )
