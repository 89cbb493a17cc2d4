"""Pure ranking: lexical tokens, follow-up folding, passage-to-article fusion and confidence.

Nothing here does I/O; `KnowledgeBase.search` feeds it arrays from an index snapshot.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Small English stop list: function words that carry no topic for BM25.
STOPWORDS = frozenset(
    """a about above after again all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has
    have having he her here hers him his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you
    your yours yourself please hi hello hey thanks thank want need know tell get got im ive id
    dont""".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _stem(word: str) -> str:
    """A light suffix stripper (plurals, -ing, -ed) so "refunds" meets "refund"."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + replacement
    return word


def lexical_tokens(text: str) -> list[str]:
    """BM25 terms: lower-cased words, stop words dropped, lightly stemmed."""
    words = (word.lower() for word in _WORD.findall(text.replace("'", "")))
    return [_stem(word) for word in words if word not in STOPWORDS]


# A short message that starts like a continuation or leans on something said before.
_CONTINUATION_STARTS = (
    "and ",
    "or ",
    "but ",
    "also ",
    "what about ",
    "how about ",
    "plus ",
    "then ",
    "so ",
)
_REFERRING_WORDS = frozenset("it its that this those these they them there one ones same".split())
FOLLOW_UP_MAX_WORDS = 8


def fold_follow_up(text: str, history: Sequence[str]) -> str:
    """Prefix a short follow-up ("and how long does that take?") with the previous question."""
    previous = next((message.strip() for message in reversed(history) if message.strip()), "")
    if not previous:
        return text
    words = [word.lower() for word in _WORD.findall(text)]
    if not words or len(words) > FOLLOW_UP_MAX_WORDS:
        return text
    lowered = " ".join(words) + " "
    continues = lowered.startswith(_CONTINUATION_STARTS)
    refers = any(word in _REFERRING_WORDS for word in words)
    if not (continues or refers):
        return text
    return f"{previous} {text.strip()}"


@dataclass(frozen=True)
class RankingConfig:
    """The few knobs of article ranking (defaults are what the dev sets favoured)."""

    lexical_weight: float = 0.1  # weight of BM25 (scaled to the best article = 1) next to cosine
    probe_weight: float = 0.1  # weight of the KB-trained probe's article probability
    passages_considered: int = 512  # nearest passages the article scores are built from


@dataclass(frozen=True)
class ArticleScore:
    article: int  # index into the snapshot's article list
    score: float  # fused ranking score
    dense: float  # mean of the best heading-like and the best section cosine similarity
    passage: int  # index of its best section passage (or best passage when none was retrieved)


def article_scores(
    passage_ids: np.ndarray,
    passage_sims: np.ndarray,
    passage_article: np.ndarray,
    passage_is_content: np.ndarray,
    lexical: np.ndarray,
    n_articles: int,
    config: RankingConfig,
    probe: np.ndarray | None = None,
    outcomes: np.ndarray | None = None,
) -> list[ArticleScore]:
    """Score articles from their passages and rank them.

    An article's dense score is the mean of two views, each the max over its passages: how well
    the query matches what the article is *about* (title and questions) and how well it matches
    what the article *says* (its best section). BM25 over the whole article is added with a small
    weight, for the exact terms (product names, error codes) a small model blurs, and so is the
    probability from the probe trained on the KB's own sentences (`retrieval.probe`), which tells
    apart articles on neighbouring topics. `outcomes` is the shift learnt from labelled queries
    like this one (`retrieval.examples`), added as it is.
    """
    head = np.full(n_articles, np.nan, dtype=np.float64)
    body = np.full(n_articles, np.nan, dtype=np.float64)
    best_content = np.full(n_articles, -1, dtype=np.int64)
    best_any = np.full(n_articles, -1, dtype=np.int64)
    valid = passage_ids >= 0
    for passage, sim in zip(passage_ids[valid].tolist(), passage_sims[valid].tolist(), strict=True):
        article = passage_article[passage]
        if best_any[article] < 0:  # results arrive best first
            best_any[article] = passage
        if passage_is_content[passage]:
            if best_content[article] < 0:
                best_content[article] = passage
                body[article] = sim
        elif np.isnan(head[article]):
            head[article] = sim
    seen = best_any >= 0
    if not seen.any():
        return []
    floor = float(np.nanmin(np.concatenate([head[seen], body[seen]])))
    # A view not retrieved for a seen article scores as the weakest retrieved passage.
    head = np.where(np.isnan(head), floor, head)
    body = np.where(np.isnan(body), floor, body)
    dense = np.where(seen, (head + body) / 2, floor)
    peak = float(lexical.max()) if lexical.size else 0.0
    lexical_part = lexical / peak if peak > 0 else np.zeros(n_articles)
    fused = dense + config.lexical_weight * lexical_part
    if probe is not None:
        fused = fused + config.probe_weight * probe
    if outcomes is not None:
        fused = fused + outcomes
    order = np.argsort(-fused, kind="stable")
    return [
        ArticleScore(
            article=int(article),
            score=float(fused[article]),
            dense=float(dense[article]),
            passage=int(best_content[article] if best_content[article] >= 0 else best_any[article]),
        )
        for article in order
        if seen[article]
    ]


# Confidence = logistic(SLOPE * (fused score of the top article - CENTER) + MARGIN_WEIGHT * its
# lead over the second): a logistic regression of "the top article is the right one" on the clinc30
# dev queries (19.3, 2.3, intercept -11.5), rounded, with CENTER moved from 0.596 to 0.59 so that
# the default threshold 0.5 answers 80% of the answerable dev queries (precision 0.91). Until the
# probe is trained the fused score lacks its term, so the gate is briefly stricter, never looser.
CONFIDENCE_CENTER = 0.59
CONFIDENCE_SLOPE = 20.0
CONFIDENCE_MARGIN_WEIGHT = 2.0


def confidence(ranked: Sequence[ArticleScore]) -> float:
    """How sure the top article answers the query, in [0, 1]."""
    if not ranked:
        return 0.0
    top = ranked[0].score
    second = ranked[1].score if len(ranked) > 1 else top - 0.2
    margin = max(top - second, 0.0)
    z = CONFIDENCE_SLOPE * (top - CONFIDENCE_CENTER) + CONFIDENCE_MARGIN_WEIGHT * margin
    return 1.0 / (1.0 + math.exp(-z))
