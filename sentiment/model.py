"""The values scoring works on: turns in, scores with their evidence out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

ROLES = ("customer", "bot", "agent", "system")
LABELS = ("negative", "neutral", "positive")
SMALL_TALK = ("greeting", "thanks", "goodbye", "chitchat")


class SentimentError(ValueError):
    """Input that scoring cannot work with."""


@dataclass(frozen=True)
class Signal:
    """One named piece of evidence for frustration: a 0..1 measure and how much it counts."""

    name: str
    value: float
    weight: float
    detail: str

    @property
    def contribution(self) -> float:
        """How much this signal adds to the frustration score before combining."""
        return self.value * self.weight

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return {
            "name": self.name,
            "value": self.value,
            "weight": self.weight,
            "detail": self.detail,
            "contribution": self.contribution,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Signal:
        """Inverse of `to_dict` (the derived contribution is ignored)."""
        return cls(
            name=str(d["name"]),
            value=float(d["value"]),
            weight=float(d["weight"]),
            detail=str(d.get("detail", "")),
        )


@dataclass(frozen=True)
class Scores:
    """Everything scoring found about one customer turn."""

    polarity: float
    subjectivity: float
    sentiment: float
    label: str
    frustration: float
    signals: tuple[Signal, ...] = ()
    # How clearly the anger is aimed at the service or the bot (0..1), apart from frustration.
    anger: float = 0.0
    human_request: bool = False
    repeated_of: int | None = None
    small_talk: str | None = None

    def signal(self, name: str) -> Signal | None:
        """The signal called `name`, if scoring produced one."""
        return next((s for s in self.signals if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for storage and the console."""
        return {
            "polarity": self.polarity,
            "subjectivity": self.subjectivity,
            "sentiment": self.sentiment,
            "label": self.label,
            "frustration": self.frustration,
            "anger": self.anger,
            "signals": [s.to_dict() for s in self.signals],
            "human_request": self.human_request,
            "repeated_of": self.repeated_of,
            "small_talk": self.small_talk,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        """Inverse of `to_dict`."""
        repeated = d.get("repeated_of")
        return cls(
            polarity=float(d["polarity"]),
            subjectivity=float(d["subjectivity"]),
            sentiment=float(d["sentiment"]),
            label=str(d["label"]),
            frustration=float(d["frustration"]),
            signals=tuple(Signal.from_dict(s) for s in d.get("signals", ())),
            anger=float(d.get("anger", 0.0)),
            human_request=bool(d.get("human_request", False)),
            repeated_of=None if repeated is None else int(repeated),
            small_talk=d.get("small_talk"),
        )


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, as scoring sees it."""

    role: str
    text: str
    at: datetime | None = None
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    declined: bool = False
    unhelpful: bool = False
    scores: Scores | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise SentimentError(f"unknown turn role {self.role!r}; expected one of {ROLES}")
