"""The served knowledge base: load, reload incrementally, watch for edits, search with a gate."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.adaptation import (
    READAPT_DRIFT,
    AdaptedModel,
    adapt_in_subprocess,
    adaptation_key,
    current_adapted,
    load_adapted,
    make_current,
    training_pairs,
)
from retrieval.articles import Article, KBProblem, load_articles
from retrieval.chunking import Passage
from retrieval.embedding import Embedder, SentenceTransformerEmbedder
from retrieval.index import Snapshot, VectorCache, build_snapshot, version_key
from retrieval.probe import ArticleProbe, probe_key, train_probe
from retrieval.ranking import RankingConfig, article_scores, confidence, fold_follow_up

log = logging.getLogger(__name__)

# An article opening shorter than this is shown together with the section that follows it.
SHORT_OPENING_CHARS = 300

# Confidence needed to present a passage, calibrated on the clinc30 dev queries, and checked on
# its test queries; SUPPORTBOT_ANSWER_THRESHOLD overrides both.
# - base model: the "more likely right than wrong" point (dev: answered precision 0.91 at 0.80
#   coverage; test 0.87 at 0.80);
# - KB-adapted model: its similarities run higher, so the same trade-off sits higher (dev 0.92 at
#   0.82; test 0.89 at 0.82).
DEFAULT_ANSWER_THRESHOLD = 0.5
ADAPTED_ANSWER_THRESHOLD = 0.7
ENCODE_BATCH = 256


@dataclass(frozen=True)
class Hit:
    """One article that may answer the query, with the passage that matched best."""

    article_id: str
    title: str
    section: str
    anchor: str
    url: str
    passage: str
    score: float
    escalate: bool


@dataclass(frozen=True)
class SearchResult:
    """Ranked distinct articles and whether the best is good enough to present."""

    hits: list[Hit]
    confidence: float
    answerable: bool
    reason: str | None
    query: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the bot's turn."""
        return asdict(self)


@dataclass
class ReloadReport:
    """What a load or reload changed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    embedded_passages: int = 0
    problems: list[KBProblem] = field(default_factory=list)
    seconds: float = 0.0


class KnowledgeBase:
    """Articles under `kb_dir`, indexed with `embedder`, searchable from any thread."""

    def __init__(
        self,
        kb_dir: Path,
        index_dir: Path,
        embedder: Embedder,
        *,
        public_url: str,
        answer_threshold: float | None = None,
        ranking: RankingConfig | None = None,
        adapt: bool = False,
    ) -> None:
        self.kb_dir = Path(kb_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        # Fine-tune a copy of the model on the KB in the background and retrieve with it.
        self.adapt = adapt and isinstance(embedder, SentenceTransformerEmbedder)
        self._active: Embedder = embedder  # the model new snapshots are built with
        self._adapted: AdaptedModel | None = None
        self._caches: dict[str, VectorCache] = {}
        self._adapt_lock = threading.Lock()
        self._adapt_settled = threading.Event()
        self._adapt_settled.set()
        self._generation = 0  # counts refreshes
        self.public_url = public_url.rstrip("/")
        self._configured_threshold = answer_threshold
        self.ranking = ranking or RankingConfig()
        self._snapshot: Snapshot | None = None
        self._reload_lock = threading.Lock()
        self._probe_lock = threading.Lock()  # one training at a time
        self._probe_settled = threading.Event()  # the current snapshot has its probe (or none)

    # -- state ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once a first load has finished."""
        return self._snapshot is not None

    @property
    def problems(self) -> list[KBProblem]:
        """Broken articles found by the last load."""
        return list(self._snapshot.problems) if self._snapshot else []

    @property
    def threshold(self) -> float:
        """Confidence a search needs to be answerable (with the model now serving)."""
        return self._threshold_for(self._snapshot)

    def _threshold_for(self, snapshot: Snapshot | None) -> float:
        if self._configured_threshold is not None:
            return self._configured_threshold
        adapted = snapshot is not None and snapshot.embedder not in (None, self.embedder)
        return ADAPTED_ANSWER_THRESHOLD if adapted else DEFAULT_ANSWER_THRESHOLD

    def article(self, article_id: str) -> Article | None:
        """A served article by id (drafts and broken files are not served)."""
        return self._snapshot.articles.get(article_id) if self._snapshot else None

    def articles(self) -> list[Article]:
        """Every served article, by id."""
        snapshot = self._snapshot
        return [snapshot.articles[key] for key in snapshot.article_ids] if snapshot else []

    @property
    def query_embedder(self) -> Embedder:
        """The model the served index was built with: queries must be embedded with it."""
        snapshot = self._snapshot
        return snapshot.embedder if snapshot and snapshot.embedder else self._active

    @property
    def adapted_model(self) -> AdaptedModel | None:
        """The KB-adapted model retrieval uses, once there is one."""
        return self._adapted

    @property
    def _adapted_root(self) -> Path:
        return self.index_dir / "adapted"

    def url(self, article_id: str, anchor: str = "") -> str:
        """Public link to an article, at a section when `anchor` is given."""
        return f"{self.public_url}/kb/{article_id}" + (f"#{anchor}" if anchor else "")

    # -- indexing ------------------------------------------------------------------------------

    def load(self) -> ReloadReport:
        """Parse the KB, embed passages not in the cache, and swap in a new index."""
        return self._refresh(progress=False)

    def reload(self) -> ReloadReport:
        """Pick up edits: only new or changed passages are embedded."""
        return self._refresh(progress=False)

    def rebuild(self, progress: bool = False) -> ReloadReport:
        """Refresh with an optional progress bar on stderr (the `supportbot index` command)."""
        return self._refresh(progress=progress)

    def _refresh(self, *, progress: bool) -> ReloadReport:
        with self._reload_lock:
            started = time.perf_counter()
            if self.adapt and not self._caches:  # first load: resume with the saved adaptation
                self._resume_adaptation()
            embedder = self._active
            cache = self._cache_for(embedder)
            articles, problems = load_articles(self.kb_dir)
            for problem in problems:
                log.warning("knowledge base problem: %s", problem)

            passages: list[Passage] = []
            examples: list[tuple[str, str]] = []  # (article id, text hash) the probe learns from
            texts: dict[str, str] = {}
            for article_id in sorted(articles):
                for passage in cache.passages_for(articles[article_id], embedder):
                    passages.append(passage)
                    examples.append((article_id, passage.hash))
                    texts[passage.hash] = passage.embed_text
                for text in cache.probe_texts_for(articles[article_id]):
                    digest = hashlib.sha256(text.encode()).hexdigest()
                    examples.append((article_id, digest))
                    texts[digest] = text
            missing = {
                digest: text for digest, text in texts.items() if digest not in cache.vectors
            }
            if missing:
                cache.add_vectors(
                    self._encode_sorted(embedder, list(missing.items()), progress=progress)
                )

            report = self._diff(articles, problems, len(missing))
            lexical = [cache.lexical_tokens_for(articles[key]) for key in sorted(articles)]
            cache.save(list(articles.values()), passages, list(texts))
            snapshot = dataclasses.replace(
                build_snapshot(articles, passages, cache.vectors, embedder.dim, problems, lexical),
                embedder=embedder,
            )
            key = probe_key(embedder.model_id, examples)
            probe = ArticleProbe.load(cache.probe_path, key)
            self._probe_settled.clear()
            if probe is not None and probe.article_ids == tuple(snapshot.article_ids):
                snapshot = dataclasses.replace(snapshot, probe=probe)
                self._probe_settled.set()
            self._snapshot = snapshot
            self._generation += 1  # the probe swaps in a copy of the snapshot; this stays
            if snapshot.probe is None:
                vectors = labels = None
                if examples:
                    row = {article_id: i for i, article_id in enumerate(snapshot.article_ids)}
                    vectors = np.stack([cache.vectors[digest] for _, digest in examples])
                    labels = np.array([row[article_id] for article_id, _ in examples], np.int64)
                threading.Thread(
                    target=self._train_probe,
                    args=(snapshot, key, vectors, labels, cache.probe_path),
                    name="kb-probe",
                    daemon=True,
                ).start()
            if self.adapt:
                self._adapt_settled.clear()
                threading.Thread(
                    target=self._adapt_to,
                    args=(snapshot, self._generation),
                    name="kb-adapt",
                    daemon=True,
                ).start()
            report.seconds = time.perf_counter() - started
            log.info(
                "knowledge base loaded: %d articles, %d passages (%d embedded) in %.2fs",
                len(articles), len(passages), report.embedded_passages, report.seconds,
            )  # fmt: skip
            return report

    def _train_probe(
        self,
        snapshot: Snapshot,
        key: str,
        vectors: np.ndarray | None,
        labels: np.ndarray | None,
        path: Path,
    ) -> None:
        """Fit the probe off the serving path and swap it in if the KB has not changed since."""
        with self._probe_lock:
            if self._snapshot is not snapshot:
                return  # a newer reload started its own training
            probe = None
            if vectors is not None and labels is not None:
                started = time.perf_counter()
                try:
                    probe = train_probe(key, snapshot.article_ids, vectors, labels)
                except Exception:
                    log.exception("training the article probe failed; ranking without it")
                if probe is not None:
                    probe.save(path)
                    log.info(
                        "article probe trained on %d examples in %.1fs",
                        len(labels), time.perf_counter() - started,
                    )  # fmt: skip
            with self._reload_lock:
                if self._snapshot is snapshot:
                    if probe is not None:
                        self._snapshot = dataclasses.replace(snapshot, probe=probe)
                    self._probe_settled.set()

    def _cache_for(self, embedder: Embedder) -> VectorCache:
        cache = self._caches.get(embedder.model_id)
        if cache is None:
            cache = self._caches[embedder.model_id] = VectorCache(self.index_dir, embedder)
            cache.load()
        return cache

    # -- adaptation (see retrieval.adaptation) -------------------------------------------------

    def _resume_adaptation(self) -> None:
        """Retrieve with the model adapted at an earlier run, so a restart embeds nothing."""
        saved = current_adapted(self._adapted_root, self.embedder.model_id)
        if saved is None:
            return
        try:
            self._active = self._load_adapted(saved)
            self._adapted = saved
        except Exception:
            log.exception("cannot load the adapted model in %s; using the base model", saved.path)

    def _load_adapted(self, saved: AdaptedModel) -> Embedder:
        base = self.embedder
        assert isinstance(base, SentenceTransformerEmbedder)
        return SentenceTransformerEmbedder(
            str(saved.path), device=base.device, batch_size=base.batch_size, model_id=saved.model_id
        )

    def _adapt_to(self, snapshot: Snapshot, generation: int) -> None:
        """Adapt the model to this snapshot's articles and switch retrieval to it (background)."""
        self._probe_settled.wait()  # the probe is quick; let it have the CPU first
        with self._adapt_lock:
            try:
                if self._generation == generation:  # else a newer reload adapts its own
                    self._adapt_snapshot(snapshot)
            except Exception:
                log.exception("adapting the model to the KB failed; retrieval keeps its model")
            finally:
                if self._generation == generation:
                    self._adapt_settled.set()

    def _adapt_snapshot(self, snapshot: Snapshot) -> None:
        base = self.embedder
        assert isinstance(base, SentenceTransformerEmbedder)
        articles = [snapshot.articles[article_id] for article_id in snapshot.article_ids]
        by_article: dict[str, list[Passage]] = {}
        for passage in snapshot.passages:
            by_article.setdefault(passage.article_id, []).append(passage)
        pairs = training_pairs(articles, lambda article: by_article.get(article.id, []))
        versions = [version_key(article) for article in articles]
        current = self._adapted
        # Small edits are served by the current adapted model (new passages are embedded with
        # it like any other); retraining and re-embedding the whole KB waits for real drift.
        if current is not None and current.drift(versions) < READAPT_DRIFT:
            return
        saved = load_adapted(self._adapted_root, adaptation_key(base.model_id, pairs))
        if saved is None:
            log.info("adapting the embedding model to %d articles in the background", len(articles))
            root = self._adapted_root
            saved = adapt_in_subprocess(
                base.location, base.model_id, pairs, versions, root, device=base.device
            )
        if saved is None or (current is not None and saved.key == current.key):
            return
        embedder = self._load_adapted(saved)
        with self._reload_lock:
            previous = self._active
            self._active, self._adapted = embedder, saved
            stale = self._caches.pop(previous.model_id) if previous is not base else None
        make_current(self._adapted_root, saved)  # and deletes the superseded model
        if stale is not None:
            shutil.rmtree(stale.folder, ignore_errors=True)
        self._refresh(progress=False)  # re-embeds the KB with the adapted model, then swaps
        log.info("retrieving with %s, the model adapted to this knowledge base", saved.model_id)

    def wait_for_adaptation(self, timeout: float | None = None) -> bool:
        """Block until the model is adapted to the current KB (or adaptation is not needed)."""
        return self._adapt_settled.wait(timeout)

    def embedded_texts(self) -> list[str]:
        """Every distinct text the index embeds: passages, and the probe's titles and sentences."""
        snapshot = self._snapshot
        if snapshot is None or snapshot.embedder is None:
            return []
        cache = self._caches[snapshot.embedder.model_id]
        texts = [passage.embed_text for passage in snapshot.passages]
        for article_id in snapshot.article_ids:
            texts.extend(cache.probe_texts_for(snapshot.articles[article_id]))
        return list(dict.fromkeys(texts))

    def wait_for_probe(self, timeout: float | None = None) -> bool:
        """Block until the current snapshot's probe is trained (or known unneeded)."""
        return self._probe_settled.wait(timeout)

    def _diff(
        self, articles: dict[str, Article], problems: list[KBProblem], embedded: int
    ) -> ReloadReport:
        before = self._snapshot.articles if self._snapshot else {}
        return ReloadReport(
            added=sorted(set(articles) - set(before)),
            changed=sorted(
                key
                for key in set(articles) & set(before)
                if articles[key].content_hash != before[key].content_hash
            ),
            removed=sorted(set(before) - set(articles)),
            embedded_passages=embedded,
            problems=problems,
        )

    @staticmethod
    def _encode_sorted(
        embedder: Embedder, items: list[tuple[str, str]], *, progress: bool
    ) -> dict[str, np.ndarray]:
        """Embed in big batches of similar length, so padding wastes little work."""
        items.sort(key=lambda item: len(item[1]))
        out: dict[str, np.ndarray] = {}
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="embedding passages", unit="passage")
        for start in range(0, len(items), ENCODE_BATCH):
            batch = items[start : start + ENCODE_BATCH]
            vectors = embedder.encode([text for _, text in batch])
            out.update({digest: vector for (digest, _), vector in zip(batch, vectors, strict=True)})
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out

    async def watch(self, debounce_ms: int = 200) -> None:
        """Reload whenever a file under `kb_dir` changes; runs until cancelled."""
        from watchfiles import awatch

        self.kb_dir.mkdir(parents=True, exist_ok=True)
        async for changes in awatch(self.kb_dir, debounce=debounce_ms, step=50, recursive=True):
            log.info("knowledge base changed (%d files); reloading", len(changes))
            try:
                await asyncio.to_thread(self.reload)
            except Exception:
                # A failed reload keeps the previous snapshot serving; the next save retries.
                log.exception("knowledge base reload failed")

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        text: str,
        vector: np.ndarray | None = None,
        *,
        history: Sequence[str] = (),
        k: int = 3,
        vector_model: str | None = None,
    ) -> SearchResult:
        """Rank distinct articles for a customer message and decide whether to answer.

        `vector` is the message's embedding by the model named `vector_model` (default the base
        model); it is used when that is the model the served index was built with.
        """
        query = fold_follow_up(text, history)
        snapshot = self._snapshot
        if snapshot is None or not snapshot.article_ids:
            reason = (
                "the knowledge base is not loaded"
                if snapshot is None
                else "the knowledge base is empty"
            )
            return SearchResult([], 0.0, False, reason, query)
        model = snapshot.embedder or self.embedder
        stale = (vector_model or self.embedder.model_id) != model.model_id
        if vector is None or query != text or stale:
            vector = model.encode([query])[0]
        return self._search_snapshot(snapshot, query, np.asarray(vector, dtype=np.float32), k)

    def _search_snapshot(
        self, snapshot: Snapshot, query: str, vector: np.ndarray, k: int
    ) -> SearchResult:
        considered = min(self.ranking.passages_considered, snapshot.index.ntotal)
        sims, ids = snapshot.index.search(vector.reshape(1, -1), considered)
        ranked = article_scores(
            ids[0],
            sims[0],
            snapshot.passage_article,
            snapshot.passage_is_content,
            snapshot.lexical_scores(query),
            len(snapshot.article_ids),
            self.ranking,
            snapshot.probe_scores(vector),
        )
        hits = []
        for scored in ranked[:k]:
            article = snapshot.articles[snapshot.article_ids[scored.article]]
            passage = snapshot.passages[scored.passage]
            hits.append(
                Hit(
                    article_id=article.id,
                    title=article.title,
                    section=passage.section,
                    anchor=passage.anchor,
                    url=self.url(article.id, passage.anchor),
                    passage=self._answer_text(snapshot, article.id, passage),
                    score=scored.dense,
                    escalate=article.escalate,
                )
            )
        sure = confidence(ranked)
        threshold = self._threshold_for(snapshot)
        answerable = bool(hits) and sure >= threshold
        reason = (
            None if answerable else f"no passage scored above {threshold:.2f} (best {sure:.2f})"
        )
        return SearchResult(hits, sure, answerable, reason, query)

    @staticmethod
    def _answer_text(snapshot: Snapshot, article_id: str, best: Passage) -> str:
        """The passage to show. A title or question match shows the article's opening; an
        opening too short to answer anything ("You can reset it in minutes.") brings the
        section after it along, which is where the steps are."""
        sections = [
            p for p in snapshot.passages if p.article_id == article_id and p.kind == "section"
        ]
        if not sections:
            return snapshot.articles[article_id].title
        chosen = best if best.kind == "section" else sections[0]
        if chosen.section or len(chosen.text) >= SHORT_OPENING_CHARS or len(sections) < 2:
            return chosen.text
        following = sections[1]
        heading = following.section.split(" > ")[-1]
        return f"{chosen.text}\n\n**{heading}**\n\n{following.text}"
