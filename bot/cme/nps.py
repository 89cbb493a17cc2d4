"""NPS: % promoters (9-10) minus % detractors (0-6), always with the number of answers and the
response rate (answers / questions asked). `nps_summary` is what dashboards call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage import NpsSurvey


@dataclass(frozen=True)
class NpsSummary:
    nps: float | None  # None without answers: no score is not a score of 0
    promoters: int
    passives: int
    detractors: int
    answers: int
    asked: int
    response_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)


def nps_of(scores: Iterable[int], *, asked: int | None = None) -> NpsSummary:
    """The NPS of these 0-10 answers; `asked`: how many were asked (default: as many)."""
    answers = list(scores)
    promoters = sum(1 for s in answers if s >= 9)
    detractors = sum(1 for s in answers if s <= 6)
    asked = len(answers) if asked is None else asked
    return NpsSummary(
        nps=round(100 * (promoters - detractors) / len(answers), 1) if answers else None,
        promoters=promoters,
        passives=len(answers) - promoters - detractors,
        detractors=detractors,
        answers=len(answers),
        asked=asked,
        response_rate=round(len(answers) / asked, 4) if asked else None,
    )


def nps_summary(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> NpsSummary:
    """NPS over the questions asked in [since, until), optionally on one channel."""
    statement = select(NpsSurvey.score)
    if since is not None:
        statement = statement.where(NpsSurvey.asked_at >= since)
    if until is not None:
        statement = statement.where(NpsSurvey.asked_at < until)
    if channel is not None:
        statement = statement.where(NpsSurvey.channel == channel)
    scores = list(session.scalars(statement))
    return nps_of([s for s in scores if s is not None], asked=len(scores))
