"""Loading, incremental re-indexing, search, the answer gate, follow-ups and live reload."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from embedding import FakeEmbedder
from retrieval import DEFAULT_ANSWER_THRESHOLD, KnowledgeBase
from retrieval.ranking import fold_follow_up
from tests.retrieval.kb import SHIPPING, make_kb, make_maintained, write_article


def test_load_serves_articles_and_reports_them_added(tmp_path: Path, small_kb_dir: Path) -> None:
    kb = make_kb(tmp_path)
    assert not kb.ready
    report = kb.load()
    assert kb.ready
    assert report.added == ["account/reset-password", "billing/refunds", "shipping"]
    assert report.embedded_passages > 0
    assert [article.id for article in kb.articles()] == report.added
    assert kb.article("account/reset-password").title == "Reset your password"  # type: ignore[union-attr]


def test_restart_with_unchanged_kb_embeds_nothing(tmp_path: Path, small_kb_dir: Path) -> None:
    make_kb(tmp_path).load()
    cache_file = next((tmp_path / "index").rglob("vectors.npy"))
    written = cache_file.stat().st_mtime_ns
    embedder = FakeEmbedder()
    report = make_kb(tmp_path, embedder).load()
    assert report.embedded_passages == 0
    assert embedder.calls == []
    assert cache_file.stat().st_mtime_ns == written  # nothing rewritten either


def test_changed_article_re_embeds_only_its_new_passages(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    embedder = FakeEmbedder()
    kb = make_kb(tmp_path, embedder)
    kb.load()
    embedder.calls.clear()
    write_article(
        small_kb_dir, "shipping", SHIPPING + "\n## Returns\n\nSend it back within 30 days.\n"
    )
    report = kb.reload()
    assert report.changed == ["shipping"] and report.added == [] and report.removed == []
    # The new section's passage, plus its heading and sentence for the article probe.
    assert report.embedded_passages == 3
    assert sum(embedder.calls) == 3
    # A fresh process sees the same cache: nothing more to embed.
    assert make_kb(tmp_path, FakeEmbedder()).load().embedded_passages == 0


def test_restart_reuses_cached_bm25_terms_and_an_edit_retokenizes_one_article(
    tmp_path: Path, small_kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import retrieval.index

    make_kb(tmp_path).load()
    tokenized: list[str] = []
    original = retrieval.index.lexical_tokens

    def counting(text: str) -> list[str]:
        tokenized.append(text)
        return original(text)

    monkeypatch.setattr(retrieval.index, "lexical_tokens", counting)
    restarted = make_kb(tmp_path)
    restarted.load()
    assert tokenized == []
    # The cached terms still rank: only the refunds article mentions a refund.
    assert restarted.search("refund").hits[0].article_id == "billing/refunds"
    tokenized.clear()  # the query itself

    write_article(small_kb_dir, "shipping", SHIPPING + "\nWe also ship to Iceland.\n")
    restarted.reload()
    assert len(tokenized) == 1 and "Iceland" in tokenized[0]
    assert restarted.search("Iceland").hits[0].article_id == "shipping"


def test_deleted_article_is_removed_from_index_and_cache(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    (small_kb_dir / "shipping.md").unlink()
    report = kb.reload()
    assert report.removed == ["shipping"]
    assert kb.article("shipping") is None
    assert all(hit.article_id != "shipping" for hit in kb.search("orders ship delivery", k=5).hits)
    meta = json.loads(next((tmp_path / "index").rglob("passages.json")).read_text())
    assert not any(key.startswith("shipping:") for key in meta["chunks"])


def test_broken_article_is_skipped_and_the_rest_keeps_serving(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    kb = make_kb(tmp_path)
    kb.load()
    write_article(small_kb_dir, "billing/refunds", "---\ntags: [unclosed\n---\nbody\n")
    report = kb.reload()
    assert len(report.problems) == 1
    assert str(report.problems[0]).startswith("billing/refunds.md:3: invalid YAML front matter")
    assert kb.problems == report.problems
    assert kb.article("billing/refunds") is None and kb.article("shipping") is not None


def test_search_returns_distinct_articles_with_citation(tmp_path: Path, small_kb_dir: Path) -> None:
    kb = make_kb(tmp_path, answer_threshold=0.0)
    kb.load()
    result = kb.search("how do I request a refund invoice number", k=3)
    assert len({hit.article_id for hit in result.hits}) == len(result.hits) == 3
    top = result.hits[0]
    assert top.article_id == "billing/refunds"
    assert (top.section, top.anchor) == ("How to request a refund", "how-to-request-a-refund")
    assert top.url == "https://help.example.com/kb/billing/refunds#how-to-request-a-refund"
    assert "invoice number" in top.passage
    assert result.answerable and result.reason is None
    assert json.loads(json.dumps(result.to_dict()))["hits"][0]["article_id"] == "billing/refunds"


def test_escalate_flag_is_carried_on_hits(tmp_path: Path, small_kb_dir: Path) -> None:
    write_article(
        small_kb_dir, "legal", "---\ntitle: Legal complaint\nescalate: true\n---\nLawyers.\n"
    )
    kb = make_kb(tmp_path, answer_threshold=0.0)
    kb.load()
    assert kb.search("legal complaint lawyers").hits[0].escalate is True


def test_gate_answers_at_the_threshold_and_not_just_below_it(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    probe = make_maintained(tmp_path, answer_threshold=0.0)
    probe.load()
    probe.wait_for_probe(30)
    score = probe.kb.search("postage for a parcel abroad").confidence
    assert 0.0 < score < 1.0
    at = make_maintained(tmp_path, answer_threshold=score)
    above = make_maintained(tmp_path, answer_threshold=min(score + 1e-6, 1.0))
    for maintained in (at, above):
        maintained.load()
        maintained.wait_for_probe(30)
    assert at.kb.search("postage for a parcel abroad").answerable
    gated = above.kb.search("postage for a parcel abroad")
    assert not gated.answerable and gated.hits  # hits are kept for the console, not presented
    assert gated.reason == f"no passage scored above {above.kb.threshold:.2f} (best {score:.2f})"


def test_threshold_defaults_to_the_calibrated_constant(tmp_path: Path) -> None:
    assert make_kb(tmp_path).threshold == DEFAULT_ANSWER_THRESHOLD
    assert make_kb(tmp_path, answer_threshold=0.3).threshold == 0.3


def test_search_before_load_is_not_answerable(tmp_path: Path) -> None:
    result = make_kb(tmp_path).search("anything")
    assert not result.answerable and result.hits == [] and result.reason


@pytest.mark.parametrize(
    ("text", "history", "folded"),
    [
        (
            "and how long does that take?",
            ["How do I get a refund?"],
            "How do I get a refund? and how long does that take?",
        ),
        (
            "what about international?",
            ["When will my order ship?"],
            "When will my order ship? what about international?",
        ),
        (
            "How do I reset my password?",
            ["When will my order ship?"],
            "How do I reset my password?",
        ),
        ("and how long does that take?", [], "and how long does that take?"),
        ("does it cost anything?", ["first", "  "], "first does it cost anything?"),
    ],
)
def test_short_follow_up_is_folded_into_previous_question(
    text: str, history: list[str], folded: str
) -> None:
    assert fold_follow_up(text, history) == folded


async def test_a_folded_follow_up_is_embedded_once_and_searched(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    embedder = FakeEmbedder()
    kb = make_kb(tmp_path, embedder, answer_threshold=0.0)
    kb.load()
    unrelated_vector = embedder.encode(["shipping orders"])[0]
    embedder.calls.clear()
    query = await kb.embed_query(
        "and how long does that take?",
        history=["request a refund invoice"],
        known={embedder.model_id: unrelated_vector},  # the unfolded text's: not what is searched
    )
    assert query.text == "request a refund invoice and how long does that take?"
    assert embedder.calls == [1]
    result = kb.search(query)
    assert result.query == query.text
    assert embedder.calls == [1]
    assert result.hits[0].article_id == "billing/refunds"
    kb.encoder.close()


async def test_a_message_embedded_by_the_serving_model_is_not_embedded_again(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    embedder = FakeEmbedder()
    kb = make_kb(tmp_path, embedder, answer_threshold=0.0)
    kb.load()
    vector = embedder.encode(["How do I request a refund?"])[0]
    embedder.calls.clear()
    query = await kb.embed_query("How do I request a refund?", known={embedder.model_id: vector})
    assert query.text == "How do I request a refund?" and embedder.calls == []
    assert kb.search(query).hits[0].article_id == "billing/refunds"
    assert embedder.calls == []
    kb.encoder.close()


def test_searches_keep_working_while_reloading(tmp_path: Path, small_kb_dir: Path) -> None:
    kb = make_kb(tmp_path, answer_threshold=0.0)
    kb.load()
    errors: list[BaseException] = []
    stop = threading.Event()

    def search_loop() -> None:
        try:
            while not stop.is_set():
                assert kb.search("reset password").hits
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    workers = [threading.Thread(target=search_loop) for _ in range(4)]
    for worker in workers:
        worker.start()
    for round_ in range(15):
        write_article(small_kb_dir, f"extra-{round_ % 3}", f"# Extra {round_}\n\nText {round_}.\n")
        kb.reload()
    stop.set()
    for worker in workers:
        worker.join()
    assert errors == []


async def test_watcher_serves_a_saved_edit_within_seconds(
    tmp_path: Path, small_kb_dir: Path
) -> None:
    maintained = make_maintained(tmp_path, answer_threshold=0.0)
    kb = maintained.kb
    maintained.load()
    watcher = asyncio.create_task(maintained.watch(debounce_ms=50))
    try:
        await asyncio.sleep(0.3)  # let awatch start
        write_article(small_kb_dir, "gift-cards", "# Gift cards\n\nGift cards never expire.\n")
        for _ in range(50):
            if kb.article("gift-cards") is not None:
                break
            await asyncio.sleep(0.1)
        assert kb.article("gift-cards") is not None
        assert kb.search("gift cards expire").hits[0].article_id == "gift-cards"
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher


def test_refresh_with_progress_reports_embedded_passages(
    tmp_path: Path, small_kb_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = make_kb(tmp_path).refresh(progress=True).report
    assert report.embedded_passages > 0
    assert "embedding passages" in capsys.readouterr().err


def test_real_model_ranks_the_right_article_first_and_gates_off_topic(
    tmp_path: Path, small_kb_dir: Path, real_embedder: object
) -> None:
    kb = KnowledgeBase(
        small_kb_dir, tmp_path / "index", real_embedder, public_url="https://h.example"
    )  # type: ignore[arg-type]
    kb.load()
    refund = kb.search("I want my money back for last month's charge")
    assert refund.hits[0].article_id == "billing/refunds"
    assert refund.answerable
    password = kb.search("I forgot my password and the reset link expired")
    assert password.hits[0].article_id == "account/reset-password"
    assert password.hits[0].anchor == "link-expired"
    off_topic = kb.search("what's the weather like in Paris tomorrow?")
    assert not off_topic.answerable
    assert off_topic.reason and off_topic.reason.startswith("no passage scored above")


def test_short_opening_is_shown_with_the_section_that_follows(tmp_path):
    write_article(
        tmp_path / "kb",
        "account/reset",
        "---\ntitle: How do I reset my password?\n---\n\nYou can set a new one in minutes.\n\n"
        "## Reset a forgotten password\n\n"
        "Click **Forgot password?** and follow the emailed link.\n",
    )
    write_article(tmp_path / "kb", "billing/vat", "# VAT\n\nWe charge VAT in the EU.\n")
    kb = make_kb(tmp_path, answer_threshold=0.0)
    kb.load()
    hit = kb.search("can I set a new one in minutes").hits[0]  # the opening matches best
    assert hit.article_id == "account/reset"
    assert hit.passage.startswith("You can set a new one in minutes.")
    assert "**Reset a forgotten password**" in hit.passage
    assert "Forgot password?" in hit.passage


def test_a_passage_already_shown_gives_way_to_the_articles_next_section(tmp_path):
    write_article(
        tmp_path / "kb",
        "reset",
        "# Reset your password\n\n## On the web\n\nClick Forgot password on the web sign-in page."
        "\n\n## On mobile\n\nTap Forgot password on the mobile app's sign-in screen.\n",
    )
    write_article(tmp_path / "kb", "shipping", SHIPPING)
    kb = make_kb(tmp_path)
    kb.load()
    query = "forgot password web sign-in page"
    first = kb.search(query).hits[0]
    assert (first.article_id, first.anchor) == ("reset", "on-the-web")
    again = kb.search(query, shown={("reset", "on-the-web")}).hits[0]
    assert (again.article_id, again.anchor) == ("reset", "on-mobile")
    assert "mobile app" in again.passage
    # Nothing left unshown: the best passage is given again rather than nothing.
    both = {("reset", "on-the-web"), ("reset", "on-mobile")}
    assert kb.search(query, shown=both).hits[0].anchor == "on-the-web"
