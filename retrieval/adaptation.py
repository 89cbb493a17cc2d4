"""Adapt the embedding model to the knowledge base it serves, from the KB's own text.

A general-purpose sentence model places "card declined" and "card expiring" close together, and
the wording of one team's articles is not the wording it was trained on. A short contrastive
fine-tune on pairs cut from the articles themselves teaches it the KB's vocabulary and which
articles must stay apart:

- every short unit of an article (question, heading, sentence) is pulled towards the article's
  title, as a customer's short question should be;
- the title is pulled towards each of the article's sections, so long passages and short
  questions meet in one space;
- the other pairs of the batch are the negatives, except pairs from the same article.

No query data is used, so the adapted model is as good for a KB in any domain as the articles are
informative. Training costs minutes on a CPU, so it runs in the background and the result is
saved under `DATA_DIR`, keyed by the base model and the exact training pairs.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.articles import Article
from retrieval.chunking import Passage
from retrieval.probe import training_texts

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

ADAPT_FORMAT = 1
# More pairs hardly help and cost time: 2,000 pairs take about six minutes on two CPU cores.
MAX_PAIRS = 2000
MAX_SEQ_TOKENS = 128
BATCH_SIZE = 32
LEARNING_RATE = 2e-5
SCALE = 20.0  # inverse temperature of the in-batch softmax
MIN_ARTICLES = 2
# Retrain once this share of articles was added, changed or removed since the last training.
READAPT_DRIFT = 0.2


@dataclass(frozen=True)
class Pair:
    anchor: str
    positive: str
    article_id: str


def training_pairs(
    articles: Sequence[Article], passages: Callable[[Article], Sequence[Passage]]
) -> list[Pair]:
    """Every (short unit, title) and (title, section) pair of the KB, in article order."""
    pairs: list[Pair] = []
    for article in articles:
        for text in training_texts(article):
            if text != article.title:
                pairs.append(Pair(text, article.title, article.id))
        for passage in passages(article):
            if passage.kind == "section":
                pairs.append(Pair(article.title, passage.embed_text, article.id))
    return pairs


def adaptation_key(base_model_id: str, pairs: Sequence[Pair]) -> str:
    """Equal keys, equal training: the base model, the recipe and every pair."""
    digest = hashlib.sha256(
        f"{ADAPT_FORMAT}\n{base_model_id}\n{MAX_PAIRS}\n{MAX_SEQ_TOKENS}\n{BATCH_SIZE}\n"
        f"{LEARNING_RATE}\n{SCALE}\n".encode()
    )
    for pair in pairs:
        digest.update(f"{pair.article_id}\t{pair.anchor}\t{pair.positive}\n".encode())
    return digest.hexdigest()


def sample_pairs(pairs: Sequence[Pair], key: str, limit: int = MAX_PAIRS) -> list[Pair]:
    """At most `limit` pairs in a shuffled order that depends only on the key."""
    chosen = list(pairs)
    random.Random(key).shuffle(chosen)
    return chosen[:limit]


def fine_tune(model: SentenceTransformer, pairs: Sequence[Pair], *, seed: int = 0) -> float:
    """One pass of in-batch contrastive training over `pairs`; returns the seconds it took.

    Each anchor must pick its own positive among the batch's positives; a positive from the same
    article as the anchor is not counted as a wrong answer.
    """
    import torch
    import torch.nn.functional as F

    started = time.perf_counter()
    torch.manual_seed(seed)
    previous_length = model.max_seq_length
    model.max_seq_length = min(previous_length, MAX_SEQ_TOKENS)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)

    def embed(texts: list[str]) -> torch.Tensor:
        # sentence-transformers 5 renamed `tokenize` to `preprocess`
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = {
            name: value.to(model.device) if isinstance(value, torch.Tensor) else value
            for name, value in prepare(texts).items()
        }
        return F.normalize(model(features)["sentence_embedding"], dim=-1)

    model.train()
    try:
        for start in range(0, len(pairs) - 1, BATCH_SIZE):
            batch = pairs[start : start + BATCH_SIZE]
            logits = SCALE * embed([p.anchor for p in batch]) @ embed([p.positive for p in batch]).T
            labels = {article: n for n, article in enumerate({p.article_id for p in batch})}
            article = torch.tensor([labels[p.article_id] for p in batch], device=model.device)
            same_article = article[:, None] == article[None, :]
            same_article.fill_diagonal_(False)
            loss = F.cross_entropy(
                logits.masked_fill(same_article, float("-inf")),
                torch.arange(len(batch), device=model.device),
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    finally:
        model.eval()
        model.max_seq_length = previous_length
    return time.perf_counter() - started


META_FILE = "supportbot-adaptation.json"
ADAPTED_EXPORT_DIR = "onnx"  # the model's ONNX export, when the server runs one
CURRENT_FILE = "current.json"


@dataclass(frozen=True)
class AdaptedModel:
    """A saved adapted model and the article versions it learnt from."""

    key: str
    path: Path
    base_model_id: str
    articles: frozenset[str]  # `id:content_hash` of every article it was trained on

    @property
    def model_id(self) -> str:
        """Vector caches are kept per model; this one's name says what it was adapted from."""
        return f"{self.base_model_id}+kb-{self.key[:16]}"

    def drift(self, articles: Sequence[str]) -> float:
        """Share of articles added, changed or removed since the model was trained; `articles`
        are `id:content_hash` keys like `self.articles`."""
        trained = dict(key.rsplit(":", 1) for key in self.articles)
        current = dict(key.rsplit(":", 1) for key in articles)
        ids = trained.keys() | current.keys()
        changed = sum(1 for article in ids if trained.get(article) != current.get(article))
        return changed / max(len(ids), 1)


def load_adapted(root: Path, key: str) -> AdaptedModel | None:
    """The complete saved model for `key` under `root`, or None."""
    path = Path(root) / key[:16]
    try:
        meta = json.loads((path / META_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    return AdaptedModel(key, path, meta["base_model"], frozenset(meta["articles"]))


def current_adapted(root: Path, base_model_id: str) -> AdaptedModel | None:
    """The model the knowledge base last switched to, if it is still on disk."""
    try:
        key = json.loads((Path(root) / CURRENT_FILE).read_text("utf-8"))["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    model = load_adapted(root, str(key))
    return model if model is not None and model.base_model_id == base_model_id else None


def make_current(root: Path, model: AdaptedModel) -> None:
    """Remember `model` for the next start and delete every other saved model."""
    root = Path(root)
    staging = root / f".{CURRENT_FILE}.tmp"
    staging.write_text(json.dumps({"key": model.key}), "utf-8")
    os.replace(staging, root / CURRENT_FILE)
    for entry in root.iterdir():
        if entry.is_dir() and entry != model.path and not entry.name.startswith("."):
            shutil.rmtree(entry, ignore_errors=True)


def adapt(
    base_location: str,
    base_model_id: str,
    pairs: Sequence[Pair],
    articles: Sequence[str],
    root: Path,
    *,
    device: str | None = None,
    backend: str = "torch",
) -> AdaptedModel | None:
    """Fine-tune a copy of the base model on `pairs` and save it under `root`.

    `articles` are the version keys of the articles the pairs come from. With an ONNX `backend`
    the saved model is exported for it too, so the server only loads it. Returns the cached
    model when these exact pairs were trained on before, None when the KB has too few articles
    to contrast.
    """
    if len({pair.article_id for pair in pairs}) < MIN_ARTICLES:
        return None
    key = adaptation_key(base_model_id, pairs)
    cached = load_adapted(root, key)
    if cached is not None:
        return cached
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(base_location, device=device or "cpu")
    chosen = sample_pairs(pairs, key)
    seconds = fine_tune(model, chosen)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    destination = root / key[:16]
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".adapting-"))
    try:
        model.save(str(staging))
        meta = {
            "key": key,
            "base_model": base_model_id,
            "articles": sorted(articles),
            "pairs": len(chosen),
            "seconds": round(seconds, 1),
        }
        (staging / META_FILE).write_text(json.dumps(meta), "utf-8")
        _export(model, staging, backend)
        shutil.rmtree(destination, ignore_errors=True)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("adapted %s to the KB on %d pairs in %.0fs", base_model_id, len(chosen), seconds)
    return load_adapted(root, key)


def _export(model: SentenceTransformer, folder: Path, backend: str) -> None:
    """Export the saved model for an ONNX backend; on failure the server exports it or runs it
    on torch when it loads it."""
    from embedding.backends import ONNX_BACKENDS, export_model, onnxruntime_module

    if backend not in ONNX_BACKENDS or onnxruntime_module() is None:
        return
    try:
        export_model(model, folder, folder / ADAPTED_EXPORT_DIR, backend)
    except Exception:
        log.exception("cannot export the adapted model for %s; it is exported at load", backend)


class AdaptationStopped(Exception):
    """The adaptation child was ended (the server is stopping) before it finished."""


class AdaptationFailed(Exception):
    """The adaptation child raised or died; the message says how."""


# Adaptation children of this process, by pid: `stop_adaptation` ends them with the server.
_children: dict[int, Any] = {}
_children_lock = threading.Lock()
PARENT_CHECK_S = 1.0  # how often a child checks that the server that started it still runs


def adapt_in_subprocess(
    *args: Any, target: Callable[..., Any] = adapt, **kwargs: Any
) -> AdaptedModel | None:
    """`adapt(*args, **kwargs)` in a child process. Training peaks at several GB (6 GB for
    2,000 pairs of long passages); in a child, that memory goes back to the system when it
    ends, and a crash in it cannot take the server down. `stop_adaptation` ends the child
    (AdaptationStopped here), and the child exits by itself if the server dies; `target`
    replaces `adapt` in tests."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no forking a process that runs threads
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main,
        args=(sender, os.getpid(), target, args, kwargs),
        name="kb-adaptation",
    )
    with _children_lock:
        child.start()
        _children[child.pid] = child
    sender.close()  # the child holds the only sending end: its exit ends recv() below
    try:
        try:
            status, value = receiver.recv()
        except EOFError:
            child.join()
            if child.exitcode is not None and child.exitcode < 0:
                raise AdaptationStopped(f"ended by signal {-child.exitcode}") from None
            raise AdaptationFailed(f"the adaptation child exited with {child.exitcode}") from None
        if status == "error":
            raise AdaptationFailed(value)
        return value
    finally:
        receiver.close()
        child.join(10)
        with _children_lock:
            _children.pop(child.pid, None)


def adaptation_children() -> list[int]:
    """Pids of the adaptation children running now."""
    with _children_lock:
        return [pid for pid, child in _children.items() if child.is_alive()]


def stop_adaptation(timeout: float = 10.0) -> None:
    """End every adaptation child (SIGTERM, then SIGKILL after `timeout`); their callers get
    AdaptationStopped."""
    with _children_lock:
        children = list(_children.values())
    for child in children:
        if child.is_alive():
            log.info("ending the KB-adaptation child %s", child.pid)
            child.terminate()
    for child in children:
        child.join(timeout)
        if child.is_alive():
            child.kill()
            child.join()


def _child_main(
    sender: Any, parent_pid: int, target: Callable[..., Any], args: Any, kwargs: Any
) -> None:
    """The child: exit when the parent is gone, run `target`, send back the outcome."""
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    try:
        sender.send(("ok", target(*args, **kwargs)))
    except BaseException as exc:  # reported to the parent, which raises AdaptationFailed
        sender.send(("error", f"{type(exc).__name__}: {exc}"))


def _exit_with_parent(parent_pid: int) -> None:
    # Orphans are re-parented: a changed parent pid means the server died (kill -9 included).
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


atexit.register(stop_adaptation)
