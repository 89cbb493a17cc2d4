"""Frustration at each customer turn, from named signals over the turn and its conversation.

Each signal is a 0..1 measure with a weight. Signals with a positive weight combine as a
noisy-or, 1 - prod(1 - min(1, value * weight)): any one strong signal can carry the score and
several weak ones add up. Signals with a negative weight (a clearly positive message) then damp
it by the factor 1 + sum(contributions). The result stays in [0, 1]. Scoring is pure: the
caller passes the turn (with its vector and time, if known) and the earlier turns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np

from embedding import Embedder
from sentiment import lexicon
from sentiment.model import Scores, Signal, Turn
from sentiment.text import WORD, MessageFeatures, analyze, is_nudge

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "negative_sentiment": 1.0,
        "positive_sentiment": -0.6,
        "sentiment_trend": 0.25,
        "complaint": 0.35,
        "situation": 0.1,
        "service_anger": 0.6,
        "sarcasm": 0.7,
        "correction": 0.7,
        "frustration_prototype": 0.35,
        "repeated_question": 0.5,
        "waiting": 0.6,
        "burst": 0.5,
        "shouting": 0.5,
        "punctuation": 0.3,
        "profanity": 0.8,
        "human_request": 0.9,
        "bot_failures": 0.3,
    }
)


@dataclass(frozen=True)
class ScoringConfig:
    """Weights and thresholds; the defaults were set by hand and checked on public data."""

    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    # Cosine similarity (unit vectors) at which an earlier customer turn counts as asked again,
    # and where the repeated-question measure starts rising.
    repeat_threshold: float = 0.8
    repeat_floor: float = 0.65
    repeat_min_words: int = 3
    # Waiting: no penalty up to `wait_grace_s`, full at `wait_full_s`.
    wait_grace_s: float = 30.0
    wait_full_s: float = 300.0
    # Messages in a row closer than this are one burst.
    burst_gap_s: float = 120.0
    trend_window: int = 3
    failure_window: int = 3
    # Prototype margin (frustrated minus calm similarity) mapped onto 0..1.
    prototype_low: float = -0.05
    prototype_high: float = 0.2
    # Which signals make up anger at the service (Scores.anger), and how much each counts.
    anger_shares: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {
                "service_anger": 1.0,
                "sarcasm": 1.0,
                "profanity": 1.0,
                "shouting": 0.8,
                "punctuation": 0.4,
            }
        )
    )

    def weight(self, name: str) -> float:
        """The configured weight of signal `name` (0 when absent)."""
        return float(self.weights.get(name, DEFAULT_WEIGHTS.get(name, 0.0)))


def _clamp(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _ramp(x: float, low: float, high: float) -> float:
    return _clamp((x - low) / (high - low))


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _seconds(later: datetime, earlier: datetime) -> float:
    return (_utc(later) - _utc(earlier)).total_seconds()


def _is_repeat_candidate(features: MessageFeatures, min_words: int) -> bool:
    """Questions and requests can be repeated; greetings, thanks, nudges and bare yes/no can't."""
    return features.small_talk is None and not features.nudge and features.words >= min_words


def _earlier_is_repeat_candidate(turn: Turn, min_words: int) -> bool:
    """The same test for an earlier turn, from its stored scores when it has them (cheaper)."""
    if turn.scores is None:
        return _is_repeat_candidate(analyze(turn.text), min_words)
    return (
        turn.scores.small_talk is None
        and not is_nudge(turn.text)
        and len(WORD.findall(turn.text)) >= min_words
    )


def _emotion(turn: Turn) -> float:
    """A turn's sentiment without its situation words, from its stored scores when it has them."""
    if turn.scores is None:
        return analyze(turn.text).emotion
    negative = turn.scores.signal("negative_sentiment")
    positive = turn.scores.signal("positive_sentiment")
    if negative is None or positive is None:
        return turn.scores.sentiment
    return positive.value - negative.value


class TurnScorer:
    """Scores customer turns. Holds the prototype vectors, embedded once."""

    def __init__(
        self, embedder: Embedder | None = None, config: ScoringConfig | None = None
    ) -> None:
        self.config = config or ScoringConfig()
        self._frustrated: np.ndarray | None = None
        self._calm: np.ndarray | None = None
        if embedder is not None:
            vectors = embedder.encode([*lexicon.FRUSTRATED_PROTOTYPES, *lexicon.CALM_PROTOTYPES])
            split = len(lexicon.FRUSTRATED_PROTOTYPES)
            self._frustrated = np.ascontiguousarray(vectors[:split], dtype=np.float32)
            self._calm = np.ascontiguousarray(vectors[split:], dtype=np.float32)

    def score(self, turn: Turn, history: Sequence[Turn]) -> Scores:
        """Scores for `turn` given the earlier turns of its conversation, oldest first."""
        features = analyze(turn.text)
        repeat_signal, repeated_of = self._repeated_question(turn, features, history)
        signals = [
            self._negative_sentiment(features),
            self._positive_sentiment(features),
            self._sentiment_trend(features, history),
            self._complaint(features),
            self._situation(features),
            self._service_anger(features),
            self._sarcasm(features),
            self._correction(features),
            self._prototype(turn, features),
            repeat_signal,
            *self._timing(turn, features, history),
            self._shouting(features),
            self._punctuation(features),
            self._profanity(features),
            self._human_request(features),
            self._bot_failures(history),
        ]
        keep = 1.0
        damping = 1.0
        for signal in signals:
            if signal.weight >= 0:
                keep *= 1.0 - _clamp(signal.contribution)
            else:
                damping += signal.contribution
        return Scores(
            polarity=features.polarity,
            subjectivity=features.subjectivity,
            sentiment=features.sentiment,
            label=features.label,
            frustration=_clamp((1.0 - keep) * max(0.0, damping)),
            anger=self._anger(signals),
            signals=tuple(signals),
            human_request=features.human_request,
            repeated_of=repeated_of,
            small_talk=features.small_talk,
        )

    def _signal(self, name: str, value: float, detail: str) -> Signal:
        return Signal(
            name=name, value=_clamp(value), weight=self.config.weight(name), detail=detail
        )

    def _negative_sentiment(self, features: MessageFeatures) -> Signal:
        detail = (
            f"sentiment {features.sentiment:+.2f} (VADER {features.vader:+.2f}, "
            f"TextBlob {features.polarity:+.2f})"
        )
        if features.situation_cues:
            detail += f"; {features.emotion:+.2f} without the situation words"
        return self._signal("negative_sentiment", -features.emotion, detail)

    def _positive_sentiment(self, features: MessageFeatures) -> Signal:
        if features.sarcasm:
            return self._signal("positive_sentiment", 0.0, "praise read as sarcasm")
        return self._signal(
            "positive_sentiment", features.emotion, f"sentiment {features.emotion:+.2f}"
        )

    def _situation(self, features: MessageFeatures) -> Signal:
        cues = ", ".join(features.situation_cues[:4])
        return self._signal(
            "situation",
            features.situation,
            f"reports: {cues} (the problem, not a feeling)" if cues else "no problem words",
        )

    def _service_anger(self, features: MessageFeatures) -> Signal:
        cues = ", ".join(features.service_anger_cues[:4])
        return self._signal(
            "service_anger", features.service_anger, f"cues: {cues}" if cues else "no cues"
        )

    def _sarcasm(self, features: MessageFeatures) -> Signal:
        cue = features.sarcasm_cue
        return self._signal(
            "sarcasm", features.sarcasm, f"praise around a problem: {cue!r}" if cue else "none"
        )

    def _anger(self, signals: Sequence[Signal]) -> float:
        """How clearly the customer is angry at the service or the bot (0..1), from the
        signals that say so: its verdicts, sarcasm, insults or swearing, shouting."""
        parts = {s.name: s.value for s in signals}
        keep = 1.0
        for name, share in self.config.anger_shares.items():
            keep *= 1.0 - _clamp(parts.get(name, 0.0) * share)
        return _clamp(1.0 - keep)

    def _sentiment_trend(self, features: MessageFeatures, history: Sequence[Turn]) -> Signal:
        """Negativity sustained over the last few customer turns, and how far it fell."""
        earlier = [_emotion(t) for t in history if t.role == "customer"][
            -self.config.trend_window :
        ]
        if not earlier:
            return self._signal("sentiment_trend", 0.0, "no earlier customer turns")
        series = [*earlier, features.emotion]
        recency = np.arange(1, len(series) + 1, dtype=float)
        sustained = float(np.dot(np.maximum(0.0, -np.asarray(series)), recency) / recency.sum())
        drop = max(0.0, float(np.mean(earlier)) - features.emotion)
        value = max(sustained, drop / 2)
        trail = " -> ".join(f"{s:+.2f}" for s in series)
        return self._signal("sentiment_trend", value, f"last {len(series)} turns {trail}")

    def _complaint(self, features: MessageFeatures) -> Signal:
        cues = ", ".join(features.complaint_cues[:4])
        return self._signal("complaint", features.complaint, f"cues: {cues}" if cues else "no cues")

    def _correction(self, features: MessageFeatures) -> Signal:
        cues = ", ".join(features.correction_cues[:4])
        return self._signal(
            "correction", features.correction, f"cues: {cues}" if cues else "no cues"
        )

    def _prototype(self, turn: Turn, features: MessageFeatures) -> Signal:
        if turn.vector is None or self._frustrated is None or self._calm is None:
            return self._signal("frustration_prototype", 0.0, "no vector or no prototypes")
        if features.small_talk is not None:
            return self._signal("frustration_prototype", 0.0, f"small talk ({features.small_talk})")
        vector = np.asarray(turn.vector, dtype=np.float32)
        frustrated = float(np.max(self._frustrated @ vector))
        calm = float(np.max(self._calm @ vector))
        margin = frustrated - calm
        value = _ramp(margin, self.config.prototype_low, self.config.prototype_high)
        return self._signal(
            "frustration_prototype", value, f"frustrated {frustrated:.2f} vs calm {calm:.2f}"
        )

    def _repeated_question(
        self, turn: Turn, features: MessageFeatures, history: Sequence[Turn]
    ) -> tuple[Signal, int | None]:
        name = "repeated_question"
        if turn.vector is None:
            return self._signal(name, 0.0, "no vector"), None
        if not _is_repeat_candidate(features, self.config.repeat_min_words):
            return self._signal(name, 0.0, "small talk or too short to be a question"), None
        indices = [
            i
            for i, t in enumerate(history)
            if t.role == "customer"
            and t.vector is not None
            and _earlier_is_repeat_candidate(t, self.config.repeat_min_words)
        ]
        if not indices:
            return self._signal(name, 0.0, "no earlier question"), None
        earlier = np.stack([np.asarray(history[i].vector, dtype=np.float32) for i in indices])
        similarities = earlier @ np.asarray(turn.vector, dtype=np.float32)
        best = int(np.argmax(similarities))
        similarity = float(similarities[best])
        value = _ramp(similarity, self.config.repeat_floor, self.config.repeat_threshold + 0.1)
        repeated_of = indices[best] if similarity >= self.config.repeat_threshold else None
        detail = f"closest earlier turn #{indices[best]} at cosine {similarity:.2f}"
        return self._signal(name, value, detail), repeated_of

    def _timing(
        self, turn: Turn, features: MessageFeatures, history: Sequence[Turn]
    ) -> list[Signal]:
        """Waiting for an answer, and messages sent without waiting for one."""
        if turn.at is None:
            return [
                self._signal("waiting", 0.0, "no timestamp"),
                self._signal("burst", 0.0, "no timestamp"),
            ]
        now = turn.at
        # The customer's messages since the last reply (oldest first), and that reply.
        reply_index = next(
            (i for i in range(len(history) - 1, -1, -1) if history[i].role in ("bot", "agent")),
            None,
        )
        start = 0 if reply_index is None else reply_index + 1
        timed = [t for t in history[start:] if t.role == "customer" and t.at is not None]
        run_length = sum(1 for t in history[start:] if t.role == "customer")
        waited = _seconds(now, timed[0].at) if timed else 0.0  # type: ignore[arg-type]
        # A reply that came late still rankles at the next turn.
        reply_delay = 0.0
        if reply_index is not None and history[reply_index].at is not None:
            asked_at: datetime | None = None
            for t in reversed(history[:reply_index]):
                if t.role != "customer":
                    break
                asked_at = t.at or asked_at
            if asked_at is not None:
                reply_delay = _seconds(history[reply_index].at, asked_at)  # type: ignore[arg-type]
        longest = max(waited, reply_delay)
        waiting = self._signal(
            "waiting",
            _ramp(longest, self.config.wait_grace_s, self.config.wait_full_s),
            f"waiting {waited:.0f}s unanswered; last reply took {reply_delay:.0f}s",
        )
        # Burst: consecutive unanswered messages, each close to the one before.
        burst_count = 1
        previous = now
        for t in reversed(timed):
            if _seconds(previous, t.at) > self.config.burst_gap_s:  # type: ignore[arg-type]
                break
            burst_count += 1
            previous = t.at  # type: ignore[assignment]
        nudge = features.nudge and run_length > 0
        value = max(_clamp((burst_count - 1) / 3), 0.7 if nudge else 0.0)
        detail = f"{burst_count} messages without a reply" + (
            f", chasing: {turn.text[:20]!r}" if nudge else ""
        )
        return [waiting, self._signal("burst", value, detail)]

    def _shouting(self, features: MessageFeatures) -> Signal:
        words = ", ".join(features.caps_words[:4])
        return self._signal("shouting", features.shouting, f"caps: {words}" if words else "no caps")

    def _punctuation(self, features: MessageFeatures) -> Signal:
        run = features.punctuation_run
        value = 0.0 if run < 2 else 0.4 if run == 2 else 0.7 if run == 3 else 1.0
        return self._signal("punctuation", value, f"longest !/? run {run}")

    def _profanity(self, features: MessageFeatures) -> Signal:
        found = (*features.insults, *features.profanity)
        value = 1.0 if features.insults else 0.7 if features.profanity else 0.0
        return self._signal(
            "profanity", value, f"found: {', '.join(found[:4])}" if found else "none"
        )

    def _human_request(self, features: MessageFeatures) -> Signal:
        return self._signal(
            "human_request",
            1.0 if features.human_request else 0.0,
            "asks for a person" if features.human_request else "no request for a person",
        )

    def _bot_failures(self, history: Sequence[Turn]) -> Signal:
        """Bot turns that declined or were marked unhelpful; the latest one counts most."""
        replies = [t for t in history if t.role in ("bot", "agent")]
        if not replies:
            return self._signal("bot_failures", 0.0, "no bot turns yet")
        failed = [t.declined or t.unhelpful for t in replies]
        recent = failed[-self.config.failure_window :]
        # Latest reply weighs 1, earlier ones in the window 0.5 each; older failures 0.1 each.
        value = (
            (1.0 if recent[-1] else 0.0)
            + 0.5 * sum(recent[:-1])
            + 0.1 * sum(failed[: -len(recent)])
        )
        total = sum(failed)
        return self._signal(
            "bot_failures",
            value,
            f"{total} of {len(replies)} replies failed; latest {'failed' if recent[-1] else 'ok'}",
        )
