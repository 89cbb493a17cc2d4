"""The sentiment and frustration benchmarks on tiny hand-written files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedding import FakeEmbedder
from sentiment.evaluate import evaluate_frustration, evaluate_sentiment
from sentiment.model import SentimentError


def test_sentiment_eval_reports_recall_and_writes_items(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text(
        "text,label,extra\n"
        "This is the worst service ever,negative,x\n"
        "Still waiting for my refund,negative,x\n"
        '"Thank you so much, great crew!",positive,x\n'
        "What time is the flight?,neutral,x\n",
        encoding="utf-8",
    )
    out = tmp_path / "items.jsonl"
    report = evaluate_sentiment(texts_path=texts, out_path=out)
    assert report["n"] == 4
    assert report["accuracy"] == 1.0
    assert report["macro_recall"] == 1.0
    assert report["negative_precision"] == report["negative_recall"] == 1.0
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [i["predicted"] for i in items] == ["negative", "negative", "positive", "neutral"]


def test_sentiment_eval_rejects_unknown_labels(tmp_path: Path) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\nhello,mixed\n", encoding="utf-8")
    with pytest.raises(SentimentError, match="mixed"):
        evaluate_sentiment(texts_path=texts, out_path=None)


def _dialogue(id_: str, turns: list[dict[str, object]]) -> str:
    return json.dumps({"id": id_, "turns": turns})


def test_frustration_eval_ranks_angry_turns_first(tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues.jsonl"
    lines = [
        _dialogue(
            "calm",
            [
                {"role": "customer", "text": "Hi, what are your opening hours?", "label": 0},
                {"role": "bot", "text": "We open at 9."},
                {"role": "customer", "text": "Great, thanks!", "label": 0},
            ],
        ),
        _dialogue(
            "angry",
            [
                {
                    "role": "customer",
                    "text": "Where is my parcel?",
                    "label": 0,
                    "at": "2024-05-01T09:00:00",
                },
                {
                    "role": "bot",
                    "text": "I'm sorry, I don't have that information.",
                    "at": "2024-05-01T09:00:02Z",
                },
                {
                    "role": "customer",
                    "text": "I ALREADY TOLD YOU, where is my parcel?!",
                    "label": 1,
                    "at": "2024-05-01T09:05:00+00:00",
                },
                {"role": "customer", "text": "hello??", "label": 1, "at": "2024-05-01T09:06:00"},
            ],
        ),
    ]
    dialogues.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "turns.jsonl"
    embedder = FakeEmbedder()
    report = evaluate_frustration(dialogues_path=dialogues, out_path=out, embedder=embedder)
    assert report["turns"] == 5
    assert report["positives"] == 2
    assert report["auroc"] == 1.0
    assert report["best_f1"] == 1.0
    # prototypes once, then one batch of customer turns per dialogue
    assert embedder.calls == [embedder.calls[0], 2, 3]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {r["gold"] for r in rows} == {0, 1}
    repeat = next(s for s in rows[3]["scores"]["signals"] if s["name"] == "repeated_question")
    assert repeat["value"] > 0


def test_frustration_eval_without_embedder_or_times(tmp_path: Path) -> None:
    dialogues = tmp_path / "dialogues.jsonl"
    dialogues.write_text(
        _dialogue(
            "d",
            [
                {"role": "customer", "text": "Book a table for two", "label": 0},
                {"role": "bot", "text": "Sorry, I didn't understand that."},
                {
                    "role": "customer",
                    "text": "No, I said a table for two. This is useless.",
                    "label": 1,
                },
            ],
        )
        + "\n",
        encoding="utf-8",
    )
    report = evaluate_frustration(dialogues_path=dialogues, out_path=None, embedder=None)
    assert report["auroc"] == 1.0
