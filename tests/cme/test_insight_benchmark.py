"""`supportbot bench insights` at a small size: it fills the database once, builds the rollup
and times every query (the 100,000-conversation run is a command, not a test: README)."""

from __future__ import annotations

import json

from bot import cli
from bot.cme.insights.benchmark import DRILLS, benchmark_insights
from bot.cme.insights.queries import DASHBOARD


def test_small_benchmark_fills_once_and_times_every_query(database_url):
    report = benchmark_insights(database_url, conversations=300, days=30, runs=3)
    assert report["conversations"] == 300
    assert report["messages"] > 300 * 5  # about ten messages a conversation
    assert set(report["queries"]) == set(DASHBOARD) | {f"drill:{d}" for d in DRILLS}
    for timing in report["queries"].values():
        assert 0 < timing["p50_ms"] <= timing["p95_ms"] <= timing["max_ms"]
    assert report["insert_s"] >= 0 and report["rollup_s"] >= 0

    again = benchmark_insights(database_url, conversations=300, days=30, runs=1)
    assert again["conversations"] == 300 and "insert_s" not in again  # filled once


def test_bench_command_prints_json(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    code = cli.main(
        ["bench", "insights", "--database-url", url, "--conversations", "50", "--runs", "1"]
    )
    report = json.loads(capsys.readouterr().out)
    assert report["conversations"] == 50
    assert code == (0 if report["passed"] else 1)
