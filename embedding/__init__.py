"""Sentence embeddings: the model protocol, the real and fake models, and the batcher that every
encode in a running server goes through. The ground floor: it imports nothing of ours."""

from embedding.batching import BatchingEmbedder
from embedding.models import (
    Embedder,
    EmbeddingError,
    FakeEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
    resolve_model,
)

__all__ = [
    "BatchingEmbedder",
    "Embedder",
    "EmbeddingError",
    "FakeEmbedder",
    "SentenceTransformerEmbedder",
    "load_embedder",
    "resolve_model",
]
