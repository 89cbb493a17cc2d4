"""`supportbot eval indexing`: a generated KB, cold build against raw encoding, and a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.articles import load_articles
from retrieval.benchmark import synthetic_kb


def test_synthetic_kb_varies_every_article(tmp_path: Path, small_kb_dir: Path) -> None:
    assert synthetic_kb(small_kb_dir, tmp_path / "big", 7) == 7
    articles, problems = load_articles(tmp_path / "big")
    assert problems == []
    assert len(articles) == 7
    assert len({article.title for article in articles.values()}) == 7
    assert len({article.content_hash for article in articles.values()}) == 7


def test_synthetic_kb_needs_source_articles(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no articles"):
        synthetic_kb(tmp_path / "empty", tmp_path / "big", 3)


def test_eval_indexing_reports_rates_and_an_unchanged_restart(
    small_kb_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPPORTBOT_MODEL", "fake")
    assert main(["eval", "indexing", "--source", str(small_kb_dir), "--articles", "12"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["articles"] == 12
    assert result["passages"] >= 12
    assert result["texts_embedded"] > 0
    assert result["index_texts_per_s"] > 0 and result["raw_encode_per_s"] > 0
    assert result["index_vs_raw"] == pytest.approx(
        result["index_texts_per_s"] / result["raw_encode_per_s"], rel=0.01, abs=5e-4
    )  # the report rounds to 3 decimals
    assert result["restart_embedded"] == 0
    assert result["restart_probe_ready"] is True
