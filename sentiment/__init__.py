"""Sentiment and frustration scoring for customer turns: pure functions over dataclasses."""

from sentiment.evaluate import evaluate_frustration, evaluate_sentiment
from sentiment.model import Scores, SentimentError, Signal, Turn
from sentiment.scorer import DEFAULT_WEIGHTS, ScoringConfig, TurnScorer
from sentiment.text import (
    classify_sentiment,
    detect_acceptance,
    detect_human_request,
    detect_not_helped,
    detect_small_talk,
    looks_like_bot_failure,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "Scores",
    "ScoringConfig",
    "SentimentError",
    "Signal",
    "Turn",
    "TurnScorer",
    "classify_sentiment",
    "evaluate_frustration",
    "evaluate_sentiment",
    "detect_acceptance",
    "detect_human_request",
    "detect_not_helped",
    "detect_small_talk",
    "looks_like_bot_failure",
]
