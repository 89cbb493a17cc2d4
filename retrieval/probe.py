"""A linear probe trained on the knowledge base's own text: which article does a sentence belong to?

Cosine similarity alone blurs articles about neighbouring topics ("credit limit" and "credit limit
increase"). Every unit of the KB (title, questions, headings, each sentence, each passage) is an
example labelled with its article; a multinomial logistic regression over their vectors learns the
directions that tell such articles apart. It sees no query data, so it transfers to any KB.

Training takes seconds for tens of articles and about a minute for a thousand, so it runs off the
serving path and the fitted weights are cached on disk, keyed by the model and the exact training
texts: an unchanged restart loads them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.articles import Article
from retrieval.chunking import _sections

log = logging.getLogger(__name__)

PROBE_FORMAT = 1
# Inverse L2 strength; 1 and 100 do about as well on the dev sets.
REGULARISATION_C = 10.0
MIN_SENTENCE_WORDS = 3

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKUP = re.compile(r"[*_`#>|]+")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", _LINK.sub(r"\1", text))).strip()


def training_texts(article: Article) -> list[str]:
    """Short units of an article, besides its passages: title, questions, headings, sentences."""
    texts = [article.title, *article.questions]
    for section in _sections(article):
        texts.extend(section.path)
        for sentence in _SENTENCE_BREAK.split(section.text):
            plain = _plain(sentence)
            if len(plain.split()) >= MIN_SENTENCE_WORDS:
                texts.append(plain)
    return list(dict.fromkeys(text for text in texts if text))


def heading_texts(article: Article) -> set[str]:
    """What an article says it is about: its title, questions and headings (a subset of
    `training_texts`)."""
    texts = {article.title, *article.questions}
    for section in _sections(article):
        texts.update(section.path)
    return {text for text in texts if text}


def probe_key(model_id: str, examples: Sequence[tuple[str, str]]) -> str:
    """Hash of the model and every (article id, text hash) example: equal keys, equal weights."""
    digest = hashlib.sha256(f"{PROBE_FORMAT}\n{model_id}\n".encode())
    for article_id, text_hash in sorted(examples):
        digest.update(f"{article_id}\t{text_hash}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class ArticleProbe:
    """Softmax over articles: `probabilities(v)[i]` is P(article_ids[i] | v)."""

    key: str
    article_ids: tuple[str, ...]
    weights: np.ndarray  # (dim, n_articles)
    bias: np.ndarray  # (n_articles,)

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        """Probability of each article for one query vector."""
        logits = vector.astype(np.float32) @ self.weights + self.bias
        logits -= logits.max()
        odds = np.exp(logits)
        return odds / odds.sum()

    def save(self, path: Path) -> None:
        """Write the weights as one .npz file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique temporary name: two processes over one index folder may save at once.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    key=np.array(self.key),
                    article_ids=np.array(self.article_ids),
                    weights=self.weights,
                    bias=self.bias,
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, key: str) -> ArticleProbe | None:
        """The cached probe if it was trained on exactly these examples, else None."""
        try:
            with np.load(path) as stored:
                if str(stored["key"]) != key:
                    return None
                return cls(
                    key,
                    tuple(str(item) for item in stored["article_ids"]),
                    stored["weights"].astype(np.float32),
                    stored["bias"].astype(np.float32),
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable probe cache %s: %s", path, exc)
            return None


def train_probe(
    key: str, article_ids: Sequence[str], vectors: np.ndarray, labels: np.ndarray
) -> ArticleProbe | None:
    """Fit the probe (L2, classes balanced); None when there are fewer than two articles."""
    if len(article_ids) < 2:
        return None
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=REGULARISATION_C, class_weight="balanced", max_iter=300)
    model.fit(vectors.astype(np.float32), labels)
    weights = np.zeros((vectors.shape[1], len(article_ids)), np.float32)
    bias = np.full(len(article_ids), -1e4, np.float32)  # an article with no example never wins
    if len(model.classes_) == 2:  # sklearn fits one logit for two classes: softmax of (0, z)
        weights[:, model.classes_[1]] = model.coef_[0]
        bias[model.classes_] = (0.0, model.intercept_[0])
    else:
        weights[:, model.classes_] = model.coef_.T
        bias[model.classes_] = model.intercept_
    return ArticleProbe(key, tuple(article_ids), weights, bias)
