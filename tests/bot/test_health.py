"""The health score (bot.cme.health): the formula pinned on hand-built histories, and the
property that a bad outcome never raises it and a good one never lowers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cme.health import (
    AT_RISK,
    HEALTHY,
    WATCH,
    ConversationFacts,
    CustomerHistory,
    HealthConfig,
    HealthConfigError,
    NpsAnswer,
    Outcome,
    account_health,
    compute_health,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CONFIG = HealthConfig()


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def clean(days: float = 0, **overrides) -> ConversationFacts:
    """A conversation the bot resolved cleanly `days` ago."""
    return ConversationFacts(started_at=days_ago(days), resolved=True, **overrides)


def health(*conversations: ConversationFacts, nps: tuple[NpsAnswer, ...] = (), **kw):
    return compute_health(
        CustomerHistory(conversations=conversations, nps=nps), now=NOW, config=CONFIG, **kw
    )


def by_name(result) -> dict[str, float]:
    return {c.name: round(c.contribution, 2) for c in result.components}


def test_no_history_is_the_population_mean_with_no_components():
    result = health()
    assert result.score == pytest.approx(75.0)
    assert result.components == ()
    assert result.tier == HEALTHY


def test_one_good_conversation_today():
    # mass 1 of value 1 plus the prior 2 x 0.75: (1 + 1.5) / 3
    result = health(clean())
    assert result.score == pytest.approx(100 * 2.5 / 3)
    assert by_name(result)["good_outcomes"] == pytest.approx(round(100 * 0.25 / 3, 2))
    # Components without data are skipped, not counted as zero.
    assert "csat" not in by_name(result) and "nps" not in by_name(result)
    assert by_name(result)["escalations"] == 0.0


def test_one_escalation_today_pulls_toward_zero():
    # escalation mass 1 at 0; the conversation is also unresolved? no: resolved by a human.
    result = health(clean(escalations=1))
    assert result.score == pytest.approx(100 * 1.5 / 3)
    assert by_name(result)["escalations"] == pytest.approx(-25.0)
    assert result.tier == WATCH


def test_contributions_add_up_to_the_distance_from_the_population_mean():
    result = health(
        clean(10, csat=(5,)),
        clean(3, escalations=2, frustration_peak=0.9, frustration_mean=0.6, csat=(1,)),
        ConversationFacts(started_at=days_ago(5), resolved=False, bot_failures=3),
        nps=(NpsAnswer(at=days_ago(2), score=3),),
    )
    total = sum(c.contribution for c in result.components)
    assert total == pytest.approx(result.score - result.population)
    assert result.tier == AT_RISK


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (clean(), Outcome.GOOD),
        (clean(csat=(4, 5)), Outcome.GOOD),
        (clean(csat=(3,)), Outcome.NEUTRAL),
        (clean(csat=(2,)), Outcome.BAD),
        (clean(escalations=1), Outcome.BAD),
        (clean(reopened=True), Outcome.BAD),
        (clean(bot_failures=1), Outcome.BAD),
        (clean(frustration_peak=0.8, frustration_mean=0.3), Outcome.BAD),
        (clean(frustration_peak=0.4, frustration_mean=0.2), Outcome.GOOD),
        (ConversationFacts(started_at=days_ago(0.5), resolved=False), Outcome.NEUTRAL),
        (ConversationFacts(started_at=days_ago(2), resolved=False), Outcome.BAD),
    ],
)
def test_which_outcomes_are_good_and_bad(facts, expected):
    assert facts.outcome(CONFIG, NOW) == expected


def test_frustration_uses_peak_and_mean_above_calm():
    # peak 1.0 -> 0.6 above calm, mean 0.4 -> 0: (0.6 + 0) / (2 * 0.6) = 0.5 units x 1.5 weight
    result = health(clean(frustration_peak=1.0, frustration_mean=0.4))
    frustration = next(c for c in result.components if c.name == "frustration")
    assert frustration.mass == pytest.approx(0.75)
    assert frustration.value == pytest.approx(1.0)


def test_old_outcomes_weigh_less_and_leave_the_window():
    recent, old = health(clean(0, escalations=1)), health(clean(120, escalations=1))
    # Two half-lives: a quarter of the mass (the time without a good outcome weighs instead).
    escalation = {
        r: next(c for c in r.components if c.name == "escalations") for r in (recent, old)
    }
    assert escalation[old].mass == pytest.approx(escalation[recent].mass / 4)
    assert health(clean(200, escalations=1)).score == pytest.approx(75.0)


def test_time_since_the_last_good_outcome_counts_against():
    fresh, stale = health(clean(1)), health(clean(90))
    assert next(c for c in stale.components if c.name == "last_good_outcome").contribution < 0
    assert fresh.score > stale.score


def test_contact_frequency_against_the_customers_own_baseline():
    # Four problem contacts this month against none before: three above the usual one.
    burst = [
        ConversationFacts(started_at=days_ago(d), resolved=True, bot_failures=1)
        for d in (1, 2, 3, 4)
    ]
    result = health(*burst)
    frequency = next(c for c in result.components if c.name == "contact_frequency")
    assert frequency.value == 4 and frequency.mass == pytest.approx(3 * 0.5)
    # The same month for a customer who always writes this often is not unusual.
    usual = burst + [
        ConversationFacts(started_at=days_ago(d), resolved=True, bot_failures=1)
        for d in range(35, 175, 8)
    ]
    steady = health(*usual)
    assert next(c for c in steady.components if c.name == "contact_frequency").mass < 1.5


def test_more_data_moves_further_from_the_population_mean():
    one, five = (
        health(clean(0, escalations=1)),
        health(*[clean(d, escalations=1) for d in range(5)]),
    )
    assert 75 > one.score > five.score


def test_tiers_follow_configured_thresholds():
    config = HealthConfig(healthy_min=90, at_risk_below=80)
    result = compute_health(CustomerHistory(conversations=(clean(),)), now=NOW, config=config)
    assert result.tier == WATCH  # 83.3: below 90, not below 80


def test_weights_are_configurable_and_checked():
    heavy = HealthConfig.with_weights({"escalations": 3.0})
    light = compute_health(CustomerHistory((clean(escalations=1),)), now=NOW, config=CONFIG)
    strong = compute_health(CustomerHistory((clean(escalations=1),)), now=NOW, config=heavy)
    assert strong.score < light.score
    with pytest.raises(HealthConfigError, match="unknown health components"):
        HealthConfig.with_weights({"vibes": 1.0})
    with pytest.raises(HealthConfigError):
        HealthConfig(healthy_min=30, at_risk_below=50)


def test_account_health_is_the_mean_of_its_customers():
    good, bad = health(clean()), health(clean(escalations=3))
    account = account_health([good, bad], config=CONFIG)
    assert account.score == pytest.approx((good.score + bad.score) / 2)


# -- property: monotone in outcomes ----------------------------------------------------------

ages = st.floats(min_value=0, max_value=200, allow_nan=False)
frustration = st.none() | st.floats(min_value=0, max_value=1, allow_nan=False)
conversations = st.builds(
    ConversationFacts,
    started_at=ages.map(days_ago),
    resolved=st.booleans(),
    escalations=st.integers(0, 3),
    reopened=st.booleans(),
    bot_failures=st.integers(0, 3),
    frustration_peak=frustration,
    frustration_mean=frustration,
    csat=st.lists(st.integers(1, 5), max_size=2).map(tuple),
)
nps_answers = st.builds(NpsAnswer, at=ages.map(days_ago), score=st.integers(0, 10))
histories = st.builds(
    CustomerHistory,
    conversations=st.lists(conversations, max_size=8).map(tuple),
    nps=st.lists(nps_answers, max_size=3).map(tuple),
)
populations = st.floats(min_value=0, max_value=1, allow_nan=False)

# Outcomes that happen now (the incremental case: the customer's latest contact).
good_outcomes = st.one_of(
    st.builds(
        lambda csat: ("conversation", ConversationFacts(started_at=NOW, resolved=True, csat=csat)),
        st.lists(st.integers(4, 5), max_size=2).map(tuple),
    ),
    st.integers(9, 10).map(lambda s: ("nps", NpsAnswer(at=NOW, score=s))),
)
bad_outcomes = st.one_of(
    conversations.map(
        lambda c: ConversationFacts(
            started_at=NOW - timedelta(days=2),
            resolved=c.resolved,
            escalations=c.escalations,
            reopened=c.reopened,
            bot_failures=c.bot_failures,
            frustration_peak=c.frustration_peak,
            frustration_mean=c.frustration_mean,
            # An answer is an outcome of its own: a bad conversation carries only bad ones.
            csat=tuple(rating for rating in c.csat if rating <= 2),
        )
    )
    .filter(lambda c: c.outcome(CONFIG, NOW) == Outcome.BAD)
    .map(lambda c: ("conversation", c)),
    st.integers(0, 6).map(lambda s: ("nps", NpsAnswer(at=NOW, score=s))),
)


def _with(history: CustomerHistory, outcome) -> CustomerHistory:
    kind, value = outcome
    if kind == "nps":
        return CustomerHistory(history.conversations, (*history.nps, value))
    return CustomerHistory((*history.conversations, value), history.nps)


@settings(max_examples=400, deadline=None)
@given(history=histories, outcome=good_outcomes, population=populations)
def test_a_good_outcome_never_lowers_the_score(history, outcome, population):
    before = compute_health(history, now=NOW, config=CONFIG, population=population)
    after = compute_health(_with(history, outcome), now=NOW, config=CONFIG, population=population)
    assert after.score >= before.score - 1e-9


@settings(max_examples=400, deadline=None)
@given(history=histories, outcome=bad_outcomes, population=populations)
def test_a_bad_outcome_never_raises_the_score(history, outcome, population):
    before = compute_health(history, now=NOW, config=CONFIG, population=population)
    after = compute_health(_with(history, outcome), now=NOW, config=CONFIG, population=population)
    assert after.score <= before.score + 1e-9
