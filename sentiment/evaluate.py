"""Benchmarks: sentiment labels on a CSV, frustration ranking on labelled dialogues."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from embedding import Embedder
from sentiment.model import LABELS, SentimentError, Turn
from sentiment.scorer import TurnScorer
from sentiment.text import classify_sentiment, looks_like_bot_failure

log = logging.getLogger(__name__)


def evaluate_sentiment(*, texts_path: Path, out_path: Path | None = None) -> dict[str, float]:
    """Accuracy, macro recall and negative precision/recall of `classify_sentiment` on a CSV."""
    gold: list[str] = []
    predicted: list[str] = []
    with _maybe_open(out_path) as out, Path(texts_path).open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            label = (row.get("label") or "").strip().lower()
            if label not in LABELS:
                raise SentimentError(f"{texts_path}: label {label!r} is not one of {LABELS}")
            text = row.get("text") or ""
            guess, sentiment = classify_sentiment(text)
            gold.append(label)
            predicted.append(guess)
            if out is not None:
                out.write(
                    json.dumps(
                        {
                            "text": text,
                            "label": label,
                            "predicted": guess,
                            "sentiment": round(sentiment, 4),
                        }
                    )
                    + "\n"
                )
    y = np.array(gold)
    p = np.array(predicted)
    recalls = [float(np.mean(p[y == c] == c)) for c in LABELS if np.any(y == c)]
    flagged = p == "negative"
    return {
        "accuracy": float(np.mean(p == y)) if len(y) else 0.0,
        "macro_recall": float(np.mean(recalls)) if recalls else 0.0,
        "negative_precision": float(np.mean(y[flagged] == "negative")) if flagged.any() else 0.0,
        "negative_recall": float(np.mean(p[y == "negative"] == "negative"))
        if np.any(y == "negative")
        else 0.0,
        "n": len(y),
    }


def _parse_at(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _dialogues(path: Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SentimentError(f"{path}:{number}: not JSON ({exc})") from exc


def evaluate_frustration(
    *, dialogues_path: Path, out_path: Path | None = None, embedder: Embedder | None = None
) -> dict[str, float]:
    """AUROC and best F1 of the frustration score against labelled customer turns."""
    scorer = TurnScorer(embedder=embedder)
    scores: list[float] = []
    labels: list[int] = []
    with _maybe_open(out_path) as out:
        for dialogue in _dialogues(dialogues_path):
            raw_turns = dialogue.get("turns") or []
            customer_texts = [t.get("text", "") for t in raw_turns if t.get("role") == "customer"]
            vectors = (
                iter(embedder.encode(customer_texts))
                if embedder is not None and customer_texts
                else None
            )
            history: list[Turn] = []
            for index, raw in enumerate(raw_turns):
                role = raw.get("role", "customer")
                text = raw.get("text", "")
                at = _parse_at(raw.get("at"))
                if role != "customer":
                    history.append(
                        Turn(role=role, text=text, at=at, declined=looks_like_bot_failure(text))
                    )
                    continue
                turn = Turn(
                    role="customer",
                    text=text,
                    at=at,
                    vector=next(vectors) if vectors is not None else None,
                )
                result = scorer.score(turn, history)
                history.append(
                    Turn(role="customer", text=text, at=at, vector=turn.vector, scores=result)
                )
                if "label" in raw and raw["label"] is not None:
                    scores.append(result.frustration)
                    labels.append(int(raw["label"]))
                    if out is not None:
                        out.write(
                            json.dumps(
                                {
                                    "id": dialogue.get("id"),
                                    "turn": index,
                                    "gold": int(raw["label"]),
                                    "scores": result.to_dict(),
                                }
                            )
                            + "\n"
                        )
    return {
        **_ranking_metrics(np.array(scores), np.array(labels)),
        "turns": len(labels),
        "positives": int(sum(labels)),
    }


def _ranking_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    if len(set(labels.tolist())) < 2:
        log.warning("frustration eval needs both labels to rank; got %s", set(labels.tolist()))
        return {"auroc": float("nan"), "best_f1": float("nan")}
    from sklearn.metrics import precision_recall_curve, roc_auc_score  # only the eval needs it

    precision, recall, _ = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return {"auroc": float(roc_auc_score(labels, scores)), "best_f1": float(np.max(f1))}


def _maybe_open(path: Path | None) -> AbstractContextManager[IO[str] | None]:
    """A text file to write per-item results to, or a stand-in None."""
    return Path(path).open("w", encoding="utf-8") if path is not None else nullcontext()
