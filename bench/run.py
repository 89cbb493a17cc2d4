"""`supportbot bench`: the server under N concurrent conversations against the bare model, in one
run, so the ratios hold on a noisy machine."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import LoadResult, run_load
from bench.model import BareModel, measure_bare_model
from bench.server import BenchServer
from bench.texts import all_texts
from bot.settings import Settings
from embedding import load_embedder


@dataclass(frozen=True)
class BenchPlan:
    """What to run: how many conversations, for how long, over which transports."""

    conversations: int = 64
    seconds: float = 30.0
    messages: int | None = None
    transports: tuple[str, ...] = ("rest", "ws")
    idle_messages: int = 30
    turns_per_conversation: int = 6
    url: str | None = None
    admin_token: str = ""
    data_dir: Path | None = None
    adapt_timeout: float = 900.0


def run_bench(settings: Settings, plan: BenchPlan) -> dict[str, Any]:
    """Measure the bare model, start (or reach) the server, run idle and loaded phases, measure
    the bare model again (a shared machine's speed drifts: the ratios use the mean of both)."""
    load_before = os.getloadavg()
    print("measuring the bare model on the bench's texts...", file=sys.stderr)
    embedder = load_embedder(settings.model, **settings.embedder_options())
    # On a worker thread, as the server's batcher encodes: torch on a loaded machine behaves
    # very differently on the main thread (one-text encodes took 20x longer there).
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bare-model")

    def measure() -> BareModel:
        return worker.submit(
            measure_bare_model,
            embedder,
            all_texts(),
            kb_dir=settings.kb_dir,
            batch=settings.embed_max_batch,
        ).result()

    bare_before = measure()
    server = _server(settings, plan)
    try:
        model = _wait_for_model(server, settings, plan, embedder.model_id)
        idle = _phase(server, plan, "rest", idle=True)
        phases = [_phase(server, plan, transport) for transport in plan.transports]
        rss = server.rss_mb()
    finally:
        server.stop()
    print("measuring the bare model again...", file=sys.stderr)
    bare_after = measure()
    worker.shutdown()
    bare = _mean(bare_before.to_dict(), bare_after.to_dict())
    for phase in phases:
        phase["ratio_to_bare_batched"] = _ratio(phase["msgs_per_s"], bare["batched_msgs_per_s"])
        phase["cpu_ratio_to_bare_batched"] = _ratio(
            phase.get("msgs_per_server_cpu_s"), bare["batched_msgs_per_cpu_s"]
        )
    idle_figures = {k: idle[k] for k in ("turns", "p50_ms", "p95_ms", "errors")}
    idle_figures["server_cpu_ms_per_turn"] = idle.get("server_cpu_ms_per_turn")
    idle_figures["ratio_p50_to_bare_single"] = _ratio(
        idle["p50_ms"], bare["single_encode_search_p50_ms"]
    )
    idle_figures["cpu_ratio_to_bare_single"] = _ratio(
        idle.get("server_cpu_ms_per_turn"), bare["single_encode_search_cpu_ms"]
    )
    return {
        "settings": {
            "model": settings.model,
            "retrieval_model": model,
            "database": settings.database_url.split(":", 1)[0],
            "kb_adapt": settings.kb_adapt,
            "embed_max_batch": settings.embed_max_batch,
            "embed_batch_wait_ms": settings.embed_batch_wait_ms,
            "url": None if server.process else server.url,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "bench_client_cpu_s": round(_own_cpu_seconds(), 1),
        },
        "bare_model": {**bare, "before": bare_before.to_dict(), "after": bare_after.to_dict()},
        "idle": idle_figures,
        "loaded": phases,
        "server_rss_mb": round(rss, 1) if rss is not None else None,
        "errors": idle["errors"] + sum(phase["errors"] for phase in phases),
    }


def _mean(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {
        key: round((before[key] + after[key]) / 2, 2) if isinstance(before[key], float) else value
        for key, value in before.items()
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _server(settings: Settings, plan: BenchPlan) -> BenchServer:
    if plan.url:
        server = BenchServer(url=plan.url, admin_token=plan.admin_token)
        server.wait_ready(60)
        return server
    data_dir = plan.data_dir or settings.data_dir / "bench"
    # A fresh database each run (the adapted model and the index under data_dir/index stay).
    for leftover in data_dir.glob("supportbot.db*"):
        leftover.unlink()
    overrides = {
        "SUPPORTBOT_KB_DIR": str(settings.kb_dir.resolve()),
        "SUPPORTBOT_MODEL": settings.model,
        "SUPPORTBOT_KB_ADAPT": str(settings.kb_adapt).lower(),
        "SUPPORTBOT_EMBED_MAX_BATCH": str(settings.embed_max_batch),
        "SUPPORTBOT_EMBED_BATCH_WAIT_MS": str(settings.embed_batch_wait_ms),
    }
    if "database_url" in settings.model_fields_set:
        overrides["SUPPORTBOT_DATABASE_URL"] = settings.database_url
    print(f"starting a server (data in {data_dir})...", file=sys.stderr)
    return BenchServer.start(
        data_dir=data_dir, overrides=overrides, log_path=data_dir / "bench-server.log"
    )


def _wait_for_model(
    server: BenchServer, settings: Settings, plan: BenchPlan, base_model: str
) -> str | None:
    """The model retrieval uses; with KB adaptation on, once it is the adapted one."""
    status = server.admin("kb")
    if status is None or not settings.kb_adapt or status["model"] != base_model:
        return status["model"] if status else None
    print("waiting for the KB-adapted model (minutes on a first run)...", file=sys.stderr)
    return server.wait_for_model(base_model, plan.adapt_timeout)


def _phase(server: BenchServer, plan: BenchPlan, transport: str, idle: bool = False) -> dict:
    """One phase of load (idle: one conversation, one message at a time) and what the server
    spent on it."""
    embedding_before = server.admin("embedding")
    cpu_before, started = server.cpu_seconds(), time.monotonic()
    result: LoadResult = asyncio.run(
        run_load(
            server.url,
            transport=transport,
            conversations=1 if idle else plan.conversations,
            seconds=max(plan.seconds, 60) if idle else plan.seconds,
            messages=plan.idle_messages if idle else plan.messages,
            turns_per_conversation=plan.turns_per_conversation,
            label="idle, one at a time" if idle else "",
        )
    )
    cpu_after, wall = server.cpu_seconds(), time.monotonic() - started
    phase = result.to_dict()
    if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
        cpu = cpu_after - cpu_before
        phase["server_cpu_cores"] = round(cpu / wall, 2)
        phase["msgs_per_server_cpu_s"] = round(result.turns / cpu, 1)
        phase["server_cpu_ms_per_turn"] = round(cpu * 1000 / max(result.turns, 1), 2)
    embedding_after = server.admin("embedding")
    if embedding_before is not None and embedding_after is not None:
        phase |= _batching(embedding_before, embedding_after, result.turns)
    return phase


def _batching(before: dict[str, Any], after: dict[str, Any], turns: int) -> dict[str, Any]:
    """Batch-size histogram and encodes per turn over one phase (differences of counters)."""
    sizes = Counter({int(k): v for k, v in after["batch_sizes"].items()})
    sizes.subtract({int(k): v for k, v in before["batch_sizes"].items()})
    histogram = {str(size): n for size, n in sorted(sizes.items()) if n > 0}
    batches = sum(histogram.values())
    texts = sum(after["texts_encoded"].values()) - sum(before["texts_encoded"].values())
    return {
        "batches": batches,
        "mean_batch": round(sum(int(k) * n for k, n in histogram.items()) / batches, 1)
        if batches
        else 0.0,
        "batch_sizes": histogram,
        "encodes_per_turn": round(texts / turns, 2) if turns else 0.0,
    }


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
