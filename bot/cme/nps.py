"""NPS: % promoters (9-10) minus % detractors (0-6), always with the number of answers and the
response rate. The response rate's denominator is the questions the customer was shown (the
widget fetched it to show it, Slack posted it), not every question asked: a resolution nobody
was watching (the idle sweep closing a conversation in a closed widget) asks too, and counting
it would read as a customer who declined to answer. `nps_summary` is what dashboards call."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.storage import NpsSurvey


@dataclass(frozen=True)
class NpsSummary:
    nps: float | None  # None without answers: no score is not a score of 0
    promoters: int
    passives: int
    detractors: int
    answers: int
    shown: int  # questions put in front of the customer: the response rate's denominator
    asked: int  # questions asked, including those nobody saw
    response_rate: float | None  # answers / shown

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""
        return asdict(self)


def nps_of(
    scores: Iterable[int], *, shown: int | None = None, asked: int | None = None
) -> NpsSummary:
    """The NPS of these 0-10 answers; `shown`: how many questions the customers saw (default:
    as many as answers), `asked`: how many were asked (default: as many as shown)."""
    answers = list(scores)
    promoters = sum(1 for s in answers if s >= 9)
    detractors = sum(1 for s in answers if s <= 6)
    shown = len(answers) if shown is None else shown
    if shown < len(answers):
        raise ValueError("every answer was shown: shown >= answers")
    asked = shown if asked is None else asked
    return NpsSummary(
        nps=round(100 * (promoters - detractors) / len(answers), 1) if answers else None,
        promoters=promoters,
        passives=len(answers) - promoters - detractors,
        detractors=detractors,
        answers=len(answers),
        shown=shown,
        asked=asked,
        response_rate=round(len(answers) / shown, 4) if shown else None,
    )


def nps_summary(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> NpsSummary:
    """NPS over the questions asked in [since, until), optionally on one channel."""
    seen = or_(NpsSurvey.shown_at.is_not(None), NpsSurvey.score.is_not(None))
    statement = select(NpsSurvey.score, seen)
    if since is not None:
        statement = statement.where(NpsSurvey.asked_at >= since)
    if until is not None:
        statement = statement.where(NpsSurvey.asked_at < until)
    if channel is not None:
        statement = statement.where(NpsSurvey.channel == channel)
    rows = session.execute(statement).all()
    return nps_of(
        [score for score, _ in rows if score is not None],
        shown=sum(1 for _, was_seen in rows if was_seen),
        asked=len(rows),
    )
