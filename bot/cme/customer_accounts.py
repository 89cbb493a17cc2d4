"""B2B accounts for CMEs: the customers of one company (a verified identity's
`data-customer-company`) rolled up, with the account's health (the mean of its members', stored
by bot.cme.recompute), its "why" and trend, how many members are at risk, and the members."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select

from bot.cme.customer_schemas import (
    AccountDetail,
    AccountSummary,
    HealthComponentView,
    HealthPointView,
    HealthView,
)
from bot.cme.customers import TREND_POINTS, summaries
from bot.runtime import Bot
from bot.storage import AccountHealth, Customer, HealthPoint, NotFound

MEMBERS_LIMIT = 500


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _rollup() -> Any:
    """Members per company, with tier counts: one grouped query over customers."""
    return (
        select(
            Customer.company.label("company"),
            func.count().label("members"),
            func.sum(case((Customer.health_tier == "at_risk", 1), else_=0)).label("at_risk"),
            func.sum(case((Customer.health_tier == "watch", 1), else_=0)).label("watch"),
            func.sum(case((Customer.vip.is_(True), 1), else_=0)).label("vip"),
            func.max(Customer.last_seen_at).label("last_seen_at"),
        )
        .where(Customer.company.is_not(None))
        .group_by(Customer.company)
        .subquery()
    )


def _summary(row: Any) -> AccountSummary:
    return AccountSummary(
        company=row.company,
        members=row.members,
        scored=row.scored or 0,
        score=None if row.score is None else round(row.score, 1),
        tier=row.tier,
        at_risk=int(row.at_risk or 0),
        watch=int(row.watch or 0),
        vip=int(row.vip or 0),
        last_seen_at=_iso(row.last_seen_at),
        computed_at=_iso(row.computed_at),
    )


def _accounts(*, company: str | None, at_risk: bool) -> Any:
    members = _rollup()
    statement = select(
        members,
        AccountHealth.customers.label("scored"),
        AccountHealth.score.label("score"),
        AccountHealth.tier.label("tier"),
        AccountHealth.at.label("computed_at"),
    ).outerjoin(AccountHealth, AccountHealth.company == members.c.company)
    if company is not None:
        statement = statement.where(members.c.company == company)
    if at_risk:
        statement = statement.where(members.c.at_risk > 0)
    return statement.order_by(
        # The accounts in most trouble first: most members at risk, then the lowest health.
        members.c.at_risk.desc(),
        AccountHealth.score.asc().nulls_last(),
        members.c.company,
    )


def list_accounts(bot: Bot, *, at_risk: bool, limit: int, offset: int) -> list[AccountSummary]:
    """Accounts, those with the most members at risk and then the lowest health first;
    `at_risk`: only accounts with at least one member at risk."""
    with bot.db.read() as session:
        rows = session.execute(_accounts(company=None, at_risk=at_risk).limit(limit).offset(offset))
        return [_summary(row) for row in rows]


def account_detail(bot: Bot, company: str) -> AccountDetail:
    """One account: its health with why and trend, and its members, lowest health first."""
    now = bot.clock()
    with bot.db.read() as session:
        row = session.execute(_accounts(company=company, at_risk=False)).first()
        if row is None:
            raise NotFound(f"no customer belongs to the account {company!r}")
        summary = _summary(row)
        stored = session.get(AccountHealth, company)
        trend = session.scalars(
            select(HealthPoint)
            .where(
                HealthPoint.company == company,
                HealthPoint.customer_id.is_(None),
                HealthPoint.at >= now - timedelta(days=TREND_POINTS),
            )
            .order_by(HealthPoint.at, HealthPoint.id)
        ).all()
        since = now - timedelta(days=bot.settings.health_trend_days)
        then = next((p.score for p in trend if p.at >= since), None)
        components = stored.components if stored is not None else []
        members = session.scalars(
            select(Customer)
            .where(Customer.company == company)
            .order_by(Customer.health_score.asc().nulls_last(), Customer.id)
            .limit(MEMBERS_LIMIT)
        ).all()
        return AccountDetail(
            account=summary,
            health=HealthView(
                score=summary.score,
                tier=summary.tier,
                drop=round(then - stored.score, 1)
                if stored is not None and then is not None
                else None,
                computed_at=summary.computed_at,
                # An account's score is its members' mean population plus its components.
                population=round(stored.score - sum(c["contribution"] for c in components), 1)
                if stored is not None
                else None,
                why=[HealthComponentView(**c) for c in components],
                trend=[
                    HealthPointView(at=p.at.isoformat(), score=round(p.score, 1), tier=p.tier)
                    for p in trend
                ],
            ),
            members=summaries(session, members),
            members_limit=MEMBERS_LIMIT,
        )
