"""Knowledge-base retrieval: articles, passages, a hybrid index, and the answer gate."""

from retrieval.articles import Article, KBError, KBProblem, lint_kb
from retrieval.benchmark import benchmark_indexing
from retrieval.channel_lint import channel_warnings, lint_channels
from retrieval.evaluate import evaluate_retrieval, replay_outcomes
from retrieval.examples import LabelledExample
from retrieval.index import version_key
from retrieval.knowledge_base import (
    DEFAULT_ANSWER_THRESHOLD,
    Hit,
    KnowledgeBase,
    Query,
    ReloadReport,
    SearchResult,
)
from retrieval.maintenance import KBMaintainer
from retrieval.render import render_article_html

__all__ = [
    "DEFAULT_ANSWER_THRESHOLD",
    "Article",
    "Hit",
    "KBError",
    "KBMaintainer",
    "KBProblem",
    "KnowledgeBase",
    "LabelledExample",
    "Query",
    "ReloadReport",
    "SearchResult",
    "benchmark_indexing",
    "channel_warnings",
    "evaluate_retrieval",
    "lint_channels",
    "lint_kb",
    "render_article_html",
    "replay_outcomes",
    "version_key",
]
