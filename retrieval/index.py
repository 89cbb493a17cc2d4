"""The on-disk vector cache and the immutable in-memory index snapshot built from it.

Vectors are cached per passage, keyed by a hash of the text the model sees, in a folder per model:
an unchanged knowledge base embeds nothing on restart, an edited article re-embeds only its
changed passages, and a deleted one drops out at the next save. The FAISS flat index is rebuilt
from the cached vectors every time, which is cheap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from embedding import Embedder
from retrieval.articles import Article, KBProblem
from retrieval.calibration import Calibration
from retrieval.chunking import Passage, chunk_article
from retrieval.probe import ArticleProbe, training_texts
from retrieval.ranking import lexical_tokens

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def version_key(article: Article) -> str:
    """Cache key of one version of an article: what is derived from it changes with its text."""
    return f"{article.id}:{article.content_hash}"


class VectorCache:
    """Passage vectors and article chunkings on disk, under `index_dir/<model id>/`."""

    def __init__(self, index_dir: Path, embedder: Embedder) -> None:
        safe_model = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder.model_id)
        self.folder = Path(index_dir) / safe_model
        self.model_id = embedder.model_id
        self.dim = embedder.dim
        self.max_tokens = embedder.max_tokens
        self.vectors: dict[str, np.ndarray] = {}
        self.chunks: dict[str, list[Passage]] = {}
        self.probe_texts: dict[str, list[str]] = {}
        self.lexical: dict[str, list[str]] = {}  # BM25 terms per article version
        self._loaded = False
        self._dirty = False  # in memory differs from disk

    @property
    def _meta_path(self) -> Path:
        return self.folder / "passages.json"

    @property
    def _vectors_path(self) -> Path:
        return self.folder / "vectors.npy"

    def load(self) -> None:
        """Read the cache once; a missing, stale or corrupt cache just means re-embedding."""
        if self._loaded:
            return
        self._loaded = True
        try:
            meta = json.loads(self._meta_path.read_text("utf-8"))
            matrix = np.load(self._vectors_path)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable vector cache in %s: %s", self.folder, exc)
            return
        compatible = (
            meta.get("format") == CACHE_FORMAT
            and meta.get("model_id") == self.model_id
            and meta.get("dim") == self.dim
            and meta.get("max_tokens") == self.max_tokens
            and matrix.shape == (len(meta.get("hashes", [])), self.dim)
        )
        if not compatible:
            log.warning("vector cache in %s was built differently; re-embedding", self.folder)
            return
        self.vectors = {digest: matrix[row] for row, digest in enumerate(meta["hashes"])}
        self.chunks = {
            key: [Passage(**record) for record in records]
            for key, records in meta["chunks"].items()
        }
        self.probe_texts = meta.get("probe_texts", {})
        self.lexical = meta.get("lexical", {})

    def passages_for(self, article: Article, embedder: Embedder) -> list[Passage]:
        """The article's passages, from the cache when the file is unchanged."""
        key = version_key(article)
        if key not in self.chunks:
            self.chunks[key] = chunk_article(article, embedder.count_tokens, embedder.max_tokens)
            self._dirty = True
        return self.chunks[key]

    def probe_texts_for(self, article: Article) -> list[str]:
        """The article's extra probe training texts, from the cache when the file is unchanged."""
        key = version_key(article)
        if key not in self.probe_texts:
            self.probe_texts[key] = training_texts(article)
            self._dirty = True
        return self.probe_texts[key]

    def lexical_tokens_for(self, article: Article) -> list[str]:
        """The article's BM25 terms, from the cache when the file is unchanged (tokenizing a
        thousand articles is most of an unchanged restart otherwise)."""
        key = version_key(article)
        if key not in self.lexical:
            self.lexical[key] = lexical_tokens(article_document(article)) or ["_"]
            self._dirty = True
        return self.lexical[key]

    def add_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Remember newly embedded passages (written by the next `save`)."""
        self.vectors.update(vectors)
        self._dirty = self._dirty or bool(vectors)

    @property
    def probe_path(self) -> Path:
        """Where the fitted article probe is cached."""
        return self.folder / "probe.npz"

    @property
    def calibration_path(self) -> Path:
        """Where the calibrated answer gate is cached."""
        return self.folder / "calibration.json"

    def save(
        self,
        articles: Sequence[Article],
        passages: Sequence[Passage],
        extra_hashes: Sequence[str] = (),
    ) -> None:
        """Keep only what the current articles use, written atomically; a no-op when unchanged."""
        keys = {version_key(article) for article in articles}
        hashes = sorted({passage.hash for passage in passages} | set(extra_hashes))
        if not self._dirty and len(self.chunks) == len(keys) and len(self.vectors) == len(hashes):
            return
        self.chunks = {key: value for key, value in self.chunks.items() if key in keys}
        self.probe_texts = {key: value for key, value in self.probe_texts.items() if key in keys}
        self.lexical = {key: value for key, value in self.lexical.items() if key in keys}
        self.vectors = {digest: self.vectors[digest] for digest in hashes}
        self._dirty = False
        matrix = (
            np.stack([self.vectors[digest] for digest in hashes])
            if hashes
            else np.zeros((0, self.dim), dtype=np.float32)
        ).astype(np.float32)
        meta = {
            "format": CACHE_FORMAT,
            "model_id": self.model_id,
            "dim": self.dim,
            "max_tokens": self.max_tokens,
            "hashes": hashes,
            "chunks": {
                key: [asdict(passage) for passage in value] for key, value in self.chunks.items()
            },
            "probe_texts": self.probe_texts,
            "lexical": self.lexical,
        }
        _atomic_write(self._vectors_path, lambda handle: np.save(handle, matrix))
        _atomic_write(self._meta_path, lambda handle: json.dump(meta, handle), mode="w")


@dataclass(frozen=True)
class Snapshot:
    """Everything a search reads; built whole and swapped in by reference, never mutated."""

    articles: dict[str, Article]
    article_ids: list[str]
    passages: list[Passage]
    passage_article: np.ndarray  # passage row -> index into article_ids
    passage_is_content: np.ndarray  # True for section passages
    index: faiss.IndexFlatIP
    lexical: bm25s.BM25 | None
    problems: list[KBProblem]
    probe: ArticleProbe | None = None  # trained after the snapshot is first served
    calibration: Calibration | None = None  # the gate for this KB, chosen after the probe
    embedder: Embedder | None = None  # the model the vectors come from; queries must use it

    @classmethod
    def empty(cls, dim: int, problems: list[KBProblem] | None = None) -> Snapshot:
        return cls(
            {},
            [],
            [],
            np.zeros(0, np.int64),
            np.zeros(0, bool),
            faiss.IndexFlatIP(dim),
            None,
            problems or [],
        )

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 score of every article for `text` (zeros when no term matches)."""
        scores = np.zeros(len(self.article_ids), dtype=np.float32)
        tokens = lexical_tokens(text)
        if self.lexical is None or not tokens:
            return scores
        vocabulary = self.lexical.vocab_dict
        known = [token for token in tokens if token in vocabulary]
        if not known:
            return scores
        return np.asarray(self.lexical.get_scores(known), dtype=np.float32)

    def probe_scores(self, vector: np.ndarray) -> np.ndarray | None:
        """The probe's probability of every article, or None before it is trained."""
        if self.probe is None or self.probe.article_ids != tuple(self.article_ids):
            return None
        return self.probe.probabilities(vector)


def article_document(article: Article) -> str:
    """The text BM25 indexes for an article: title and questions count twice."""
    head = " ".join([article.title, *article.questions])
    return f"{head}\n{head}\n{' '.join(article.tags)}\n{article.body}"


def build_snapshot(
    articles: dict[str, Article],
    passages: list[Passage],
    vectors: dict[str, np.ndarray],
    dim: int,
    problems: list[KBProblem],
    lexical_corpus: Sequence[list[str]],
) -> Snapshot:
    """Assemble the FAISS and BM25 indexes for one consistent view of the knowledge base.

    `lexical_corpus` holds each article's BM25 terms (`VectorCache.lexical_tokens_for`) in
    `sorted(articles)` order.
    """
    article_ids = sorted(articles)
    if not article_ids:
        return Snapshot.empty(dim, problems)
    position = {article_id: row for row, article_id in enumerate(article_ids)}
    matrix = np.ascontiguousarray(
        np.stack([vectors[passage.hash] for passage in passages]), np.float32
    )
    index = faiss.IndexFlatIP(dim)
    index.add(matrix)
    lexical = bm25s.BM25()
    lexical.index(list(lexical_corpus), show_progress=False)
    return Snapshot(
        articles=dict(articles),
        article_ids=article_ids,
        passages=passages,
        passage_article=np.array([position[passage.article_id] for passage in passages], np.int64),
        passage_is_content=np.array([passage.kind == "section" for passage in passages], bool),
        index=index,
        lexical=lexical,
        problems=problems,
    )
