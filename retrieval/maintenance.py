"""Background work that keeps a knowledge base current: the article probe, the model adapted to
the KB, and the folder watcher. `KnowledgeBase` stays snapshots and search; this class decides
when to refresh it and what to train after each refresh.

    load / reload / watch -> KnowledgeBase.refresh -> new snapshot
        -> probe: trained on a thread from the snapshot's vectors, swapped in with `use_probe`
        -> gate: then calibrated on the KB's own texts (retrieval.calibration), swapped in with
           `use_calibration`
        -> adaptation: a child process fine-tunes a copy of the model (retrieval.adaptation);
           `use_model` and one more refresh re-embed the KB with it, then it serves
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from pathlib import Path

from embedding import Embedder, SentenceTransformerEmbedder
from retrieval.adaptation import (
    ADAPTED_EXPORT_DIR,
    READAPT_DRIFT,
    AdaptationStopped,
    AdaptedModel,
    adapt_in_subprocess,
    adaptation_key,
    current_adapted,
    load_adapted,
    make_current,
    stop_adaptation,
    training_pairs,
)
from retrieval.articles import parse_article
from retrieval.calibration import calibrate
from retrieval.chunking import Passage
from retrieval.index import Snapshot, version_key
from retrieval.knowledge_base import (
    CalibrationWork,
    KnowledgeBase,
    ProbeExamples,
    Refreshed,
    ReloadReport,
)
from retrieval.probe import train_probe

log = logging.getLogger(__name__)


class KBMaintainer:
    """Refreshes `kb` and trains what its snapshots need, off the serving path.

    `adapt` fine-tunes a copy of the model on the KB in the background and retrieves with it
    (only for a real sentence-transformers model). With `train=False` this process trains
    nothing: another process sharing the index folder (the worker) trains and saves, and
    `follow` loads what it saved.
    """

    def __init__(self, kb: KnowledgeBase, *, adapt: bool = False, train: bool = True) -> None:
        self.kb = kb
        self.adapt = adapt and isinstance(kb.embedder, SentenceTransformerEmbedder)
        self.train = train
        self._adapted: AdaptedModel | None = None
        self._resumed = False
        self._refresh_lock = threading.Lock()
        self._probe_lock = threading.Lock()  # one training at a time
        self._probe_settled = threading.Event()  # the current snapshot has its probe (or none)
        self._gate_lock = threading.Lock()
        self._gate_settled = threading.Event()  # ... and its calibrated gate (or none)
        self._adapt_lock = threading.Lock()
        self._adapt_settled = threading.Event()
        self._adapt_settled.set()

    @property
    def adapted_model(self) -> AdaptedModel | None:
        """The KB-adapted model retrieval uses, once there is one."""
        return self._adapted

    @property
    def _adapted_root(self) -> Path:
        return self.kb.index_dir / "adapted"

    def stop(self) -> None:
        """End background work that outlives threads: the adaptation child, if one runs."""
        if self.adapt:
            stop_adaptation()

    # -- refreshing ----------------------------------------------------------------------------

    def load(self, *, progress: bool = False) -> ReloadReport:
        """First load: resume the model adapted at an earlier run (so a restart embeds nothing),
        then refresh and start training."""
        return self.refresh(progress=progress) if self.train else self.follow()

    def reload(self) -> ReloadReport:
        """Pick up edits (only new or changed passages are embedded), then retrain as needed."""
        return self.refresh() if self.train else self.follow()

    def follow(self) -> ReloadReport:
        """Load what another process saved in the shared index folder for the KB as it is now:
        its adapted model, vectors, probe and gate. Embeds only what that process has not yet
        saved; trains nothing."""
        with self._refresh_lock:
            self._resumed = True
            if self.adapt:
                self._adopt_adapted()
            self.kb.forget_caches()
        return self.refresh()

    def refresh(self, *, progress: bool = False) -> ReloadReport:
        """Refresh the KB and start the probe and adaptation work its new snapshot needs."""
        with self._refresh_lock:
            if self.adapt and not self._resumed:
                self._resumed = True
                self._resume_adaptation()
            self._probe_settled.clear()
            self._gate_settled.clear()
            refreshed = self.kb.refresh(progress=progress)
            self._after_refresh(refreshed)
            return refreshed.report

    def _after_refresh(self, refreshed: Refreshed) -> None:
        if not self.train:  # the snapshot serves with what was saved; nothing to wait for
            self._probe_settled.set()
            self._gate_settled.set()
            return
        if refreshed.snapshot.probe is not None:
            self._probe_settled.set()
        else:
            threading.Thread(
                target=self._train_probe,
                args=(refreshed.snapshot, refreshed.probe),
                name="kb-probe",
                daemon=True,
            ).start()
        if refreshed.snapshot.calibration is not None:
            self._gate_settled.set()
        else:
            threading.Thread(
                target=self._calibrate,
                args=(refreshed.snapshot, refreshed.generation, refreshed.calibration),
                name="kb-gate",
                daemon=True,
            ).start()
        if self.adapt:
            self._adapt_settled.clear()
            threading.Thread(
                target=self._adapt_to,
                args=(refreshed.snapshot, refreshed.generation),
                name="kb-adapt",
                daemon=True,
            ).start()

    async def watch(self, debounce_ms: int = 200) -> None:
        """Reload whenever a file under the KB folder changes; runs until cancelled."""
        from watchfiles import awatch

        self.kb.kb_dir.mkdir(parents=True, exist_ok=True)
        async for changes in awatch(self.kb.kb_dir, debounce=debounce_ms, step=50, recursive=True):
            if not any(self.affects_served(Path(path)) for _, path in changes):
                # Drafts being written or edited: nothing served changes, so no reload, no
                # recalibration and no retraining.
                continue
            log.info("knowledge base changed (%d files); reloading", len(changes))
            try:
                await asyncio.to_thread(self.reload)
            except Exception:
                # A failed reload keeps the previous snapshot serving; the next save retries.
                log.exception("knowledge base reload failed")

    def affects_served(self, path: Path) -> bool:
        """Whether a change to `path` can change what is served: anything but an article that
        is a draft now and was not served before (a draft never is)."""
        try:
            relative = path.resolve().relative_to(self.kb.kb_dir.resolve())
        except ValueError:
            return True
        if relative.suffix != ".md" or any(part.startswith(".") for part in relative.parts):
            return not relative.name.endswith(".md.tmp")  # a draft's write in progress
        if self.kb.article(relative.with_suffix("").as_posix()) is not None:
            return True  # served now: any change (even to a draft) matters
        if not path.is_file():
            return False  # an unserved file was removed
        parsed = parse_article(path, self.kb.kb_dir)
        return parsed.article is None or not parsed.article.draft

    # -- the article probe (see retrieval.probe) -----------------------------------------------

    def wait_for_probe(self, timeout: float | None = None) -> bool:
        """Block until the current snapshot's probe is trained (or known unneeded)."""
        return self._probe_settled.wait(timeout)

    def _train_probe(self, snapshot: Snapshot, examples: ProbeExamples) -> None:
        """Fit the probe off the serving path and swap it in if the KB has not changed since."""
        with self._probe_lock:
            if self.kb.current is not snapshot:
                return  # a newer reload started its own training
            probe = None
            if examples.vectors is not None and examples.labels is not None:
                started = time.perf_counter()
                try:
                    probe = train_probe(
                        examples.key, snapshot.article_ids, examples.vectors, examples.labels
                    )
                except Exception:
                    log.exception("training the article probe failed; ranking without it")
                if probe is not None:
                    probe.save(examples.path)
                    log.info(
                        "article probe trained on %d examples in %.1fs",
                        len(examples.labels), time.perf_counter() - started,
                    )  # fmt: skip
            # Under the refresh lock no refresh is half done: the snapshot is either still
            # current, or a newer one has cleared `_probe_settled` and started its own training.
            with self._refresh_lock:
                current = (
                    self.kb.use_probe(snapshot, probe)
                    if probe is not None
                    else self.kb.current is snapshot
                )
                if current:
                    self._probe_settled.set()

    # -- the answer gate (see retrieval.calibration) -------------------------------------------

    def wait_for_calibration(self, timeout: float | None = None) -> bool:
        """Block until the current snapshot's gate is calibrated (or known impossible)."""
        return self._gate_settled.wait(timeout)

    def _calibrate(self, snapshot: Snapshot, generation: int, work: CalibrationWork) -> None:
        """Choose the gate for this snapshot off the serving path (after its probe, which is
        quicker and matters more) and swap it in if the KB has not changed since."""
        self._probe_settled.wait()
        with self._gate_lock:
            if self.kb.generation != generation:
                return  # a newer reload calibrates its own
            calibration = None
            try:
                if work.units is not None:  # else the snapshot came with its cached gate
                    calibration = calibrate(
                        snapshot,
                        work.units,
                        key=work.key,
                        target_precision=self.kb.answer_precision,
                        ranking=self.kb.ranking,
                    )
            except Exception:
                log.exception("calibrating the answer gate failed; keeping the default threshold")
            if calibration is not None:
                calibration.save(work.path)
                log.info(
                    "answer gate calibrated in %.1fs on %d + %d pseudo-queries: threshold %.3f, "
                    "estimated precision %s at coverage %.2f (target %.2f)",
                    calibration.seconds, calibration.answerable_queries,
                    calibration.unanswerable_queries, calibration.threshold,
                    f"{calibration.estimated_precision:.3f}"
                    if calibration.estimated_precision is not None else "n/a",
                    calibration.estimated_coverage, calibration.target_precision,
                )  # fmt: skip
            with self._refresh_lock:
                current = (
                    self.kb.use_calibration(generation, calibration)
                    if calibration is not None
                    else self.kb.generation == generation
                )
                if current:
                    self._gate_settled.set()

    # -- adaptation (see retrieval.adaptation) -------------------------------------------------

    def wait_for_adaptation(self, timeout: float | None = None) -> bool:
        """Block until the model is adapted to the current KB (or adaptation is not needed)."""
        return self._adapt_settled.wait(timeout)

    def _resume_adaptation(self) -> None:
        """Retrieve with the model adapted at an earlier run, so a restart embeds nothing."""
        saved = current_adapted(self._adapted_root, self._base.weights_id)
        if saved is None:
            return
        try:
            self.kb.use_model(self._load_adapted(saved))
            self._adapted = saved
        except Exception:
            log.exception("cannot load the adapted model in %s; using the base model", saved.path)

    def _adopt_adapted(self) -> None:
        """Retrieve with the adapted model another process made current, if it changed."""
        saved = current_adapted(self._adapted_root, self._base.weights_id)
        if saved is None or (self._adapted is not None and saved.key == self._adapted.key):
            return
        try:
            self.kb.use_model(self._load_adapted(saved))
            self._adapted = saved
            log.info("retrieving with %s, adapted by another process", saved.model_id)
        except Exception:
            log.exception("cannot load the adapted model in %s; keeping the model", saved.path)

    @property
    def _base(self) -> SentenceTransformerEmbedder:
        base = self.kb.embedder
        assert isinstance(base, SentenceTransformerEmbedder)
        return base

    def _load_adapted(self, saved: AdaptedModel) -> Embedder:
        """The adapted model on the base model's backend; its ONNX export (made by the
        adaptation child, or here when the backend changed since) lives in its own folder."""
        base = self._base
        return SentenceTransformerEmbedder(
            str(saved.path),
            device=base.device,
            batch_size=base.batch_size,
            model_id=saved.model_id,
            backend=base.backend,
            export_dir=saved.path / ADAPTED_EXPORT_DIR,
        )

    def _adapt_to(self, snapshot: Snapshot, generation: int) -> None:
        """Adapt the model to this snapshot's articles and switch retrieval to it (background)."""
        self._probe_settled.wait()  # the probe is quick; let it have the CPU first
        with self._adapt_lock:
            try:
                if self.kb.generation == generation:  # else a newer reload adapts its own
                    self._adapt_snapshot(snapshot)
            except AdaptationStopped:
                log.info("adapting the model to the KB was stopped; it resumes at the next start")
            except Exception:
                log.exception("adapting the model to the KB failed; retrieval keeps its model")
            finally:
                if self.kb.generation == generation:
                    self._adapt_settled.set()

    def _adapt_snapshot(self, snapshot: Snapshot) -> None:
        base = self._base
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
        saved = load_adapted(self._adapted_root, adaptation_key(base.weights_id, pairs))
        if saved is None:
            log.info("adapting the embedding model to %d articles in the background", len(articles))
            saved = adapt_in_subprocess(
                base.location,
                base.weights_id,
                pairs,
                versions,
                self._adapted_root,
                device=base.device,
                backend=base.backend,
            )
        if saved is None or (current is not None and saved.key == current.key):
            return
        stale = self.kb.use_model(self._load_adapted(saved))
        self._adapted = saved
        make_current(self._adapted_root, saved)  # and deletes the superseded model
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
        self.refresh()  # re-embeds the KB with the adapted model, then swaps
        log.info("retrieving with %s, the model adapted to this knowledge base", saved.model_id)
