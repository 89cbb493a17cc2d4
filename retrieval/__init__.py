"""Knowledge-base retrieval: articles, passages, a hybrid index, and the answer gate."""

from retrieval.articles import Article, KBError, KBProblem, lint_kb
from retrieval.embedding import Embedder, FakeEmbedder, load_embedder
from retrieval.knowledge_base import (
    DEFAULT_ANSWER_THRESHOLD,
    Hit,
    KnowledgeBase,
    ReloadReport,
    SearchResult,
)
from retrieval.render import render_article_html

__all__ = [
    "DEFAULT_ANSWER_THRESHOLD",
    "Article",
    "Embedder",
    "FakeEmbedder",
    "Hit",
    "KBError",
    "KBProblem",
    "KnowledgeBase",
    "ReloadReport",
    "SearchResult",
    "lint_kb",
    "load_embedder",
    "render_article_html",
]
