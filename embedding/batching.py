"""The one way into a model in a running server: concurrent requests share batches, and every
encode, batched or not, runs under one lock on one worker thread at a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedding.models import Embedder, EmbeddingError

BATCH_HISTORY = 1000  # batch sizes kept for tests and diagnostics


class BatchingEmbedder:
    """Shares models between concurrent turns and background work.

    `embed` (async) queues one text; requests made within `max_wait_ms` of each other are encoded
    together, per model, on a worker thread, off the event loop. `encode` (sync, for worker
    threads: indexing, evaluation) runs under the same lock, so the two never compete for the
    model. A request may name another model than the default one (the knowledge base's adapted
    copy, see `retrieval.adaptation`).

    The batcher is itself an `Embedder` for its default model, so scoring can be handed it.
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
        self._local = threading.local()
        # Sizes of the latest batches `embed` formed (bounded: a server runs for months).
        self.batch_sizes: deque[int] = deque(maxlen=BATCH_HISTORY)
        self.texts_encoded: Counter[str] = Counter()  # by model id, batched or not
        # Called with the size of every batch `embed` forms (the server's metrics observe it).
        self.on_batch: Callable[[int], None] | None = None
        self.batch_histogram: Counter[int] = Counter()  # every batch `embed` formed, by size

    # The default model's identity, so the batcher can stand in for it.
    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    @property
    def dim(self) -> int:
        return self.embedder.dim

    @property
    def max_tokens(self) -> int:
        return self.embedder.max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` for the default model (tokenizing needs no lock)."""
        return self.embedder.count_tokens(text)

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

    def encode(self, texts: Sequence[str], model: Embedder | None = None) -> np.ndarray:
        """Encode from a worker thread, serialised with the batches."""
        model = model or self.embedder
        with self._lock:
            self._local.encoding = True
            try:
                self.texts_encoded[model.model_id] += len(texts)
                return model.encode(texts)
            finally:
                self._local.encoding = False

    def encoding(self) -> bool:
        """True inside an encode this batcher runs, on the calling thread (tests check it)."""
        return bool(getattr(self._local, "encoding", False))

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
        if self.on_batch is not None:
            self.on_batch(len(texts))
        self.batch_histogram[len(texts)] += 1
        try:
            vectors = await loop.run_in_executor(self._executor, self.encode, texts, group[0][1])
        except Exception as exc:  # delivered to every waiting turn, which reports it
            for _, _, future in group:
                if not future.done():
                    future.set_exception(EmbeddingError(f"embedding failed: {exc}"))
            return
        for (_, _, future), vector in zip(group, vectors, strict=True):
            if not future.done():
                future.set_result(vector)

    def stats(self) -> dict[str, dict[str, int]]:
        """Since start: batches `embed` formed by size, and texts encoded by model."""
        return {
            "batch_sizes": {str(size): n for size, n in sorted(self.batch_histogram.items())},
            "texts_encoded": dict(self.texts_encoded),
        }

    def close(self) -> None:
        """Stop the worker and its thread."""
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


_Request = tuple[str, Embedder, "asyncio.Future[np.ndarray]"]
