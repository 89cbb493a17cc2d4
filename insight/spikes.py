"""Spikes against an hour-of-week baseline.

The expected count of a window is the mean count of the same window in earlier weeks (earlier
days while less than a week of history exists), each widened by a margin on both sides and
scaled back to the window's length, so a baseline of four weeks has a few hundred minutes of
traffic behind it rather than four noisy windows. A window fires when it holds at least
`min_count` messages, at least `min_ratio` times the expected count and a Poisson z-score of at
least `z` (the expected count floored at `floor`, so a quiet night is not divided by zero).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import norm, poisson

WEEK_MIN = 7 * 24 * 60
DAY_MIN = 24 * 60


@dataclass(frozen=True)
class SpikeRule:
    """When a window's volume (or mean frustration) is a spike. Minutes throughout."""

    window: int = 15
    margin: int = 30
    weeks: int = 4
    min_count: int = 5
    min_ratio: float = 2.0
    z: float = 4.0
    floor: float = 0.3
    cooldown: int = 120
    frustration_delta: float = 0.25
    frustration_min_count: int = 5


@dataclass(frozen=True)
class Spike:
    """Why an alert fired: the numbers against the baseline."""

    kind: str  # "volume" or "frustration"
    topic_id: int | None  # None: all questions
    observed: float
    expected: float
    ratio: float
    z: float
    count: int
    window_minutes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form, rounded."""
        return {
            key: round(value, 3) if isinstance(value, float) else value
            for key, value in asdict(self).items()
        }


def history_offsets(now: float, history_start: float, rule: SpikeRule) -> list[float]:
    """How far back (minutes) each earlier window lies: weeks when a full week of history
    exists before the window, otherwise days."""
    span = rule.window + rule.margin
    weeks = [
        k * WEEK_MIN for k in range(1, rule.weeks + 1) if now - k * WEEK_MIN - span >= history_start
    ]
    if weeks:
        return [float(w) for w in weeks]
    return [float(k * DAY_MIN) for k in range(1, 8) if now - k * DAY_MIN - span >= history_start]


def history_span(rule: SpikeRule) -> tuple[int, int]:
    """The earlier window, relative to `now - offset`: (start, end] in minutes."""
    return -(rule.window + rule.margin), rule.margin


def expected_count(history: Sequence[float] | np.ndarray, rule: SpikeRule) -> Any:
    """Mean count of the widened earlier windows, scaled to the window's length. `history`
    may have a trailing axis of windows (vectorised); empty history expects nothing."""
    history = np.asarray(history, dtype=float)
    if history.shape[-1] == 0:
        return np.zeros(history.shape[:-1]) if history.ndim > 1 else 0.0
    scale = rule.window / (rule.window + 2 * rule.margin)
    return history.mean(axis=-1) * scale


def volume_fires(observed: Any, expected: Any, rule: SpikeRule) -> Any:
    """Whether an observed count is a spike against the expected count (arrays work too)."""
    floored = np.maximum(expected, rule.floor)
    surprise = poisson.sf(np.asarray(observed) - 1, floored) <= norm.sf(rule.z)
    return (observed >= rule.min_count) & (observed >= rule.min_ratio * floored) & surprise


def volume_spike(
    topic_id: int | None, observed: int, expected: float, rule: SpikeRule
) -> Spike | None:
    """A volume spike with its numbers, or None."""
    if not bool(volume_fires(observed, expected, rule)):
        return None
    floored = max(expected, rule.floor)
    return Spike(
        kind="volume",
        topic_id=topic_id,
        observed=float(observed),
        expected=float(expected),
        ratio=observed / floored,
        z=float(norm.isf(max(float(poisson.sf(observed - 1, floored)), 1e-300))),
        count=observed,
        window_minutes=rule.window,
    )


def frustration_spike(
    topic_id: int | None,
    window: Sequence[float],
    baseline: Sequence[float],
    rule: SpikeRule,
) -> Spike | None:
    """Mean frustration of the window against the baseline's mean and spread, or None."""
    if len(window) < rule.frustration_min_count or len(baseline) < rule.frustration_min_count:
        return None
    mean = float(np.mean(window))
    base = float(np.mean(baseline))
    spread = max(float(np.std(baseline)), 0.05)
    z = (mean - base) / (spread / math.sqrt(len(window)))
    if mean - base < rule.frustration_delta or z < rule.z:
        return None
    return Spike(
        kind="frustration",
        topic_id=topic_id,
        observed=mean,
        expected=base,
        ratio=mean / max(base, 0.01),
        z=z,
        count=len(window),
        window_minutes=rule.window,
    )


def rising_frustration(values: Sequence[float], *, threshold: float) -> bool:
    """A customer's latest turns grow more frustrated and the last reaches `threshold`."""
    if len(values) < 2:
        return False
    return values[-1] >= threshold and values[-1] > values[-2]
