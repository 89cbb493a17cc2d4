"""One knowledge base for the whole deployment: the process that runs the background work (the
worker, or a single instance) builds and trains it in the index folder every process shares,
then announces its version on the bus; the other instances load it from the folder on each
notice (`KBMaintainer.follow`), embedding and training nothing themselves."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os

from bot.events import EventBus
from retrieval import KBMaintainer, KnowledgeBase

log = logging.getLogger(__name__)

KB_TOPIC = "kb"  # {"type": "kb", "version": ...} when the worker's KB settled
SETTLE_WAIT_S = 600.0  # longest wait for the probe and gate of a new snapshot


def index_version(kb: KnowledgeBase) -> str:
    """What a process serves, in 16 hex digits: the model, every passage, the probe and the gate.
    Two processes with the same version answer alike."""
    snapshot = kb.current
    if snapshot is None:
        return ""
    digest = hashlib.sha256()
    model = snapshot.embedder.model_id if snapshot.embedder is not None else ""
    digest.update(model.encode())
    for passage in snapshot.passages:
        digest.update(passage.hash.encode())
    digest.update((snapshot.probe.key if snapshot.probe is not None else "-").encode())
    calibration = snapshot.calibration
    digest.update((f"{calibration.key}:{calibration.threshold}" if calibration else "-").encode())
    return digest.hexdigest()[:16]


async def announce_forever(maintainer: KBMaintainer, bus: EventBus, *, watch: bool) -> None:
    """The worker: announce the KB's settled version (again when adaptation switches the
    model), then, with `watch`, rebuild on every change of the KB folder and announce again;
    runs until cancelled."""
    from watchfiles import awatch

    kb = maintainer.kb
    await _announce_when_settled(maintainer, bus)
    if not watch:
        return
    kb.kb_dir.mkdir(parents=True, exist_ok=True)
    async for changes in awatch(kb.kb_dir, debounce=200, step=50, recursive=True):
        log.info("knowledge base changed (%d files); rebuilding for every instance", len(changes))
        try:
            await asyncio.to_thread(maintainer.reload)
        except Exception:  # the previous version keeps serving; the next save retries
            log.exception("knowledge base reload failed")
            continue
        await _announce_when_settled(maintainer, bus)


async def _announce_when_settled(maintainer: KBMaintainer, bus: EventBus) -> None:
    await asyncio.to_thread(maintainer.wait_for_probe, SETTLE_WAIT_S)
    await asyncio.to_thread(maintainer.wait_for_calibration, SETTLE_WAIT_S)
    await _announce(maintainer.kb, bus)
    if maintainer.adapt:
        before = maintainer.adapted_model
        await asyncio.to_thread(maintainer.wait_for_adaptation)
        if maintainer.adapted_model is not before:
            await asyncio.to_thread(maintainer.wait_for_probe, SETTLE_WAIT_S)
            await asyncio.to_thread(maintainer.wait_for_calibration, SETTLE_WAIT_S)
            await _announce(maintainer.kb, bus)


async def _announce(kb: KnowledgeBase, bus: EventBus) -> None:
    version = index_version(kb)
    await asyncio.to_thread(_record, kb, version)
    log.info("knowledge base version %s announced to every instance", version)
    await bus.publish(KB_TOPIC, {"type": "kb", "version": version})


async def follow_forever(maintainer: KBMaintainer, bus: EventBus) -> None:
    """An instance: load the KB from the shared folder on every notice; runs until cancelled.
    A notice may come between start-up's load and the subscription, or while a dropped
    subscription is down, so it loads once more on each (re)subscription."""
    missed = True
    while True:
        async with bus.subscribe(KB_TOPIC) as notices:
            if missed:
                await _follow(maintainer, "")
            async for notice in notices:
                await _follow(maintainer, str(notice.get("version", "")))
        missed = True
        await asyncio.sleep(1.0)


async def _follow(maintainer: KBMaintainer, announced: str) -> None:
    try:
        report = await asyncio.to_thread(maintainer.follow)
    except Exception:  # the previous version keeps serving; the next notice retries
        log.exception("loading the worker's knowledge base failed")
        return
    version = index_version(maintainer.kb)
    log.info(
        "knowledge base version %s loaded from the shared folder (%d passages embedded here)%s",
        version,
        report.embedded_passages,
        "" if not announced or announced == version else f"; the worker announced {announced}",
    )


ANNOUNCED_FILE = "announced.json"


def _record(kb: KnowledgeBase, version: str) -> None:
    """Leave the announced version in the shared folder: an instance starting later knows the
    worker's KB is complete there."""
    path = kb.index_dir / ANNOUNCED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"version": version}), "utf-8")
    os.replace(temporary, path)


async def wait_for_worker(kb: KnowledgeBase, timeout_s: float) -> bool:
    """An instance starting: wait until the worker has built the KB in the shared folder, so
    this instance embeds and trains nothing. False when it did not within `timeout_s`."""
    path = kb.index_dir / ANNOUNCED_FILE
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    if not path.exists():
        log.info("waiting for the worker to build the knowledge base in %s", kb.index_dir)
    while not path.exists():
        if loop.time() > deadline:
            log.warning(
                "the worker has not built the knowledge base in %s after %.0f s; building here",
                kb.index_dir,
                timeout_s,
            )
            return False
        await asyncio.sleep(0.5)
    return True
