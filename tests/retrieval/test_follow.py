"""A maintainer with `train=False` follows another process's build in the shared index folder:
it embeds and trains nothing the other process already saved, and picks up its rebuilds."""

from __future__ import annotations

from pathlib import Path

from embedding import FakeEmbedder
from retrieval import KBMaintainer, KnowledgeBase
from tests.retrieval.kb import PASSWORD, REFUND, SHIPPING, write_article


def maintainer(tmp_path: Path, *, train: bool) -> KBMaintainer:
    kb = KnowledgeBase(
        tmp_path / "kb", tmp_path / "index", FakeEmbedder(), public_url="https://help.example.com"
    )
    return KBMaintainer(kb, train=train)


def settle(worker: KBMaintainer) -> None:
    assert worker.wait_for_probe(60) and worker.wait_for_calibration(60)


def test_a_follower_loads_the_workers_build_without_embedding_or_training(tmp_path):
    write_article(tmp_path / "kb", "billing/refunds", REFUND)
    write_article(tmp_path / "kb", "account/password", PASSWORD)
    worker = maintainer(tmp_path, train=True)
    assert worker.load().embedded_passages > 0
    settle(worker)

    follower = maintainer(tmp_path, train=False)
    report = follower.load()
    assert report.embedded_passages == 0
    snapshot, built = follower.kb.current, worker.kb.current
    assert snapshot.probe is not None and snapshot.probe.key == built.probe.key
    assert snapshot.calibration == built.calibration  # the gate the worker saved, if any
    assert follower.wait_for_probe(0) and follower.wait_for_calibration(0)


def test_a_follower_picks_up_the_workers_rebuild_on_follow(tmp_path):
    write_article(tmp_path / "kb", "billing/refunds", REFUND)
    worker = maintainer(tmp_path, train=True)
    worker.load()
    settle(worker)
    follower = maintainer(tmp_path, train=False)
    follower.load()

    write_article(tmp_path / "kb", "shipping/times", SHIPPING)
    assert worker.reload().embedded_passages > 0
    settle(worker)
    report = follower.follow()
    assert report.embedded_passages == 0  # read from the folder the worker wrote
    assert report.added == ["shipping/times"]
    assert follower.kb.current.probe.key == worker.kb.current.probe.key


def test_a_follower_without_a_build_to_follow_embeds_but_never_trains(tmp_path):
    write_article(tmp_path / "kb", "billing/refunds", REFUND)
    follower = maintainer(tmp_path, train=False)
    assert follower.load().embedded_passages > 0
    assert follower.kb.current.probe is None and follower.kb.current.calibration is None
    assert follower.wait_for_probe(0)
