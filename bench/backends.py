"""`supportbot bench backends`: the bare model on each embedding backend, measured in turn on the
bench's texts (one text at a time, and batches of EMBED_MAX_BATCH), round after round, so a
shared machine's drift hits every backend alike; medians and paired ratios to torch."""

from __future__ import annotations

import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.model import measure_bare_model
from bench.texts import all_texts
from bot.settings import Settings
from embedding import Embedder, load_embedder

FIGURES = (
    "single_encode_p50_ms",
    "single_encode_search_p50_ms",
    "single_encode_search_cpu_ms",
    "batched_msgs_per_s",
    "batched_msgs_per_cpu_s",
)


def compare_backends(
    settings: Settings, backends: list[str], *, rounds: int = 3, seconds: float = 3.0
) -> dict[str, Any]:
    """Per backend: the median of each figure over `rounds`, and the median of its ratio to the
    first backend's figure in the same round."""
    options = settings.embedder_options()
    models: dict[str, Embedder] = {}
    for backend in backends:
        print(f"loading the model on {backend}...", file=sys.stderr)
        models[backend] = load_embedder(settings.model, **(options | {"backend": backend}))
    runs: dict[str, list[dict[str, Any]]] = {backend: [] for backend in backends}
    # On a worker thread, as the server's batcher encodes (see bench.run).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bare-model") as worker:
        for number in range(rounds):
            for backend, model in models.items():
                print(f"round {number + 1}/{rounds}: {backend}", file=sys.stderr)
                bare = worker.submit(
                    measure_bare_model,
                    model,
                    all_texts(),
                    kb_dir=settings.kb_dir,
                    batch=settings.embed_max_batch,
                    seconds=seconds,
                ).result()
                runs[backend].append(bare.to_dict())
    reference = backends[0]
    report: dict[str, Any] = {"rounds": rounds, "batch": settings.embed_max_batch, "backends": {}}
    for backend, model in models.items():
        figures = {name: statistics.median(run[name] for run in runs[backend]) for name in FIGURES}
        ratios = {
            name: round(
                statistics.median(
                    run[name] / base[name]
                    for run, base in zip(runs[backend], runs[reference], strict=True)
                    if base[name]
                ),
                3,
            )
            for name in FIGURES
        }
        report["backends"][backend] = {
            "runs_on": getattr(model, "backend", backend),  # an unavailable backend runs torch
            "model_id": model.model_id,
            "median": {name: round(value, 2) for name, value in figures.items()},
            f"ratio_to_{reference}": ratios,
            "runs": runs[backend],
        }
    return report
