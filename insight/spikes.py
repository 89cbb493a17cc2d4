"""Spikes against an hour-of-week baseline.

The expected count of a window is the mean count of the same window in earlier weeks (earlier
days while less than a week of history exists), each widened by a margin on both sides and
scaled back to the window's length, so a baseline of four weeks has a few hundred minutes of
traffic behind it rather than four noisy windows. A sparse topic's hour (a small topic at night
has seen nothing there in four weeks) is shrunk toward the topic's share of all traffic times the
all-traffic baseline of that hour, as if `prior_weeks` more weeks had seen exactly that.

A window fires when it holds at least `min_count` messages, at least `min_ratio` times the
expected count (floored at `floor`, scaled to the window's length) and its Poisson tail
probability is at most the normal tail of `z` divided by the number of tests in the check (topics
x windows: a Bonferroni correction), so one check of all topics fires by chance with probability
at most norm.sf(z): about 1 in 31,000 at z=4, at most 0.32 a week of checks every minute.
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
    min_count: int = 4
    min_ratio: float = 2.0
    z: float = 4.0
    floor: float = 0.03
    prior_weeks: float = 1.0
    shorter: tuple[int, ...] = ()  # shorter windows tested too (each one more test per topic)
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


def expected_count(
    history: Sequence[float] | np.ndarray, rule: SpikeRule, window: int | None = None
) -> Any:
    """Mean count of the widened earlier windows, scaled to the window's length (default the
    rule's). `history` may have a trailing axis of windows (vectorised); empty history expects
    nothing."""
    history = np.asarray(history, dtype=float)
    if history.shape[-1] == 0:
        return np.zeros(history.shape[:-1]) if history.ndim > 1 else 0.0
    window = window or rule.window
    scale = window / (window + 2 * rule.margin)
    return history.mean(axis=-1) * scale


def windows(rule: SpikeRule) -> list[int]:
    """The window lengths each check tests, longest last."""
    return sorted({w for w in rule.shorter if 0 < w < rule.window} | {rule.window})


def shrunk_expected(own: Any, overall: Any, share: Any, seen: Any, rule: SpikeRule) -> Any:
    """A topic's expected count, shrunk toward `share` x the all-traffic expected count `overall`
    with the weight of `prior_weeks` weeks against the `seen` weeks of its own history `own`."""
    own, overall, share, seen = (np.asarray(x, dtype=float) for x in (own, overall, share, seen))
    total = seen + rule.prior_weeks
    prior = share * overall
    return np.where(total > 0, (seen * own + rule.prior_weeks * prior) / np.maximum(total, 1e-9), 0)


def _floored(expected: Any, rule: SpikeRule, window: int | None) -> Any:
    return np.maximum(expected, rule.floor * (window or rule.window) / rule.window)


def volume_fires(
    observed: Any, expected: Any, rule: SpikeRule, *, tests: int = 1, window: int | None = None
) -> Any:
    """Whether an observed count over `window` minutes (default the rule's) is a spike against
    the expected count, with `tests` tests in the check (arrays work too)."""
    floored = _floored(expected, rule, window)
    threshold = norm.sf(rule.z) / max(tests, 1)
    surprise = poisson.sf(np.asarray(observed) - 1, floored) <= threshold
    return (observed >= rule.min_count) & (observed >= rule.min_ratio * floored) & surprise


def volume_spike(
    topic_id: int | None,
    observed: int,
    expected: float,
    rule: SpikeRule,
    *,
    tests: int = 1,
    window: int | None = None,
) -> Spike | None:
    """A volume spike with its numbers, or None."""
    if not bool(volume_fires(observed, expected, rule, tests=tests, window=window)):
        return None
    floored = float(_floored(expected, rule, window))
    return Spike(
        kind="volume",
        topic_id=topic_id,
        observed=float(observed),
        expected=float(expected),
        ratio=observed / floored,
        z=float(norm.isf(max(float(poisson.sf(observed - 1, floored)), 1e-300))),
        count=observed,
        window_minutes=window or rule.window,
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
