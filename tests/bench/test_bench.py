"""`supportbot bench` end to end on a small load: the report's shape and no errors (timing
targets live in the bench's output and the README, never in tests)."""

from __future__ import annotations

import json
import os

import pytest

from bot import cli

BARE_KEYS = {"single_encode_search_p50_ms", "single_encode_p50_ms", "batched_msgs_per_s"}
PHASE_KEYS = {
    "transport",
    "turns",
    "msgs_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "retrieval_share",
    "errors",
    "server_cpu_cores",
    "batch_sizes",
    "encodes_per_turn",
    "ratio_to_bare_batched",
}


@pytest.fixture
def bench_environment(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SUPPORTBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUPPORTBOT_MODEL", "fake")
    monkeypatch.setenv("SUPPORTBOT_KB_ADAPT", "false")
    monkeypatch.setenv("SUPPORTBOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_bench_reports_both_transports_and_the_bare_model_without_errors(bench_environment, capsys):
    code = cli.main(["bench", "--conversations", "3", "--messages", "12", "--idle-messages", "3"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    assert report["errors"] == 0
    assert BARE_KEYS <= set(report["bare_model"])
    assert report["idle"]["turns"] == 3
    assert [phase["transport"] for phase in report["loaded"]] == ["rest", "ws"]
    for phase in report["loaded"]:
        assert PHASE_KEYS <= set(phase), phase
        assert phase["turns"] == 12 and phase["errors"] == 0
        # Every turn embedded its text through the batcher, and the batches say so.
        assert sum(int(size) * n for size, n in phase["batch_sizes"].items()) >= 12
        assert 0 < phase["retrieval_share"] <= 1
    assert report["server_rss_mb"] > 0
    assert len(report["machine"]["load_average_before"]) == 3
    assert "turns" in captured.err  # progress on stderr


def test_bench_against_a_server_that_is_not_there_says_so(bench_environment, capsys):
    code = cli.main(["bench", "--url", "http://127.0.0.1:9", "--conversations", "1"])
    assert code == 1
    assert "not ready" in capsys.readouterr().err
