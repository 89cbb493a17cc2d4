"""Insight over many conversations: topics of customer questions, spikes against an hour-of-week
baseline, and redaction of personal data. A pure core: numpy and scikit-learn, nothing of ours."""

from insight.spikes import (
    Spike,
    SpikeRule,
    expected_count,
    frustration_spike,
    history_offsets,
    history_span,
    rising_frustration,
    shrunk_expected,
    volume_fires,
    volume_spike,
    windows,
)
from insight.topics import Clustering, central_index, cluster, nearest_topic, normalise

__all__ = [
    "Spike",
    "SpikeRule",
    "expected_count",
    "frustration_spike",
    "history_offsets",
    "history_span",
    "rising_frustration",
    "shrunk_expected",
    "volume_fires",
    "volume_spike",
    "windows",
    "Clustering",
    "central_index",
    "cluster",
    "nearest_topic",
    "normalise",
]
