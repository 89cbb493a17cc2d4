"""Small KBs on disk for the retrieval tests."""

from __future__ import annotations

from pathlib import Path

from embedding import Embedder, FakeEmbedder
from retrieval import KBMaintainer, KnowledgeBase


def write_article(kb_dir: Path, article_id: str, text: str) -> Path:
    """Write `text` to `kb_dir/<article_id>.md`, creating folders."""
    path = kb_dir / f"{article_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_kb(tmp_path: Path, embedder: Embedder | None = None, **overrides: object) -> KnowledgeBase:
    """A KnowledgeBase over tmp_path/kb with its index in tmp_path/index."""
    options: dict[str, object] = {"public_url": "https://help.example.com"}
    options.update(overrides)
    return KnowledgeBase(
        tmp_path / "kb",
        tmp_path / "index",
        embedder or FakeEmbedder(),
        **options,  # type: ignore[arg-type]
    )


def make_maintained(
    tmp_path: Path, embedder: Embedder | None = None, *, adapt: bool = False, **overrides: object
) -> KBMaintainer:
    """`make_kb` with its background work (probe, adaptation, watcher); the KB is `.kb`."""
    return KBMaintainer(make_kb(tmp_path, embedder, **overrides), adapt=adapt)


REFUND = """---
title: Refund policy
tags: [billing, refunds]
questions:
  - Can I get my money back?
---

Refunds are issued by the billing team.

## How to request a refund

Open a ticket with your invoice number. Refunds take 5 to 10 business days to appear.
"""

PASSWORD = """# Reset your password

Click **Forgot password** on the sign-in page and follow the emailed link.

## Link expired

Reset links expire after one hour; request a new one.
"""

SHIPPING = """---
title: Shipping times
---

Orders ship within 2 business days. International delivery takes up to three weeks.
"""
