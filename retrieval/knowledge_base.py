"""The served knowledge base: snapshots of the articles, indexed, and search with a gate.

`refresh` re-reads the folder, embeds only what changed and swaps in a new snapshot; searches
read whichever snapshot is current, from any thread. Training the article probe, adapting the
model and watching the folder are background work, in `retrieval.maintenance`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from embedding import BatchingEmbedder, Embedder
from retrieval.articles import Article, KBProblem, load_articles
from retrieval.calibration import Calibration, Units, calibration_key, units_of
from retrieval.chunking import Passage
from retrieval.examples import ExampleMemory, LabelledExample, build_memory
from retrieval.index import Snapshot, VectorCache, build_snapshot, version_key
from retrieval.probe import ArticleProbe, heading_texts, probe_key
from retrieval.ranking import RankingConfig, article_scores, confidence, fold_follow_up

log = logging.getLogger(__name__)
K = TypeVar("K")

# An article opening shorter than this is shown together with the section that follows it.
SHORT_OPENING_CHARS = 300

# Confidence needed to present a passage until the KB's own calibration (retrieval.calibration)
# is ready, a few seconds to minutes after a change; SUPPORTBOT_ANSWER_THRESHOLD overrides all.
# From the clinc30 dev queries, and checked on its test queries:
# - base model: the "more likely right than wrong" point (dev: answered precision 0.91 at 0.80
#   coverage; test 0.87 at 0.80);
# - KB-adapted model: its similarities run higher, so the same trade-off sits higher (dev 0.92 at
#   0.82; test 0.89 at 0.82).
DEFAULT_ANSWER_THRESHOLD = 0.5
ADAPTED_ANSWER_THRESHOLD = 0.7
DEFAULT_ANSWER_PRECISION = 0.9
ENCODE_BATCH = 256


@dataclass(frozen=True)
class Query:
    """A customer message as retrieval searches it: the text (a follow-up folded into the
    question it follows) and its vector by the model named `model_id`."""

    text: str
    vector: np.ndarray = field(compare=False, repr=False)
    model_id: str


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
    # Anchors of the sections `passage` shows (an opening brings the section after it along).
    sections: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    """Ranked distinct articles and whether the best is good enough to present."""

    hits: list[Hit]
    confidence: float
    answerable: bool
    reason: str | None
    query: str
    # False when the query is about something this KB does not cover at all (off-topic), as
    # opposed to an in-scope question it happens not to answer.
    in_scope: bool = True

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


@dataclass(frozen=True)
class ProbeExamples:
    """What the article probe of a snapshot learns from: unit vectors and their article rows."""

    key: str
    vectors: np.ndarray | None
    labels: np.ndarray | None
    path: Path


@dataclass(frozen=True)
class CalibrationWork:
    """What calibrating a snapshot's gate needs: its key, cache path and the KB's short texts."""

    key: str
    units: Units | None  # None when the snapshot's calibration came from the cache
    path: Path


@dataclass(frozen=True)
class Refreshed:
    """The outcome of a refresh: what changed, the new snapshot and its probe's and gate's
    material."""

    report: ReloadReport
    snapshot: Snapshot
    generation: int
    probe: ProbeExamples
    calibration: CalibrationWork


class KnowledgeBase:
    """Articles under `kb_dir`, indexed with the model behind `encoder`, searchable from any
    thread. Every encode goes through `encoder` (a plain model is wrapped in a batcher)."""

    def __init__(
        self,
        kb_dir: Path,
        index_dir: Path,
        encoder: BatchingEmbedder | Embedder,
        *,
        public_url: str,
        answer_threshold: float | None = None,
        answer_precision: float = DEFAULT_ANSWER_PRECISION,
        ranking: RankingConfig | None = None,
    ) -> None:
        self.kb_dir = Path(kb_dir)
        self.index_dir = Path(index_dir)
        self.encoder = (
            encoder if isinstance(encoder, BatchingEmbedder) else BatchingEmbedder(encoder)
        )
        self.embedder: Embedder = self.encoder.embedder  # the base model
        self._active: Embedder = self.embedder  # the model new snapshots are built with
        self._caches: dict[str, VectorCache] = {}
        self.generation = 0  # counts refreshes; a probe swap keeps it
        self.public_url = public_url.rstrip("/")
        self._configured_threshold = answer_threshold
        self.answer_precision = answer_precision
        self.ranking = ranking or RankingConfig()
        self._snapshot: Snapshot | None = None
        self._reload_lock = threading.Lock()
        # Labelled outcomes (retrieval.examples): the examples, their vectors by (model, text),
        # and the memory built from them for one (model, generation, examples revision).
        self._examples: tuple[LabelledExample, ...] = ()
        self._examples_revision = 0
        self._example_vectors: dict[tuple[str, str], np.ndarray] = {}
        self._memory: tuple[tuple[str, int, int], ExampleMemory, int] | None = None
        self._memory_lock = threading.Lock()

    # -- state ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True once a first load has finished."""
        return self._snapshot is not None

    @property
    def current(self) -> Snapshot | None:
        """The snapshot searches read now."""
        return self._snapshot

    @property
    def problems(self) -> list[KBProblem]:
        """Broken articles found by the last load."""
        return list(self._snapshot.problems) if self._snapshot else []

    @property
    def threshold(self) -> float:
        """Confidence a search needs to be answerable (with the model now serving)."""
        return self._threshold_for(self._snapshot)

    @property
    def calibration(self) -> Calibration | None:
        """The served snapshot's calibrated gate, once computed."""
        return self._snapshot.calibration if self._snapshot else None

    def gate_report(self) -> dict[str, Any]:
        """How the served gate was chosen: a fixed threshold, the KB's calibration (with its
        estimates and how many pseudo-queries it used), or the default until calibrated."""
        snapshot = self._snapshot
        calibration = snapshot.calibration if snapshot else None
        if self._configured_threshold is not None:
            source = "configured threshold (SUPPORTBOT_ANSWER_THRESHOLD)"
        elif calibration is not None:
            source = "calibrated on this knowledge base"
        else:
            source = "default, until the calibration is ready"
        report: dict[str, Any] = {
            "threshold": self._threshold_for(snapshot),
            "source": source,
            "target_precision": self.answer_precision,
        }
        memory = self._memory
        report["labelled_examples"] = {
            "given": len(self._examples),
            "used": memory[1].size if memory is not None else 0,
            "dropped": memory[2] if memory is not None else 0,
        }
        if calibration is not None:
            report["calibration"] = {
                name: value
                for name, value in calibration.to_dict().items()
                if name not in ("key", "target_precision")
            }
        return report

    def _threshold_for(self, snapshot: Snapshot | None) -> float:
        if self._configured_threshold is not None:
            return self._configured_threshold
        if snapshot is not None and snapshot.calibration is not None:
            return snapshot.calibration.threshold
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

    def url(self, article_id: str, anchor: str = "") -> str:
        """Public link to an article, at a section when `anchor` is given."""
        return f"{self.public_url}/kb/{article_id}" + (f"#{anchor}" if anchor else "")

    # -- indexing ------------------------------------------------------------------------------

    def load(self) -> ReloadReport:
        """Parse the KB, embed passages not in the cache, and swap in a new index."""
        return self.refresh().report

    def reload(self) -> ReloadReport:
        """Pick up edits: only new or changed passages are embedded."""
        return self.refresh().report

    def refresh(self, *, progress: bool = False) -> Refreshed:
        """Re-read the folder, embed what no cache holds, and swap in a new snapshot (with the
        probe saved for exactly these articles, if any). `progress` shows a bar on stderr."""
        with self._reload_lock:
            started = time.perf_counter()
            embedder = self._active
            cache = self._cache_for(embedder)
            articles, problems = load_articles(self.kb_dir)
            for problem in problems:
                log.warning("knowledge base problem: %s", problem)

            passages: list[Passage] = []
            examples: list[tuple[str, str]] = []  # (article id, text hash) the probe learns from
            texts: dict[str, str] = {}
            units: list[tuple[int, str, str, bool]] = []  # (article row, text, hash, heading)
            for row, article_id in enumerate(sorted(articles)):
                headings = heading_texts(articles[article_id])
                for passage in cache.passages_for(articles[article_id], embedder):
                    passages.append(passage)
                    examples.append((article_id, passage.hash))
                    texts[passage.hash] = passage.embed_text
                for text in cache.probe_texts_for(articles[article_id]):
                    digest = hashlib.sha256(text.encode()).hexdigest()
                    examples.append((article_id, digest))
                    texts[digest] = text
                    units.append((row, text, digest, text in headings))
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
            if probe is not None and probe.article_ids == tuple(snapshot.article_ids):
                snapshot = dataclasses.replace(snapshot, probe=probe)
            gate_key = calibration_key(key, self.answer_precision, self.ranking)
            if snapshot.probe is not None:  # a calibration is only cached with its probe
                saved = Calibration.load(cache.calibration_path, gate_key)
                snapshot = dataclasses.replace(snapshot, calibration=saved)
            gate = CalibrationWork(
                gate_key,
                None  # a cached calibration needs no material (an unchanged restart)
                if snapshot.calibration is not None
                else units_of(
                    [row for row, _, _, _ in units],
                    [text for _, text, _, _ in units],
                    [cache.vectors[digest] for _, _, digest, _ in units],
                    [heading for _, _, _, heading in units],
                ),
                cache.calibration_path,
            )
            vectors = labels = None
            if snapshot.probe is None and examples:
                row = {article_id: i for i, article_id in enumerate(snapshot.article_ids)}
                vectors = np.stack([cache.vectors[digest] for _, digest in examples])
                labels = np.array([row[article_id] for article_id, _ in examples], np.int64)
            self._snapshot = snapshot
            self.generation += 1
            report.seconds = time.perf_counter() - started
            log.info(
                "knowledge base loaded: %d articles, %d passages (%d embedded) in %.2fs",
                len(articles), len(passages), report.embedded_passages, report.seconds,
            )  # fmt: skip
            return Refreshed(
                report,
                snapshot,
                self.generation,
                ProbeExamples(key, vectors, labels, cache.probe_path),
                gate,
            )

    def use_probe(self, snapshot: Snapshot, probe: ArticleProbe) -> bool:
        """Serve `snapshot` with its trained probe, unless a newer refresh replaced it."""
        with self._reload_lock:
            if self._snapshot is not snapshot:
                return False
            self._snapshot = dataclasses.replace(snapshot, probe=probe)
            return True

    def use_calibration(self, generation: int, calibration: Calibration) -> bool:
        """Serve the current snapshot with its calibrated gate, unless a refresh since then
        (a newer `generation`) replaced it."""
        with self._reload_lock:
            if self._snapshot is None or self.generation != generation:
                return False
            self._snapshot = dataclasses.replace(self._snapshot, calibration=calibration)
            return True

    def use_model(self, embedder: Embedder) -> Path | None:
        """Build the next snapshots with `embedder` (e.g. the KB-adapted model); returns the
        folder of the vector cache that no model uses any more, for the caller to delete."""
        with self._reload_lock:
            previous = self._active
            self._active = embedder
            if previous is self.embedder or previous is embedder:
                return None
            stale = self._caches.pop(previous.model_id, None)
            return stale.folder if stale is not None else None

    @property
    def active_model(self) -> Embedder:
        """The model new snapshots are built with."""
        return self._active

    def forget_caches(self) -> None:
        """Read the vector caches from disk again at the next refresh (another process sharing
        the index folder wrote them)."""
        with self._reload_lock:
            self._caches.clear()

    def _cache_for(self, embedder: Embedder) -> VectorCache:
        cache = self._caches.get(embedder.model_id)
        if cache is None:
            cache = self._caches[embedder.model_id] = VectorCache(self.index_dir, embedder)
            cache.load()
        return cache

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

    def _encode_sorted(
        self, embedder: Embedder, items: list[tuple[K, str]], *, progress: bool
    ) -> dict[K, np.ndarray]:
        """Embed (key, text) items in big batches of similar length, so padding wastes little
        work; returns the vectors by key."""
        items.sort(key=lambda item: len(item[1]))
        out: dict[K, np.ndarray] = {}
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(items), desc="embedding passages", unit="passage")
        for start in range(0, len(items), ENCODE_BATCH):
            batch = items[start : start + ENCODE_BATCH]
            vectors = self.encoder.encode([text for _, text in batch], embedder)
            out.update({key: vector for (key, _), vector in zip(batch, vectors, strict=True)})
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out

    # -- labelled outcomes (retrieval.examples) -------------------------------------------------

    def use_examples(self, examples: Sequence[LabelledExample]) -> dict[str, int]:
        """Rank with these labelled queries from now on (replacing the previous set); encodes the
        texts not encoded before. Returns how many are used and how many were dropped because
        their article is gone or has changed since."""
        with self._memory_lock:
            self._examples = tuple(examples)
            self._examples_revision += 1
        memory, dropped = self._memory_for(self._snapshot) if self._snapshot else (None, 0)
        return {"used": memory.size if memory else 0, "dropped": dropped}

    @property
    def examples(self) -> tuple[LabelledExample, ...]:
        """The labelled queries ranking learns from."""
        return self._examples

    def _memory_for(self, snapshot: Snapshot) -> tuple[ExampleMemory | None, int]:
        """The example memory for this snapshot's model and articles (built once per change)."""
        model = snapshot.embedder or self.embedder
        with self._memory_lock:
            key = (model.model_id, self.generation, self._examples_revision)
            if self._memory is not None and self._memory[0] == key:
                return self._memory[1], self._memory[2]
            examples = self._examples
            missing = sorted(
                {
                    ex.text
                    for ex in examples
                    if (model.model_id, ex.text) not in self._example_vectors
                }
            )
            if missing:
                vectors = self.encoder.encode(missing, model)
                for text, vector in zip(missing, vectors, strict=True):
                    self._example_vectors[(model.model_id, text)] = np.asarray(vector, np.float32)
            matrix = (
                np.stack([self._example_vectors[(model.model_id, ex.text)] for ex in examples])
                if examples
                else np.zeros((0, model.dim), np.float32)
            )
            # Forget the vectors of examples no longer given (an undo, an erased customer).
            texts = {ex.text for ex in examples}
            self._example_vectors = {
                key: vector for key, vector in self._example_vectors.items() if key[1] in texts
            }
            versions = {key: version_key(article) for key, article in snapshot.articles.items()}
            memory, dropped = build_memory(examples, matrix, snapshot.article_ids, versions)
            if dropped:
                log.info(
                    "%d labelled example(s) dropped: their article changed or is gone", dropped
                )
            self._memory = (key, memory, dropped)
            return memory, dropped

    # -- queries -------------------------------------------------------------------------------

    async def embed_query(
        self,
        text: str,
        *,
        history: Sequence[str] = (),
        known: Mapping[str, np.ndarray] | None = None,
    ) -> Query:
        """Embed a customer message for search, with the model serving the index, through the
        batcher. `history` holds the customer's earlier messages (a short follow-up is folded
        into the question it follows); `known` holds vectors of `text` already computed, by
        model id, so a turn that scored with the same model does not encode twice."""
        folded = fold_follow_up(text, history)
        model = self.query_embedder
        vector = (known or {}).get(model.model_id) if folded == text else None
        if vector is None:
            vector = await self.encoder.embed(folded, model)
        return Query(folded, np.asarray(vector, dtype=np.float32), model.model_id)

    def query(self, text: str, *, history: Sequence[str] = ()) -> Query:
        """`embed_query` for worker threads: encodes synchronously, through the batcher."""
        folded = fold_follow_up(text, history)
        model = self.query_embedder
        return Query(folded, self.encoder.encode([folded], model)[0], model.model_id)

    def queries(self, texts: Sequence[str]) -> list[Query]:
        """Many queries at once (evaluation), in big batches of similar length."""
        model = self.query_embedder
        vectors = self._encode_sorted(model, list(enumerate(texts)), progress=False)
        return [Query(text, vectors[row], model.model_id) for row, text in enumerate(texts)]

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        query: Query | str,
        *,
        history: Sequence[str] = (),
        k: int = 3,
        shown: Collection[tuple[str, str]] = (),
    ) -> SearchResult:
        """Rank distinct articles for a customer message and decide whether to answer.

        A plain string is embedded first (see `query`). A query embedded by another model than
        the served index's (the index switched models meanwhile) is embedded again. `shown`
        holds (article id, section anchor) passages the customer has already been given: an
        article's next best section is preferred to repeating one (a follow-up such as "and on
        mobile?" ranks the same article first, and should get the part that answers it).
        """
        if isinstance(query, str):
            query = self.query(query, history=history)
        snapshot = self._snapshot
        if snapshot is None or not snapshot.article_ids:
            reason = (
                "the knowledge base is not loaded"
                if snapshot is None
                else "the knowledge base is empty"
            )
            return SearchResult([], 0.0, False, reason, query.text)
        model = snapshot.embedder or self.embedder
        vector = query.vector
        if query.model_id != model.model_id:
            vector = self.encoder.encode([query.text], model)[0]
        return self._search_snapshot(
            snapshot, query.text, np.asarray(vector, np.float32), k, frozenset(shown)
        )

    def _search_snapshot(
        self,
        snapshot: Snapshot,
        query: str,
        vector: np.ndarray,
        k: int,
        shown: frozenset[tuple[str, str]] = frozenset(),
    ) -> SearchResult:
        considered = min(self.ranking.passages_considered, snapshot.index.ntotal)
        sims, ids = snapshot.index.search(vector.reshape(1, -1), considered)
        memory = self._memory_for(snapshot)[0] if self._examples else None
        ranked = article_scores(
            ids[0],
            sims[0],
            snapshot.passage_article,
            snapshot.passage_is_content,
            snapshot.lexical_scores(query),
            len(snapshot.article_ids),
            self.ranking,
            snapshot.probe_scores(vector),
            memory.scores(vector) if memory is not None and memory.size else None,
        )
        hits = []
        for scored in ranked[:k]:
            article = snapshot.articles[snapshot.article_ids[scored.article]]
            passage = snapshot.passages[scored.passage]
            if (article.id, passage.anchor) in shown:
                passage = self._unshown(snapshot, ids[0], scored.article, shown) or passage
            text, sections = self._answer_text(snapshot, article.id, passage)
            hits.append(
                Hit(
                    article_id=article.id,
                    title=article.title,
                    section=passage.section,
                    anchor=passage.anchor,
                    url=self.url(article.id, passage.anchor),
                    passage=text,
                    score=scored.dense,
                    escalate=article.escalate,
                    sections=sections,
                )
            )
        sure = confidence(ranked)
        threshold = self._threshold_for(snapshot)
        answerable = bool(hits) and sure >= threshold
        reason = (
            None if answerable else f"no passage scored above {threshold:.2f} (best {sure:.2f})"
        )
        gate = snapshot.calibration
        # Off-topic: further from every article than questions about topics the KB lacks get.
        in_scope = (
            answerable or gate is None or (bool(ranked) and ranked[0].dense >= gate.off_topic_below)
        )
        return SearchResult(hits, sure, answerable, reason, query, in_scope)

    @staticmethod
    def _unshown(
        snapshot: Snapshot, ranked: np.ndarray, article: int, shown: frozenset[tuple[str, str]]
    ) -> Passage | None:
        """The best retrieved section of `article` the customer has not been given yet."""
        for row in ranked.tolist():
            if row < 0 or snapshot.passage_article[row] != article:
                continue
            passage = snapshot.passages[row]
            if passage.kind == "section" and (passage.article_id, passage.anchor) not in shown:
                return passage
        return None

    @staticmethod
    def _answer_text(
        snapshot: Snapshot, article_id: str, best: Passage
    ) -> tuple[str, tuple[str, ...]]:
        """The passage to show, and the anchors of the sections it covers. A title or question
        match shows the article's opening; an opening too short to answer anything ("You can
        reset it in minutes.") brings the section after it along, which is where the steps are."""
        sections = [
            p for p in snapshot.passages if p.article_id == article_id and p.kind == "section"
        ]
        if not sections:
            return snapshot.articles[article_id].title, ()
        chosen = best if best.kind == "section" else sections[0]
        if chosen.section or len(chosen.text) >= SHORT_OPENING_CHARS or len(sections) < 2:
            return chosen.text, (chosen.anchor,)
        following = sections[1]
        heading = following.section.split(" > ")[-1]
        return (
            f"{chosen.text}\n\n**{heading}**\n\n{following.text}",
            (chosen.anchor, following.anchor),
        )
