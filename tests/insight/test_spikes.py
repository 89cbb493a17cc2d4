"""The spike rule: minimum count, ratio, Poisson surprise corrected for the number of tests,
shrinkage of sparse baselines, baseline offsets."""

from __future__ import annotations

import pytest

from insight import (
    SpikeRule,
    expected_count,
    frustration_spike,
    history_offsets,
    rising_frustration,
    shrunk_expected,
    volume_fires,
    volume_spike,
    windows,
)
from insight.spikes import DAY_MIN, WEEK_MIN

RULE = SpikeRule()


@pytest.mark.parametrize(
    ("observed", "expected", "fires"),
    [
        (3, 0.0, False),  # a quiet night: three messages are not a crisis
        (4, 0.0, True),  # four against the floor (0.03) are
        (4, 0.1, True),
        (4, 0.2, False),  # P(>= 4 | 0.2) = 5.6e-5 > norm.sf(4) = 3.2e-5
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


@pytest.mark.parametrize(
    ("observed", "expected", "tests", "fires"),
    [
        (6, 0.4, 1, True),  # P(>= 6 | 0.4) = 4.0e-6 <= norm.sf(4) = 3.2e-5
        (6, 0.4, 31, False),  # ... but with 31 topics tested the bar is 1.0e-6
        (7, 0.4, 31, True),  # P(>= 7 | 0.4) = 2.3e-7
        (7, 0.6, 93, False),  # 31 topics x 3 windows: the bar is 3.4e-7; P(>= 7 | 0.6) = 3.3e-6
        (8, 0.6, 93, True),  # 2.4e-7
    ],
)
def test_the_bar_is_corrected_for_the_number_of_tests(
    observed: int, expected: float, tests: int, fires: bool
) -> None:
    assert bool(volume_fires(observed, expected, RULE, tests=tests)) is fires


def test_the_floor_scales_with_a_shorter_window() -> None:
    rule = SpikeRule(floor=0.3)
    # 4 in 15 minutes against the floor 0.3: not surprising; in 5 minutes (floor 0.1) it is
    assert not volume_fires(4, 0.0, rule)
    assert volume_fires(4, 0.0, rule, window=5)
    spike = volume_spike(None, 4, 0.0, rule, window=5)
    assert spike is not None and spike.window_minutes == 5
    assert windows(SpikeRule(shorter=(5, 10, 15, 30, 0))) == [5, 10, 15]


@pytest.mark.parametrize(
    ("own", "overall", "share", "seen", "expected"),
    [
        (0.0, 10.0, 0.01, 4, 0.02),  # a sparse hour: no own history, pulled to 1% of 10 / 5
        (2.0, 10.0, 0.2, 4, 2.0),  # own history agrees with the share: unchanged
        (5.0, 10.0, 0.2, 4, 4.4),  # four weeks of own history outweigh one prior week
        (0.0, 10.0, 0.2, 0, 2.0),  # no weeks seen: the prior alone
    ],
)
def test_a_sparse_hour_is_shrunk_toward_the_topics_share(
    own: float, overall: float, share: float, seen: int, expected: float
) -> None:
    assert float(shrunk_expected(own, overall, share, seen, RULE)) == pytest.approx(expected)
    assert float(shrunk_expected(own, overall, share, seen, SpikeRule(prior_weeks=0))) == (
        pytest.approx(own if seen else 0.0)
    )


def test_the_baseline_uses_weeks_once_a_week_of_history_exists() -> None:
    now = 3 * WEEK_MIN
    assert history_offsets(now, 0, RULE) == [WEEK_MIN, 2 * WEEK_MIN]
    assert history_offsets(3 * DAY_MIN, 0, RULE) == [DAY_MIN, 2 * DAY_MIN]


def test_expected_count_scales_the_widened_window() -> None:
    # 75-minute spans holding 10 questions each: 2 expected in 15 minutes
    assert expected_count([10, 10, 10], RULE) == pytest.approx(2.0)
    assert expected_count([], RULE) == 0.0
    assert expected_count([10, 10, 10], RULE, 5) == pytest.approx(10 * 5 / 65)


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
