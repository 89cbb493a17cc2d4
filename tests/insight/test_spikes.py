"""The spike rule: minimum count, ratio, Poisson surprise, baseline offsets."""

from __future__ import annotations

import pytest

from insight import (
    SpikeRule,
    expected_count,
    frustration_spike,
    history_offsets,
    rising_frustration,
    volume_spike,
)
from insight.spikes import DAY_MIN, WEEK_MIN

RULE = SpikeRule()


@pytest.mark.parametrize(
    ("observed", "expected", "fires"),
    [
        (3, 0.0, False),  # a quiet night: three messages are not a crisis
        (4, 0.1, False),  # below the minimum count
        (6, 0.1, True),
        (17, 4.0, True),
        (12, 4.0, False),  # 3x, but four in a thousand quiet windows reach it
        (8, 4.0, False),  # twice the baseline but not surprising
        (60, 40.0, False),  # busy hour, 1.5x
        (100, 40.0, True),
    ],
)
def test_volume_spike(observed: int, expected: float, fires: bool) -> None:
    spike = volume_spike(3, observed, expected, RULE)
    assert (spike is not None) is fires
    if spike is not None:
        assert spike.ratio >= RULE.min_ratio
        assert spike.to_dict()["topic_id"] == 3


def test_the_baseline_uses_weeks_once_a_week_of_history_exists() -> None:
    now = 3 * WEEK_MIN
    assert history_offsets(now, 0, RULE) == [WEEK_MIN, 2 * WEEK_MIN]
    assert history_offsets(3 * DAY_MIN, 0, RULE) == [DAY_MIN, 2 * DAY_MIN]


def test_expected_count_scales_the_widened_window() -> None:
    # 75-minute spans holding 10 questions each: 2 expected in 15 minutes
    assert expected_count([10, 10, 10], RULE) == pytest.approx(2.0)
    assert expected_count([], RULE) == 0.0


def test_frustration_spike_needs_a_real_rise() -> None:
    baseline = [0.1, 0.2, 0.15, 0.1, 0.2, 0.1]
    assert frustration_spike(None, [0.7, 0.8, 0.6, 0.9, 0.7], baseline, RULE) is not None
    assert frustration_spike(None, [0.2, 0.25, 0.1, 0.2, 0.2], baseline, RULE) is None
    assert frustration_spike(None, [0.9, 0.9], baseline, RULE) is None  # too few


@pytest.mark.parametrize(
    ("values", "rising"),
    [([0.2, 0.6], True), ([0.6, 0.4], False), ([0.1, 0.3], False), ([0.9], False)],
)
def test_rising_frustration(values: list[float], rising: bool) -> None:
    assert rising_frustration(values, threshold=0.5) is rising
