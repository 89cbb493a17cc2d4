"""The article probe: training texts, the fitted classifier, and its on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.articles import parse_article
from retrieval.probe import ArticleProbe, probe_key, train_probe, training_texts
from tests.retrieval.kb import make_maintained, write_article


def test_training_texts_are_title_questions_headings_and_plain_sentences(tmp_path: Path) -> None:
    path = write_article(
        tmp_path,
        "refunds",
        "---\ntitle: Refunds\nquestions: [Can I get my money back?]\n---\n\n"
        "Refunds are **quick**. See [the form](https://x.example).\n\n## How long\n\n"
        "It takes five days.\nOk.\n",
    )
    article = parse_article(path, tmp_path).article
    assert article is not None
    assert training_texts(article) == [
        "Refunds",
        "Can I get my money back?",
        "Refunds are quick .",
        "See the form.",
        "How long",
        "It takes five days.",
    ]


def test_probe_learns_which_article_a_vector_belongs_to(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    labels = np.repeat(np.arange(3), 10)
    vectors = centres[labels] + 0.3 * rng.normal(size=(30, 16))
    probe = train_probe("k", ["a", "b", "c"], vectors, labels)
    assert probe is not None
    probabilities = probe.probabilities(centres[1])
    assert probabilities.argmax() == 1 and abs(probabilities.sum() - 1) < 1e-5
    probe.save(tmp_path / "probe.npz")
    loaded = ArticleProbe.load(tmp_path / "probe.npz", "k")
    assert loaded is not None and loaded.article_ids == ("a", "b", "c")
    assert np.allclose(loaded.probabilities(centres[1]), probabilities)
    assert ArticleProbe.load(tmp_path / "probe.npz", "other key") is None


def test_probe_with_two_articles_gives_two_probabilities() -> None:
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    probe = train_probe("k", ["a", "b"], vectors, np.array([0, 0, 1, 1]))
    assert probe is not None
    assert probe.probabilities(np.array([0.0, 1.0])).argmax() == 1
    assert train_probe("k", ["a"], vectors, np.zeros(4, np.int64)) is None


def test_probe_key_changes_with_model_and_text_not_order() -> None:
    examples = [("a", "h1"), ("b", "h2")]
    assert probe_key("m", examples) == probe_key("m", list(reversed(examples)))
    assert probe_key("m", examples) != probe_key("other", examples)
    assert probe_key("m", examples) != probe_key("m", [("a", "h1"), ("b", "h3")])


def test_restart_of_unchanged_kb_loads_the_cached_probe(tmp_path: Path, small_kb_dir: Path) -> None:
    first = make_maintained(tmp_path)
    first.load()
    assert first.wait_for_probe(30)
    assert first.kb.current is not None and first.kb.current.probe is not None
    cached = next((tmp_path / "index").rglob("probe.npz"))
    written = cached.stat().st_mtime_ns
    restarted = make_maintained(tmp_path)
    restarted.load()
    # Ready with the probe as soon as load returns: nothing was trained again.
    assert restarted.wait_for_probe(0)
    assert restarted.kb.current is not None and restarted.kb.current.probe is not None
    assert cached.stat().st_mtime_ns == written


def test_edit_retrains_the_probe_for_the_new_articles(tmp_path: Path, small_kb_dir: Path) -> None:
    maintained = make_maintained(tmp_path, answer_threshold=0.0)
    kb = maintained.kb
    maintained.load()
    assert maintained.wait_for_probe(30)
    write_article(small_kb_dir, "gift-cards", "# Gift cards\n\nGift cards never expire.\n")
    maintained.reload()
    assert maintained.wait_for_probe(30)
    snapshot = kb.current
    assert snapshot is not None and snapshot.probe is not None
    assert "gift-cards" in snapshot.probe.article_ids
    assert kb.search("gift cards expire").hits[0].article_id == "gift-cards"
