"""Retrieval fixtures; the real model (`real_embedder`) lives in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.retrieval.kb import PASSWORD, REFUND, SHIPPING, write_article


@pytest.fixture
def small_kb_dir(tmp_path: Path) -> Path:
    kb_dir = tmp_path / "kb"
    write_article(kb_dir, "billing/refunds", REFUND)
    write_article(kb_dir, "account/reset-password", PASSWORD)
    write_article(kb_dir, "shipping", SHIPPING)
    return kb_dir
