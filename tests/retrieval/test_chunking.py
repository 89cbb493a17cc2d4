"""Passages: heading paths, GitHub-style anchors, and the model's input limit."""

from __future__ import annotations

from pathlib import Path

from embedding import FakeEmbedder
from retrieval.articles import parse_article
from retrieval.chunking import SPECIAL_TOKENS, chunk_article, slugify
from tests.retrieval.kb import write_article

ARTICLE = """---
title: Billing help
questions: [Why was I charged?]
---

Intro paragraph.

## Invoices

Where to find invoices.

### Download a PDF

Use the **Download** button.

## Invoices

A second section with the same heading.

## Refunds & credits: what's `eligible`?

Refund text.
"""


def _chunks(tmp_path: Path, text: str, max_tokens: int = 256) -> list:
    path = write_article(tmp_path, "billing", text)
    article = parse_article(path, tmp_path).article
    assert article is not None
    embedder = FakeEmbedder(max_tokens=max_tokens)
    return chunk_article(article, embedder.count_tokens, max_tokens)


def test_passages_carry_heading_path_and_github_anchor(tmp_path: Path) -> None:
    sections = [(p.section, p.anchor) for p in _chunks(tmp_path, ARTICLE) if p.kind == "section"]
    assert sections == [
        ("", ""),
        ("Invoices", "invoices"),
        ("Invoices > Download a PDF", "download-a-pdf"),
        ("Invoices", "invoices-1"),
        ("Refunds & credits: what's eligible?", "refunds--credits-whats-eligible"),
    ]


def test_title_and_questions_become_extra_passages(tmp_path: Path) -> None:
    kinds = [(p.kind, p.text) for p in _chunks(tmp_path, ARTICLE) if p.kind != "section"]
    assert kinds == [("title", "Billing help"), ("question", "Why was I charged?")]


def test_title_heading_is_not_part_of_the_section_path(tmp_path: Path) -> None:
    passages = _chunks(tmp_path, "# Reset password\n\nDo this.\n\n## Expired link\n\nAsk again.\n")
    assert [(p.section, p.text) for p in passages if p.kind == "section"] == [
        ("", "Do this."),
        ("Expired link", "Ask again."),
    ]


def test_long_sections_are_split_within_the_token_limit(tmp_path: Path) -> None:
    paragraph = " ".join(f"word{i}" for i in range(70)) + "."
    body = "## Long\n\n" + "\n\n".join([paragraph] * 6) + "\n\n- " + "\n- ".join(["item"] * 200)
    passages = [p for p in _chunks(tmp_path, body, max_tokens=64) if p.kind == "section"]
    embedder = FakeEmbedder()
    assert len(passages) > 6
    assert all(embedder.count_tokens(p.embed_text) <= 64 - SPECIAL_TOKENS for p in passages)
    assert all(p.section == "Long" and p.anchor == "long" for p in passages)
    assert all(p.embed_text.startswith("Long\n") is False for p in passages)  # title comes first


def test_slug_matches_github_rules() -> None:
    assert slugify("Hello, World!") == "hello-world"
    assert slugify("Café au lait") == "café-au-lait"
    assert slugify("snake_case and-dash") == "snake_case-and-dash"
