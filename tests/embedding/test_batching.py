"""The batcher: concurrent requests share batches per model, and every encode runs under it."""

from __future__ import annotations

import asyncio

import numpy as np

from embedding import BatchingEmbedder, FakeEmbedder


async def test_batcher_embeds_each_request_with_its_model_and_batches_per_model() -> None:
    base, other = FakeEmbedder(dim=32), FakeEmbedder(dim=48)
    batcher = BatchingEmbedder(base, max_wait_ms=50)
    try:
        texts = ["refund please", "reset password", "where is my parcel"]
        vectors = await asyncio.gather(
            *(batcher.embed(text) for text in texts),
            *(batcher.embed(text, other) for text in texts),
        )
    finally:
        batcher.close()
    assert base.calls == [3] and other.calls == [3]  # one batch per model
    assert list(batcher.batch_sizes) == [3, 3]
    assert [vector.shape for vector in vectors] == [(32,)] * 3 + [(48,)] * 3
    np.testing.assert_allclose(np.stack(vectors[3:]), other.encode(texts))


def test_sync_encodes_are_counted_and_marked_as_inside_the_batcher() -> None:
    seen: list[bool] = []

    class Watching(FakeEmbedder):
        def encode(self, texts):  # type: ignore[no-untyped-def]
            seen.append(batcher.encoding())
            return super().encode(texts)

    model = Watching()
    batcher = BatchingEmbedder(model)
    try:
        assert batcher.encode(["one", "two"]).shape == (2, model.dim)
        assert not batcher.encoding()  # only while it runs
        model.encode(["outside"])
    finally:
        batcher.close()
    assert seen == [True, False]
    assert batcher.texts_encoded == {model.model_id: 2}


async def test_batch_history_keeps_only_recent_batches() -> None:
    batcher = BatchingEmbedder(FakeEmbedder(dim=8), max_wait_ms=0)
    try:
        for i in range(1100):
            await batcher.embed(f"turn {i}")
    finally:
        batcher.close()
    assert 0 < len(batcher.batch_sizes) <= 1000
    assert list(batcher.batch_sizes)[-1] == 1
