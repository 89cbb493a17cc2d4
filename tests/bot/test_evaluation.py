"""`supportbot eval escalation`: the replay itself, and our scenario suite with the real model."""

from __future__ import annotations

import json

import pytest

from bot.conversation.replay import DialogueError, evaluate_escalation, read_dialogues
from embedding import FakeEmbedder
from tests.utils import REPO, make_settings

# Each scenario suite with the knowledge base it runs against: the demo KB, and a second small
# KB in another domain (a bike shop) written for these tests.
SUITES = {
    "kb_docs": (REPO / "kb_docs", REPO / "evals" / "escalation_scenarios.jsonl", 45),
    "bikeshop": (REPO / "evals" / "kb_bikeshop", REPO / "evals" / "bikeshop_scenarios.jsonl", 14),
}


def write_dialogues(path, dialogues):
    path.write_text("".join(json.dumps(d) + "\n" for d in dialogues), encoding="utf-8")
    return path


def test_replay_scores_labels_and_writes_one_row_per_customer_turn(tmp_path):
    dialogues = write_dialogues(
        tmp_path / "d.jsonl",
        [
            {
                "id": "calm",
                "turns": [{"role": "customer", "text": "Where are my invoices?", "label": 0}],
            },
            {
                "id": "human",
                "turns": [
                    {"role": "customer", "text": "hello", "label": 0},
                    {"role": "bot", "text": "Hi! How can I help?"},
                    {"role": "customer", "text": "I want to talk to a person", "label": 1},
                    {"role": "customer", "text": "hello??", "label": 1},
                ],
            },
        ],
    )
    out = tmp_path / "out.jsonl"
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    result = evaluate_escalation(
        kb_dir=settings.kb_dir,
        dialogues_path=dialogues,
        out_path=out,
        settings=settings,
        embedder=FakeEmbedder(),
    )
    assert result == {
        "precision": 1.0,
        "recall": 1.0,
        "dialogues": 2,
        "dialogues_passed": 1.0,
        "labelled_turns": 4,
    }
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["status"] for row in rows] == ["bot", "bot", "waiting", "waiting"]
    assert rows[2]["reasons"][0] == "human_request"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not JSON"),
        ('{"id": "x"}', "'turns' list"),
        ('{"turns": [{"role": "x"}]}', "role"),
    ],
)
def test_malformed_dialogue_file_names_the_line(tmp_path, line, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "turns": []}\n' + line + "\n")
    with pytest.raises(DialogueError, match=rf"bad.jsonl:2: .*{problem}"):
        read_dialogues(path)


@pytest.mark.real_model
@pytest.mark.parametrize("suite", sorted(SUITES))
def test_scenario_suite_passes_every_dialogue_with_the_real_model(tmp_path, real_embedder, suite):
    kb_dir, dialogues, at_least = SUITES[suite]
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    result = evaluate_escalation(
        kb_dir=kb_dir,
        dialogues_path=dialogues,
        out_path=tmp_path / "out.jsonl",
        settings=settings,
        embedder=real_embedder,
    )
    assert result["dialogues"] >= at_least
    failures = [
        row
        for row in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())
        if row["label"] is not None and bool(row["label"]) != row["escalated"]
    ]
    assert result["dialogues_passed"] == 1.0, failures
