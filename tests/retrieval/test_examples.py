"""Learning from outcomes in retrieval: the example memory, and labelled examples moving the
ranking and the gate of a KnowledgeBase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import LabelledExample, version_key
from retrieval.evaluate import _at_coverage, outcomes_of
from retrieval.examples import STRENGTH, build_memory
from retrieval.knowledge_base import Hit, SearchResult
from tests.retrieval.kb import SHIPPING, make_kb, write_article

ARTICLES = ["a", "b", "c"]
VERSIONS = {"a": "a:1", "b": "b:1", "c": "c:1"}


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, np.float32)
    return vector / np.linalg.norm(vector)


def memory_of(*examples: LabelledExample, vectors: list[np.ndarray]):  # type: ignore[no-untyped-def]
    return build_memory(list(examples), np.stack(vectors), ARTICLES, VERSIONS)


def test_a_positive_example_raises_its_article_for_a_similar_query_only() -> None:
    memory, dropped = memory_of(LabelledExample("q", "b", 1, 1.0, "b:1"), vectors=[unit(1, 0)])
    assert dropped == 0
    assert memory.scores(unit(1, 0)).tolist() == pytest.approx([0.0, STRENGTH, 0.0])
    assert memory.scores(unit(0, 1)).tolist() == [0.0, 0.0, 0.0]  # dissimilar: no effect


def test_a_negative_example_lowers_its_article_and_no_answer_lowers_all() -> None:
    memory, _ = memory_of(
        LabelledExample("q", "a", -1, 1.0, "a:1"),
        LabelledExample("r", None, 1, 0.5),
        vectors=[unit(1, 0), unit(0, 1)],
    )
    assert memory.scores(unit(1, 0))[0] == pytest.approx(-STRENGTH)
    assert memory.scores(unit(0, 1)).tolist() == pytest.approx([-STRENGTH / 2] * 3)


def test_many_copies_of_one_thumb_weigh_what_one_does() -> None:
    one, _ = memory_of(LabelledExample("q", "a", -1, 0.5, "a:1"), vectors=[unit(1, 0)])
    flood, _ = memory_of(
        *[LabelledExample("q", "a", -1, 0.5, "a:1")] * 100, vectors=[unit(1, 0)] * 100
    )
    assert flood.scores(unit(1, 0)).tolist() == one.scores(unit(1, 0)).tolist()


def test_examples_about_a_changed_or_removed_article_are_dropped() -> None:
    memory, dropped = memory_of(
        LabelledExample("q", "a", 1, 1.0, "a:0"),  # an older version of a
        LabelledExample("r", "gone", 1, 1.0, "gone:1"),
        LabelledExample("s", "c", 1, 1.0, "c:1"),
        vectors=[unit(1, 0), unit(1, 0), unit(1, 0)],
    )
    assert dropped == 2
    assert memory.scores(unit(1, 0)).tolist() == pytest.approx([0.0, 0.0, STRENGTH])


QUERY = "where is my stuff"


def test_positive_feedback_makes_a_wrongly_ranked_query_rank_the_right_article(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    assert kb.search(QUERY).hits[0].article_id != "shipping"  # ranked wrong without feedback
    shipping = version_key(kb.article("shipping"))  # type: ignore[arg-type]
    assert kb.use_examples([LabelledExample(QUERY, "shipping", 1, 1.0, shipping)]) == {
        "used": 1,
        "dropped": 0,
    }
    assert kb.search(QUERY).hits[0].article_id == "shipping"
    assert kb.gate_report()["labelled_examples"] == {"given": 1, "used": 1, "dropped": 0}
    kb.use_examples([])  # undo
    assert kb.search(QUERY).hits[0].article_id != "shipping"


def test_a_thumbs_down_lowers_the_confidence_in_that_answer(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    before = kb.search("how long does shipping take")
    top = before.hits[0].article_id
    version = version_key(kb.article(top))  # type: ignore[arg-type]
    kb.use_examples([LabelledExample("how long does shipping take", top, -1, 1.0, version)])
    after = kb.search("how long does shipping take")
    assert after.confidence < before.confidence


def test_editing_the_article_drops_its_examples(tmp_path: Path, small_kb_dir: Path) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    shipping = version_key(kb.article("shipping"))  # type: ignore[arg-type]
    kb.use_examples([LabelledExample(QUERY, "shipping", 1, 1.0, shipping)])
    assert kb.search(QUERY).hits[0].article_id == "shipping"
    write_article(small_kb_dir, "shipping", SHIPPING + "\nTracking links arrive by e-mail.\n")
    kb.reload()
    assert kb.search(QUERY).hits[0].article_id != "shipping"
    assert kb.use_examples(kb.examples) == {"used": 0, "dropped": 1}


def result(article: str | None, confidence: float, answerable: bool) -> SearchResult:
    hits = [Hit(article, article, "", "", "", "", confidence, False)] if article is not None else []
    return SearchResult(hits, confidence, answerable, None, "q")


def test_the_replay_feeds_back_only_what_the_product_sees() -> None:
    queries = [("q1", "a"), ("q2", "a"), ("q3", "b"), ("q4", "")]
    results = [
        result("a", 0.9, True),  # answered right: thumbs up
        result("b", 0.8, True),  # answered wrong: thumbs down on b, the right article unknown
        result("a", 0.1, False),  # declined: a CME picks the right article
        result("a", 0.2, False),  # declined, no article in the KB: a CME says so
    ]
    examples = outcomes_of(queries, results, VERSIONS)
    assert [(ex.article_id, ex.polarity) for ex in examples] == [
        ("a", 1),
        ("b", -1),
        ("b", 1),
        (None, 1),
    ]
    assert examples[0].weight < examples[2].weight  # a CME's choice weighs more


def test_precision_at_equal_coverage_uses_the_threshold_of_that_coverage() -> None:
    queries = [("q1", "a"), ("q2", "a"), ("q3", "b"), ("q4", "")]
    results = [
        result("a", 0.9, True),
        result("b", 0.8, True),
        result("b", 0.3, False),
        result("a", 0.85, True),
    ]
    at_one_third = _at_coverage(queries, results, 1 / 3)
    assert at_one_third["threshold"] == 0.9
    assert at_one_third["answered_precision"] == 1.0
    at_two_thirds = _at_coverage(queries, results, 2 / 3)
    assert at_two_thirds["answered_precision"] == pytest.approx(1 / 3)  # q1 right; q2, q4 wrong
