"""The answer gate calibrated on the KB itself: the estimate, the choice, caching and wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import calibration as calibration_module
from retrieval.calibration import UNANSWERABLE_SHARE, _choose, estimated_precision
from tests.retrieval.kb import make_maintained, write_article

TOPICS = {
    "billing/invoices": ("Invoices", "invoice pdf download billing history accountant receipt"),
    "billing/refunds": ("Refunds", "refund money back charge reversed card statement days"),
    "account/password": ("Reset your password", "password forgot reset link email sign-in"),
    "account/two-factor": ("Two-factor authentication", "authenticator code phone lost 2fa"),
    "data/export": ("Export your data", "export csv workspace zip download archive"),
    "data/import": ("Import from CSV", "import spreadsheet columns mapping upload rows"),
    "apps/mobile": ("Mobile app", "android iphone app store install crash update"),
    "apps/slack": ("Slack integration", "slack channel notifications connect workspace bot"),
}


def write_topics(kb_dir: Path) -> None:
    for article_id, (title, words) in TOPICS.items():
        vocabulary = words.split()
        sentences = [  # one domain: every sentence is about the Tallyo app
            "In the Tallyo app "
            + " ".join(vocabulary[(start + step) % len(vocabulary)] for step in range(5))
            + "."
            for start in range(len(vocabulary))
        ]
        body = "\n".join(f"{sentence}" for sentence in sentences)
        write_article(
            kb_dir,
            article_id,
            f"---\ntitle: {title}\n---\n\n{body}\n\n## More about {vocabulary[0]}\n\n"
            f"{' '.join(sentences[:3])}\n",
        )


def test_estimated_precision_mixes_the_two_sides_by_the_assumed_share() -> None:
    positive = np.array([0.9, 0.8, 0.6, 0.4])
    right = np.array([True, True, False, True])
    negative = np.array([0.7, 0.3])
    assert estimated_precision(positive, right, negative, 0.75) == pytest.approx(1.0)
    share = UNANSWERABLE_SHARE
    expected = (1 - share) * 0.5 / ((1 - share) * 0.75 + share * 0.5)
    assert estimated_precision(positive, right, negative, 0.6) == pytest.approx(expected)
    assert estimated_precision(positive, right, negative, 0.95) is None  # answers nothing


def test_the_most_lenient_threshold_that_meets_the_target_is_chosen() -> None:
    rng = np.random.default_rng(0)
    positive = rng.uniform(0.6, 1.0, 400)
    right = positive > 0.7  # below 0.7 the top article is wrong
    negative = rng.uniform(0.5, 0.85, 400)
    lenient = _choose("k", 0.8, positive, right, negative, 0.1, 0.0)
    strict = _choose("k", 0.97, positive, right, negative, 0.1, 0.0)
    assert lenient.reached_target and strict.reached_target
    assert strict.threshold > lenient.threshold
    for chosen in (lenient, strict):
        assert chosen.estimated_precision >= chosen.target_precision
        # One step more lenient misses the target.
        below = positive[positive < chosen.threshold].max(initial=0.0)
        below = max(below, negative[negative < chosen.threshold].max(initial=0.0))
        looser = estimated_precision(positive, right, negative, below)
        assert looser is None or looser < chosen.target_precision
    assert lenient.estimated_coverage > strict.estimated_coverage


def test_the_simulation_may_raise_the_gate_never_lower_it_below_the_default() -> None:
    positive = np.linspace(0.2, 0.9, 50)
    negative = np.linspace(0.0, 0.1, 50)  # perfectly separable: any threshold would do
    chosen = _choose("k", 0.9, positive, np.ones(50, bool), negative, 0.1, 0.0)
    assert chosen.threshold == calibration_module.MIN_THRESHOLD


def test_an_unreachable_target_is_reported_not_hidden() -> None:
    positive = np.linspace(0.1, 0.9, 50)
    right = np.zeros(50, bool)  # never right
    chosen = _choose("k", 0.9, positive, right, np.linspace(0.1, 0.9, 50), 0.1, 0.0)
    assert not chosen.reached_target
    assert chosen.estimated_precision == 0.0


def test_a_maintained_kb_calibrates_its_gate_caches_it_and_recalibrates_for_a_new_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_topics(tmp_path / "kb")
    maintained = make_maintained(tmp_path)
    maintained.load()
    assert maintained.wait_for_calibration(120)
    kb = maintained.kb
    gate = kb.calibration
    assert gate is not None and gate.answerable_queries > 0 and gate.unanswerable_queries > 0
    assert kb.threshold == gate.threshold
    report = kb.gate_report()
    assert report["source"] == "calibrated on this knowledge base"
    assert report["calibration"]["estimated_coverage"] == gate.estimated_coverage

    # A restart over the same index serves the cached gate without simulating again.
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("calibrated again")

    monkeypatch.setattr("retrieval.maintenance.calibrate", fail)
    restarted = make_maintained(tmp_path)
    restarted.load()
    assert restarted.kb.calibration == gate
    monkeypatch.setattr("retrieval.maintenance.calibrate", calibration_module.calibrate)

    stricter = make_maintained(tmp_path, answer_precision=0.99)
    stricter.load()
    assert stricter.wait_for_calibration(120)
    assert stricter.kb.calibration.key != gate.key
    assert stricter.kb.threshold >= gate.threshold

    fixed = make_maintained(tmp_path, answer_threshold=0.42)
    fixed.load()
    assert fixed.wait_for_calibration(120)
    assert fixed.kb.threshold == 0.42
    assert fixed.kb.gate_report()["source"].startswith("configured")


def test_an_edit_recalibrates(tmp_path: Path) -> None:
    write_topics(tmp_path / "kb")
    maintained = make_maintained(tmp_path)
    maintained.load()
    assert maintained.wait_for_calibration(120)
    before = maintained.kb.calibration
    write_article(
        tmp_path / "kb", "apps/desktop", "# Desktop app\n\nWindows mac installer desktop tray.\n"
    )
    maintained.reload()
    assert maintained.wait_for_calibration(120)
    assert maintained.kb.calibration is not None and maintained.kb.calibration.key != before.key


def test_a_kb_too_small_to_simulate_keeps_the_default_gate(tmp_path: Path, small_kb_dir) -> None:
    maintained = make_maintained(tmp_path)
    maintained.load()
    assert maintained.wait_for_calibration(60)
    assert maintained.kb.calibration is None
    assert maintained.kb.gate_report()["source"].startswith("default")


def test_evaluation_reports_the_calibrated_gate_and_off_topic_queries(tmp_path: Path) -> None:
    from embedding import FakeEmbedder
    from retrieval.evaluate import evaluate_retrieval

    write_topics(tmp_path / "kb")
    queries = tmp_path / "queries.csv"
    queries.write_text(
        "text,article\n"
        "refund money back card,billing/refunds\n"
        "forgot password reset link,account/password\n"
        "zebra giraffe savanna lion,\n",
        encoding="utf-8",
    )
    metrics = evaluate_retrieval(
        kb_dir=tmp_path / "kb", queries_path=queries, out_path=None, embedder=FakeEmbedder()
    )
    gate = metrics["answer_gate"]
    assert gate["source"] == "calibrated on this knowledge base"
    assert metrics["threshold"] == gate["threshold"] == gate["calibration"]["threshold"]
    assert gate["calibration"]["answerable_queries"] > 0
    assert metrics["off_topic_answerable"] == 0.0
    assert metrics["off_topic_unanswerable"] is not None


@pytest.mark.real_model
def test_on_the_demo_kb_the_gate_answers_in_scope_questions_and_tells_off_topic_from_gaps(
    tmp_path: Path, real_embedder
) -> None:
    from retrieval import KBMaintainer, KnowledgeBase
    from tests.utils import REPO

    kb = KnowledgeBase(REPO / "kb_docs", tmp_path / "index", real_embedder, public_url="http://x")
    maintained = KBMaintainer(kb)
    maintained.load()
    assert maintained.wait_for_probe(300) and maintained.wait_for_calibration(300)
    gate = kb.calibration
    assert gate is not None and gate.reached_target
    assert gate.estimated_precision >= 0.9 and 0 < gate.threshold < 1
    answered = {
        "hi, i forgot my password and cant get in": "account/reset-password",
        "the app keeps crashing on my android phone": "troubleshooting/app-crashes-on-launch",
        "where are my invoices": "billing/invoices-and-receipts",
    }
    for question, article in answered.items():
        result = kb.search(question)
        assert result.answerable and result.in_scope, question
        assert result.hits[0].article_id == article
    off_topic = kb.search("what's the weather in Paris?")
    assert not off_topic.answerable and not off_topic.in_scope
    gap = kb.search("do you integrate with salesforce?")  # about the product; no article
    assert not gap.answerable and gap.in_scope
