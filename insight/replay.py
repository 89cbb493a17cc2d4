"""`supportbot eval alerts`: generated traffic replayed through topics and the spike rule.

The generator (seeded, so every run sees the same traffic):
- topics are the answerable intents of a labelled query set (clinc30: 30), their texts its
  queries; their shares of traffic fall off as 1/rank^0.9, so the last third are small topics;
  a further 15% of traffic is questions without an article (background noise);
- an ordinary weekday brings `daily` questions in a daily rhythm (a night floor of 6% of the
  busiest hour, a peak early afternoon), a weekend day 45% of that; each minute's count is Poisson;
- eight days of history come first (the baseline needs it), then `weeks` evaluated weeks carry
  incidents: for each size (2x, 3x, 5x) `per_size` incidents, one topic each, 30 minutes long,
  adding (size - 1) x the topic's expected 30-minute count, but at least 5 x (size - 1) messages
  (so every 3x incident brings >= 10 extra); a third start at night (00:00-05:00) and a third
  hit small topics.
Texts go through the real embedder (each distinct text once); no topic ids are handed in: the
topics come from clustering the history week with the KB's articles as seeds, each question is
then assigned to its nearest topic as it arrives, and topics are re-clustered nightly over the
last week. The spike rule runs every simulated minute.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np

from embedding import Embedder
from insight.bench import article_vectors
from insight.spikes import (
    DAY_MIN,
    WEEK_MIN,
    SpikeRule,
    expected_count,
    shrunk_expected,
    volume_fires,
    windows,
)
from insight.topics import cluster, normalise

SIZES = (2.0, 3.0, 5.0)
SEED = 7  # the generator's default seed
INCIDENT_MIN = 30
NOISE_SHARE = 0.15
NIGHT_FLOOR = 0.06
WEEKEND = 0.45


@dataclass(frozen=True)
class Incident:
    topic: int  # index into the generator's topics
    start: int  # minute
    size: float
    extra: int
    night: bool
    small: bool


@dataclass(frozen=True)
class Traffic:
    minutes: np.ndarray  # per message, sorted
    texts: np.ndarray  # index into `pool`
    incident: np.ndarray  # -1 or the incident's index
    pool: list[str]
    incidents: list[Incident]
    history_minutes: int
    total_minutes: int


def _hour_profile() -> np.ndarray:
    hours = np.arange(24)
    day = np.clip(np.sin(np.pi * (hours - 6) / 17), 0, None) ** 1.3
    return NIGHT_FLOOR + (1 - NIGHT_FLOOR) * day


def minute_rates(total_minutes: int, daily: float) -> np.ndarray:
    """Expected questions per minute of all traffic, with the daily and weekly rhythm."""
    profile = _hour_profile()
    per_hour = profile / profile.sum() * daily
    minutes = np.arange(total_minutes)
    hour = (minutes // 60) % 24
    weekday = (minutes // DAY_MIN) % 7
    weekly = np.where(weekday >= 5, WEEKEND, 1.0)
    return per_hour[hour] / 60 * weekly


def generate(
    topic_texts: Sequence[Sequence[str]],
    noise_texts: Sequence[str],
    *,
    seed: int = SEED,
    weeks: int = 4,
    daily: float = 1500,
    per_size: int = 6,
) -> Traffic:
    """Ordinary traffic plus injected incidents (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    topics = len(topic_texts)
    order = rng.permutation(topics)  # which topic gets which rank
    shares = np.empty(topics)
    shares[order] = 1 / np.arange(1, topics + 1) ** 0.9
    shares = shares / shares.sum() * (1 - NOISE_SHARE)
    history = WEEK_MIN + DAY_MIN  # a full week before the first check's earliest window
    total = history + weeks * WEEK_MIN
    rates = minute_rates(total, daily)
    pool = [text for texts in topic_texts for text in texts] + list(noise_texts)
    starts = np.cumsum([0, *[len(texts) for texts in topic_texts]])
    noise_start = int(starts[-1])

    minutes: list[np.ndarray] = []
    texts: list[np.ndarray] = []
    incident_of: list[np.ndarray] = []
    for topic in range(topics):
        counts = rng.poisson(rates * shares[topic])
        at = np.repeat(np.arange(total), counts)
        minutes.append(at)
        texts.append(rng.integers(starts[topic], starts[topic + 1], len(at)))
        incident_of.append(np.full(len(at), -1))
    if noise_texts:
        counts = rng.poisson(rates * NOISE_SHARE)
        at = np.repeat(np.arange(total), counts)
        minutes.append(at)
        texts.append(rng.integers(noise_start, len(pool), len(at)))
        incident_of.append(np.full(len(at), -1))

    small = set(order[-(topics // 3) :].tolist())
    large = [t for t in range(topics) if t not in small]
    incidents: list[Incident] = []
    slots = rng.permutation(weeks * 7 - 1)[: per_size * len(SIZES)]  # one incident a day at most
    for number, slot in enumerate(slots):
        size = SIZES[number % len(SIZES)]
        night = (number // len(SIZES)) % 3 == 0
        on_small = (number // len(SIZES)) % 3 == 1
        topic = int(rng.choice(sorted(small) if on_small else large))
        hour = int(rng.integers(0, 5)) if night else int(rng.integers(8, 20))
        start = history + int(slot + 1) * DAY_MIN + hour * 60 + int(rng.integers(0, 60))
        expected = float(rates[start : start + INCIDENT_MIN].sum() * shares[topic])
        extra = max(round((size - 1) * expected), round(5 * (size - 1)))
        at = np.sort(rng.integers(start, start + INCIDENT_MIN, extra))
        minutes.append(at)
        texts.append(rng.integers(starts[topic], starts[topic + 1], extra))
        incident_of.append(np.full(extra, len(incidents)))
        incidents.append(Incident(topic, start, size, extra, night, topic in small))

    all_minutes = np.concatenate(minutes)
    order_by_time = np.argsort(all_minutes, kind="stable")
    return Traffic(
        minutes=all_minutes[order_by_time],
        texts=np.concatenate(texts)[order_by_time],
        incident=np.concatenate(incident_of)[order_by_time],
        pool=pool,
        incidents=incidents,
        history_minutes=history,
        total_minutes=total,
    )


def _window_sums(cumulative: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """Counts in (end - length, end] for every row of a cumulative count matrix."""
    hi = np.clip(ends, -1, cumulative.shape[1] - 1)
    lo = np.clip(ends - length, -1, cumulative.shape[1] - 1)
    padded = np.concatenate([np.zeros((cumulative.shape[0], 1)), cumulative], axis=1)
    return padded[:, hi + 1] - padded[:, lo + 1]


def replay(
    traffic: Traffic,
    embed: Callable[[list[str]], np.ndarray],
    article_vectors: np.ndarray,
    rule: SpikeRule,
    *,
    min_similarity: float = 0.3,
) -> dict[str, Any]:
    """Run topics and the spike rule over the traffic; score alerts against the incidents."""
    vectors = normalise(embed(traffic.pool))[traffic.texts]
    labels = np.full(len(vectors), -1)

    def nearest(rows: slice, centroids: dict[int, np.ndarray]) -> np.ndarray:
        ids = np.asarray(list(centroids))
        similarity = vectors[rows] @ np.vstack([centroids[i] for i in ids]).T
        best = ids[similarity.argmax(axis=1)]
        return np.where(similarity.max(axis=1) >= min_similarity, best, -1)

    day_bounds = np.searchsorted(traffic.minutes, np.arange(0, traffic.total_minutes + 1, DAY_MIN))
    history_end = int(np.searchsorted(traffic.minutes, traffic.history_minutes))
    first = cluster(vectors[:history_end], article_vectors=article_vectors)
    labels[:history_end] = first.labels
    centroids = first.centroids
    alerts: list[tuple[int, int, float, float]] = []  # minute, topic (-1: all), numbers
    last_fired: dict[int, int] = {}
    days = traffic.total_minutes // DAY_MIN
    for day in range(traffic.history_minutes // DAY_MIN, days):
        lo, hi = int(day_bounds[day]), int(day_bounds[day + 1])
        labels[lo:hi] = nearest(slice(lo, hi), centroids)
        alerts.extend(_detect_day(traffic, labels[:hi], day, rule, last_fired))
        # Nightly re-clustering over the last week, ids kept by overlap.
        since = int(np.searchsorted(traffic.minutes, (day + 1) * DAY_MIN - WEEK_MIN))
        window = labels[since:hi]
        again = cluster(
            vectors[since:hi],
            article_vectors=article_vectors,
            previous=centroids,
            previous_labels=[int(x) if x >= 0 else None for x in window],
            next_id=max(centroids) + 1,
        )
        labels[since:hi] = again.labels
        centroids = again.centroids
        # Older questions move to the new topics too, so the baseline counts what is counted now.
        labels[:since] = nearest(slice(0, since), centroids)
    result = _score(traffic, labels, alerts, rule)
    result["topics"] = len(centroids)
    return result


def _detect_day(
    traffic: Traffic, labels: np.ndarray, day: int, rule: SpikeRule, last_fired: dict[int, int]
) -> list[tuple[int, int, float, float]]:
    """Alerts of one simulated day, checking every minute, with the cooldown."""
    end = (day + 1) * DAY_MIN
    topics = sorted({int(x) for x in labels if x >= 0})
    rows = {topic: row for row, topic in enumerate(topics)}
    counts = np.zeros((len(topics) + 1, end))
    minutes = traffic.minutes[: len(labels)]
    for topic, row in rows.items():
        np.add.at(counts[row], minutes[labels == topic], 1)
    np.add.at(counts[-1], minutes, 1)
    cumulative = counts.cumsum(axis=1)
    now = np.arange(day * DAY_MIN, end)
    # Each topic's share of all questions over the baseline weeks, for the shrinkage.
    since = max(0, day * DAY_MIN - rule.weeks * WEEK_MIN)
    totals = counts[:, since : day * DAY_MIN].sum(axis=1)
    share = totals / max(totals[-1], 1.0)
    lengths = windows(rule)
    tests = len(keys_of(topics)) * len(lengths)
    fires = np.zeros((len(topics) + 1, len(now)), dtype=bool)
    for length in lengths:
        observed = _window_sums(cumulative, now, length)
        history = []
        for offset in (k * WEEK_MIN for k in range(1, rule.weeks + 1)):
            valid = now - offset - length - rule.margin >= 0
            sums = _window_sums(cumulative, now - offset + rule.margin, length + 2 * rule.margin)
            history.append(np.where(valid, sums, np.nan))
        stacked = np.stack(history, axis=-1)
        seen = (~np.isnan(stacked)).sum(axis=-1)
        mean = np.nansum(stacked, axis=-1) / np.maximum(seen, 1)
        own = expected_count(mean[..., None], rule, length)
        expected = shrunk_expected(own, own[-1][None, :], share[:, None], seen, rule)
        fires |= volume_fires(observed, expected, rule, tests=tests, window=length)
        if length == rule.window:
            observed_full, expected_full = observed, expected
    found = []
    keys = keys_of(topics)
    for row, minute in sorted(zip(*np.nonzero(fires), strict=True), key=lambda rm: rm[1]):
        key = keys[row]
        at = int(now[minute])
        if key in last_fired and at - last_fired[key] < rule.cooldown:
            continue
        last_fired[key] = at
        found.append(
            (at, key, float(observed_full[row, minute]), float(expected_full[row, minute]))
        )
    return found


def keys_of(topics: Sequence[int]) -> list[int]:
    """What each check tests: every topic and all questions (-1)."""
    return [*topics, -1]


def _score(
    traffic: Traffic,
    labels: np.ndarray,
    alerts: list[tuple[int, int, float, float]],
    rule: SpikeRule,
) -> dict[str, Any]:
    incident_topic = {}
    for number in range(len(traffic.incidents)):
        members = labels[traffic.incident == number]
        values, counts = np.unique(members, return_counts=True)
        incident_topic[number] = int(values[counts.argmax()]) if len(values) else -2
    delays: dict[int, int] = {}
    false_alerts = 0
    false_examples = []
    for at, key, observed, expected in alerts:
        matched = False
        for number, incident in enumerate(traffic.incidents):
            inside = incident.start <= at <= incident.start + INCIDENT_MIN + rule.window
            if inside and key in (incident_topic[number], -1):
                matched = True
                delays.setdefault(number, at - incident.start)
        false_alerts += not matched
        if not matched:
            false_examples.append(
                {"minute": at, "topic": key, "observed": observed, "expected": round(expected, 2)}
            )
    weeks = (traffic.total_minutes - traffic.history_minutes) / WEEK_MIN
    by_size: dict[str, dict[str, Any]] = {}
    detected_in_time: dict[int, bool] = {
        n: n in delays and delays[n] <= 15 for n in range(len(traffic.incidents))
    }
    groups: dict[float, list[int]] = defaultdict(list)
    for number, incident in enumerate(traffic.incidents):
        groups[incident.size].append(number)
    for size, numbers in sorted(groups.items()):
        found = [delays[n] for n in numbers if n in delays]
        by_size[f"{size:g}x"] = {
            "incidents": len(numbers),
            "recall": round(sum(detected_in_time[n] for n in numbers) / len(numbers), 3),
            "median_delay_min": median(found) if found else None,
            "max_delay_min": max(found) if found else None,
            "extra_messages": [traffic.incidents[n].extra for n in numbers],
        }
    big = [n for n, i in enumerate(traffic.incidents) if i.size >= 3]
    two = [n for n, i in enumerate(traffic.incidents) if i.size == 2]
    all_delays = [delays[n] for n in big if n in delays]
    return {
        "recall": round(sum(detected_in_time[n] for n in big) / max(len(big), 1), 3),
        "recall_2x": round(sum(detected_in_time[n] for n in two) / max(len(two), 1), 3),
        "false_alerts_per_week": round(false_alerts / weeks, 3),
        "median_delay_min": median(all_delays) if all_delays else None,
        "by_size": by_size,
        "missed": [
            {
                "size": traffic.incidents[n].size,
                "night": traffic.incidents[n].night,
                "small": traffic.incidents[n].small,
                "extra": traffic.incidents[n].extra,
                "delay_min": delays.get(n),
            }
            for n in range(len(traffic.incidents))
            if not detected_in_time[n]
        ],
        "alerts": len(alerts),
        "false_alert_examples": false_examples[:20],
        "false_alerts": false_alerts,
        "messages": len(traffic.minutes),
        "weeks": weeks,
        "incidents": len(traffic.incidents),
        "rule": {
            "window": rule.window,
            "min_count": rule.min_count,
            "min_ratio": rule.min_ratio,
            "z": rule.z,
            "floor": rule.floor,
            "prior_weeks": rule.prior_weeks,
            "windows": windows(rule),
            "cooldown": rule.cooldown,
        },
    }


def clinc_topics(rows: Sequence[dict[str, str]]) -> tuple[list[list[str]], list[str]]:
    """Texts by article (the topics) and texts without an article (noise), de-duplicated."""
    by_article: dict[str, list[str]] = defaultdict(list)
    noise: list[str] = []
    for row in rows:
        (by_article[row["article"]] if row.get("article") else noise).append(row["text"])
    topics = [sorted(set(texts)) for _, texts in sorted(by_article.items())]
    return topics, sorted(set(noise))


def evaluate_alerts(
    embedder: Embedder,
    articles: Sequence[Sequence[str]],
    rows: Sequence[dict[str, str]],
    rule: SpikeRule,
    *,
    min_similarity: float = 0.3,
    seed: int = SEED,
) -> dict[str, Any]:
    """Generate traffic from labelled queries, replay it, and score the alerts."""
    started = time.perf_counter()
    topic_texts, noise = clinc_topics(rows)
    traffic = generate(topic_texts, noise[:1500], seed=seed)
    result = replay(
        traffic,
        lambda texts: np.asarray(embedder.encode(texts)),
        article_vectors(embedder, articles),
        rule,
        min_similarity=min_similarity,
    )
    result["seed"] = seed
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
