"""The served knowledge base: load, reload incrementally, watch for edits, search with a gate."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.articles import Article, KBProblem, load_articles
from retrieval.chunking import Passage
from retrieval.embedding import Embedder
from retrieval.index import Snapshot, VectorCache, build_snapshot
from retrieval.probe import ArticleProbe, probe_key, train_probe
from retrieval.ranking import RankingConfig, article_scores, confidence, fold_follow_up

log = logging.getLogger(__name__)

# An article opening shorter than this is shown together with the section that follows it.
SHORT_OPENING_CHARS = 300

# Confidence needed to present a passage: the calibrated "more likely right than wrong" point
# (clinc30 dev queries: answered precision 0.91 at 0.80 coverage; test 0.87 at 0.80).
# SUPPORTBOT_ANSWER_THRESHOLD overrides it.
DEFAULT_ANSWER_THRESHOLD = 0.5
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
    ) -> None:
        self.kb_dir = Path(kb_dir)
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.public_url = public_url.rstrip("/")
        self._threshold = DEFAULT_ANSWER_THRESHOLD if answer_threshold is None else answer_threshold
        self.ranking = ranking or RankingConfig()
        self._snapshot: Snapshot | None = None
        self._cache: VectorCache | None = None
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
        """Confidence a search needs to be answerable."""
        return self._threshold

    def article(self, article_id: str) -> Article | None:
        """A served article by id (drafts and broken files are not served)."""
        return self._snapshot.articles.get(article_id) if self._snapshot else None

    def articles(self) -> list[Article]:
        """Every served article, by id."""
        snapshot = self._snapshot
        return [snapshot.articles[key] for key in snapshot.article_ids] if snapshot else []

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
            if self._cache is None:
                self._cache = VectorCache(self.index_dir, self.embedder)
                self._cache.load()
            cache = self._cache
            articles, problems = load_articles(self.kb_dir)
            for problem in problems:
                log.warning("knowledge base problem: %s", problem)

            passages: list[Passage] = []
            examples: list[tuple[str, str]] = []  # (article id, text hash) the probe learns from
            texts: dict[str, str] = {}
            for article_id in sorted(articles):
                for passage in cache.passages_for(articles[article_id], self.embedder):
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
                cache.add_vectors(self._encode_sorted(list(missing.items()), progress=progress))

            report = self._diff(articles, problems, len(missing))
            lexical = [cache.lexical_tokens_for(articles[key]) for key in sorted(articles)]
            cache.save(list(articles.values()), passages, list(texts))
            snapshot = build_snapshot(
                articles,
                passages,
                cache.vectors,
                self.embedder.dim,
                problems,
                lexical,
            )
            key = probe_key(self.embedder.model_id, examples)
            probe = ArticleProbe.load(cache.probe_path, key)
            self._probe_settled.clear()
            if probe is not None and probe.article_ids == tuple(snapshot.article_ids):
                snapshot = dataclasses.replace(snapshot, probe=probe)
                self._probe_settled.set()
            self._snapshot = snapshot
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

    def embedded_texts(self) -> list[str]:
        """Every distinct text the index embeds: passages, and the probe's titles and sentences."""
        snapshot, cache = self._snapshot, self._cache
        if snapshot is None or cache is None:
            return []
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

    def _encode_sorted(
        self, items: list[tuple[str, str]], *, progress: bool
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
            vectors = self.embedder.encode([text for _, text in batch])
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
    ) -> SearchResult:
        """Rank distinct articles for a customer message and decide whether to answer."""
        query = fold_follow_up(text, history)
        snapshot = self._snapshot
        if snapshot is None or not snapshot.article_ids:
            reason = (
                "the knowledge base is not loaded"
                if snapshot is None
                else "the knowledge base is empty"
            )
            return SearchResult([], 0.0, False, reason, query)
        if vector is None or query != text:
            vector = self.embedder.encode([query])[0]
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
        answerable = bool(hits) and sure >= self._threshold
        reason = (
            None
            if answerable
            else f"no passage scored above {self._threshold:.2f} (best {sure:.2f})"
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
