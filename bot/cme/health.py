"""The customer health score: 0-100 from named components, each with its value, weight and
contribution, so a CME sees why. Pure functions over dataclasses; no I/O.

How it is computed. Every outcome in the customer's recent history (`window_days`) is an
observation worth 1 (good) or 0 (bad), or 0.5 for a neutral answer, with a mass: the
component's weight, times how much of it there was, times a recency decay (half-life
`half_life_days`). The score is their weighted mean, pulled toward the population mean by a
prior of `prior_mass`:

    score = 100 * (sum(mass * value) + prior_mass * population) / (sum(mass) + prior_mass)

So a customer with little data sits near the population mean; a component without data adds
no observation at all (it is skipped, not counted as zero). Each component's contribution is its
share of the distance from the population mean, `100 * sum(mass * (value - population)) /
(sum(mass) + prior_mass)`; the contributions add up to `score - 100 * population`.

Good outcomes (observations of 1): a conversation that was resolved with no escalation, no
reopening, no bot failure, no frustration above `calm` and no CSAT below 4; a CSAT of 4-5; an
NPS of 9-10. Bad outcomes (observations of 0): an escalation, a conversation left unresolved
for `unresolved_after_days`, a reopening, a bot failure the customer hit (a decline in scope or
an answer marked unhelpful), frustration above `calm` (peak and mean), a CSAT of 1-2, an NPS of
0-6, more problem contacts in the last `recent_days` than the customer's own baseline, and
time since the last good outcome. Neutral: a CSAT of 3, an NPS of 7-8 (0.5 each).

Because a good outcome only adds observations of 1 (and shortens the time since the last good
outcome), and a bad one only adds observations of 0, adding a good outcome never lowers the
score and adding a bad one never raises it (tests/bot/test_health.py checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

HEALTHY = "healthy"
WATCH = "watch"
AT_RISK = "at_risk"

# The mass of one unit of each component (one escalation, one answer, one excess contact ...).
DEFAULT_WEIGHTS: dict[str, float] = {
    "good_outcomes": 1.0,
    "last_good_outcome": 1.5,
    "contact_frequency": 0.5,
    "frustration": 1.5,
    "escalations": 1.0,
    "unresolved": 1.0,
    "reopened": 1.0,
    "bot_failures": 0.5,
    "csat": 1.5,
    "nps": 1.5,
}
COMPONENTS = tuple(DEFAULT_WEIGHTS)


class HealthConfigError(ValueError):
    """A health setting names an unknown component or an impossible threshold."""


class Outcome(StrEnum):
    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class HealthConfig:
    """Weights and thresholds (SUPPORTBOT_HEALTH_*), documented in the README."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    healthy_min: float = 70.0
    at_risk_below: float = 45.0
    prior_mass: float = 2.0
    default_population: float = 0.75  # until a full recompute has measured the population
    window_days: float = 180.0
    half_life_days: float = 60.0
    recent_days: float = 30.0
    unresolved_after_days: float = 1.0
    calm: float = 0.4  # frustration at or below this is not a problem

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(COMPONENTS))
        if unknown:
            raise HealthConfigError(
                f"unknown health components {unknown}; known: {', '.join(COMPONENTS)}"
            )
        if any(weight < 0 for weight in self.weights.values()):
            raise HealthConfigError("health weights must not be negative")
        if not 0 <= self.at_risk_below <= self.healthy_min <= 100:
            raise HealthConfigError("need 0 <= HEALTH_AT_RISK_BELOW <= HEALTH_HEALTHY_MIN <= 100")

    @classmethod
    def with_weights(cls, overrides: Mapping[str, float], **fields: Any) -> HealthConfig:
        """The defaults with some weights changed."""
        return cls(weights={**DEFAULT_WEIGHTS, **overrides}, **fields)

    def weight(self, component: str) -> float:
        """The configured mass of one unit of a component."""
        return float(self.weights.get(component, DEFAULT_WEIGHTS[component]))

    def tier(self, score: float) -> str:
        """healthy / watch / at_risk for a score."""
        if score >= self.healthy_min:
            return HEALTHY
        return AT_RISK if score < self.at_risk_below else WATCH


@dataclass(frozen=True)
class ConversationFacts:
    """What health needs to know about one conversation."""

    started_at: datetime
    resolved: bool
    escalations: int = 0
    reopened: bool = False
    bot_failures: int = 0
    frustration_peak: float | None = None
    frustration_mean: float | None = None
    csat: tuple[int, ...] = ()
    id: str = ""

    def frustrated(self, config: HealthConfig) -> float:
        """How far peak and mean frustration rose above calm, 0..1 each, summed / 2."""
        peak = max(0.0, (self.frustration_peak or 0.0) - config.calm)
        mean = max(0.0, (self.frustration_mean or 0.0) - config.calm)
        return (peak + mean) / (2 * (1 - config.calm)) if config.calm < 1 else 0.0

    def unresolved(self, config: HealthConfig, now: datetime) -> bool:
        """Still open after `unresolved_after_days`."""
        age = _days(now, self.started_at)
        return not self.resolved and age >= config.unresolved_after_days

    def outcome(self, config: HealthConfig, now: datetime) -> Outcome:
        """Good: resolved cleanly; bad: anything that counts against health; else neutral."""
        problems = (
            self.escalations > 0
            or self.reopened
            or self.bot_failures > 0
            or self.frustrated(config) > 0
            or any(rating <= 2 for rating in self.csat)
        )
        if problems or self.unresolved(config, now):
            return Outcome.BAD
        if self.resolved and all(rating >= 4 for rating in self.csat):
            return Outcome.GOOD
        return Outcome.NEUTRAL


@dataclass(frozen=True)
class NpsAnswer:
    at: datetime
    score: int


@dataclass(frozen=True)
class CustomerHistory:
    """A customer's conversations and NPS answers, any order."""

    conversations: tuple[ConversationFacts, ...] = ()
    nps: tuple[NpsAnswer, ...] = ()


@dataclass(frozen=True)
class Component:
    """One named part of the score: what was measured, its configured weight, the evidence mass
    it put on the scale, and how many points it moved the score from the population mean."""

    name: str
    value: float
    weight: float
    mass: float
    contribution: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for storage and the console."""
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "weight": self.weight,
            "mass": round(self.mass, 3),
            "contribution": round(self.contribution, 2),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Health:
    score: float
    tier: str
    population: float  # the population mean the score starts from, 0-100
    components: tuple[Component, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "score": round(self.score, 1),
            "tier": self.tier,
            "population": round(self.population, 1),
            "components": [c.to_dict() for c in self.components],
        }


@dataclass
class _Scale:
    """Observations of one component: (mass, value) pairs."""

    observations: list[tuple[float, float]] = field(default_factory=list)

    def add(self, mass: float, value: float) -> None:
        if mass > 0:
            self.observations.append((mass, value))


def compute_health(
    history: CustomerHistory,
    *,
    now: datetime,
    config: HealthConfig,
    population: float | None = None,
) -> Health:
    """The customer's health at `now` (see the module docstring for the formula)."""
    population = config.default_population if population is None else population
    window = [
        c for c in history.conversations if 0 <= _days(now, c.started_at) <= config.window_days
    ]
    scales: dict[str, _Scale] = {}
    details: dict[str, tuple[float, str]] = {}

    def observe(name: str, units: float, value: float, age_days: float) -> None:
        mass = config.weight(name) * units * _decay(age_days, config.half_life_days)
        scales.setdefault(name, _Scale()).add(mass, value)

    good_at: list[datetime] = []
    problem_recent = 0
    problem_baseline = 0
    for conversation in window:
        age = _days(now, conversation.started_at)
        outcome = conversation.outcome(config, now)
        if outcome == Outcome.GOOD:
            observe("good_outcomes", 1, 1.0, age)
            good_at.append(conversation.started_at)
        elif outcome == Outcome.BAD:
            if age <= config.recent_days:
                problem_recent += 1
            else:
                problem_baseline += 1
        if conversation.escalations:
            observe("escalations", conversation.escalations, 0.0, age)
        if conversation.unresolved(config, now):
            observe("unresolved", 1, 0.0, age)
        if conversation.reopened:
            observe("reopened", 1, 0.0, age)
        if conversation.bot_failures:
            observe("bot_failures", conversation.bot_failures, 0.0, age)
        if conversation.frustrated(config) > 0:
            observe("frustration", conversation.frustrated(config), 0.0, age)
        for rating in conversation.csat:
            observe("csat", 1, _csat_value(rating), age)
    for answer in history.nps:
        age = _days(now, answer.at)
        if 0 <= age <= config.window_days:
            observe("nps", 1, _nps_value(answer.score), age)

    if window:
        # Problem contacts per `recent_days` in the rest of the window; at least one is normal.
        baseline_span = max(config.window_days - config.recent_days, config.recent_days)
        usual = max(1.0, problem_baseline * config.recent_days / baseline_span)
        excess = max(0.0, problem_recent - usual)
        observe("contact_frequency", excess, 0.0, 0)
        details["contact_frequency"] = (
            float(problem_recent),
            f"{problem_recent} problem contacts in {config.recent_days:g} days, usually "
            f"{usual:.1f}",
        )
        last = max(good_at) if good_at else min(c.started_at for c in window)
        since = _days(now, last)
        # The longer since a good outcome, the heavier a 0 weighs (0 right after one).
        observe("last_good_outcome", 1 - _decay(since, config.half_life_days), 0.0, 0)
        details["last_good_outcome"] = (
            since,
            f"{since:.0f} days since the last good outcome"
            if good_at
            else f"no good outcome in {since:.0f} days of contact",
        )
    _describe(history, window, config, now, details)

    total_mass = sum(mass for scale in scales.values() for mass, _ in scale.observations)
    denominator = total_mass + config.prior_mass
    weighted = sum(mass * value for scale in scales.values() for mass, value in scale.observations)
    score = 100 * (weighted + config.prior_mass * population) / denominator
    components = []
    for name in COMPONENTS:
        if name not in details:
            continue  # no data: skipped
        observations = scales.get(name, _Scale()).observations
        contribution = 100 * sum(m * (v - population) for m, v in observations) / denominator
        value, detail = details[name]
        components.append(
            Component(
                name=name,
                value=value,
                weight=config.weight(name),
                mass=sum(m for m, _ in observations),
                contribution=contribution,
                detail=detail,
            )
        )
    score = min(100.0, max(0.0, score))
    return Health(
        score=score,
        tier=config.tier(score),
        population=100 * population,
        components=tuple(components),
    )


def _describe(
    history: CustomerHistory,
    window: Sequence[ConversationFacts],
    config: HealthConfig,
    now: datetime,
    details: dict[str, tuple[float, str]],
) -> None:
    """The measured value and a sentence for each component that has data."""
    if not window:
        return
    n = len(window)
    good = sum(1 for c in window if c.outcome(config, now) == Outcome.GOOD)
    details["good_outcomes"] = (float(good), f"{good} of {n} conversations ended well")
    peaks = [c.frustration_peak for c in window if c.frustration_peak is not None]
    means = [c.frustration_mean for c in window if c.frustration_mean is not None]
    if peaks:
        peak, mean = max(peaks), sum(means) / len(means) if means else 0.0
        details["frustration"] = (
            peak,
            f"peak {peak:.2f}, mean {mean:.2f} (calm up to {config.calm})",
        )
    escalations = sum(c.escalations for c in window)
    details["escalations"] = (float(escalations), f"{escalations} escalations in {n} conversations")
    unresolved = sum(1 for c in window if c.unresolved(config, now))
    details["unresolved"] = (float(unresolved), f"{unresolved} conversations left unresolved")
    reopened = sum(1 for c in window if c.reopened)
    details["reopened"] = (float(reopened), f"{reopened} conversations reopened")
    failures = sum(c.bot_failures for c in window)
    details["bot_failures"] = (float(failures), f"{failures} bot failures hit")
    ratings = [rating for c in window for rating in c.csat]
    if ratings:
        average = sum(ratings) / len(ratings)
        details["csat"] = (average, f"{len(ratings)} ratings, mean {average:.1f} of 5")
    answers = [a.score for a in history.nps if 0 <= _days(now, a.at) <= config.window_days]
    if answers:
        latest = max(
            (a for a in history.nps if 0 <= _days(now, a.at) <= config.window_days),
            key=lambda a: a.at,
        )
        details["nps"] = (float(latest.score), f"{len(answers)} answers, latest {latest.score}")


def account_health(members: Sequence[Health], *, config: HealthConfig) -> Health:
    """An account's health: its customers' mean score, components summed by name / members."""
    if not members:
        raise ValueError("an account needs at least one customer")
    score = sum(h.score for h in members) / len(members)
    by_name: dict[str, list[Component]] = {}
    for health in members:
        for component in health.components:
            by_name.setdefault(component.name, []).append(component)
    components = tuple(
        Component(
            name=name,
            value=sum(c.value for c in parts) / len(parts),
            weight=parts[0].weight,
            mass=sum(c.mass for c in parts),
            contribution=sum(c.contribution for c in parts) / len(members),
            detail=f"{len(parts)} of {len(members)} customers",
        )
        for name, parts in by_name.items()
    )
    population = sum(h.population for h in members) / len(members)
    return Health(
        score=score, tier=config.tier(score), population=population, components=components
    )


def _csat_value(rating: int) -> float:
    return 1.0 if rating >= 4 else 0.5 if rating == 3 else 0.0


def _nps_value(score: int) -> float:
    return 1.0 if score >= 9 else 0.5 if score >= 7 else 0.0


def _decay(age_days: float, half_life_days: float) -> float:
    return 0.5 ** (max(0.0, age_days) / half_life_days) if half_life_days > 0 else 1.0


def _days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86_400
