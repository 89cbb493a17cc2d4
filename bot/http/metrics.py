"""/metrics for operators, in Prometheus' text format (names prefixed `supportbot_`).

The process's counters and histograms (turns, latency, escalations, embedding batches) are kept
in `bot.metrics`; the gauges here are read from the database and the knowledge base at scrape
time. /metrics needs `Authorization: Bearer <METRICS_TOKEN>` and is off when that is empty."""

from __future__ import annotations

import hmac
import time
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sqlalchemy import func, select, text

from bot.runtime import Bot
from bot.storage import Conversation, Escalation
from escalation import Status

router = APIRouter(include_in_schema=False)


def _gauges(bot: Bot) -> bytes:
    registry = CollectorRegistry(auto_describe=True)

    def gauge(name: str, documentation: str, value: float) -> None:
        Gauge(name, documentation, registry=registry).set(value)

    now = bot.clock()
    target = now - timedelta(seconds=bot.settings.sla_first_response_s)
    with bot.db.read() as session:
        waiting = session.scalar(select(func.count()).where(Conversation.status == Status.WAITING))
        breached = session.scalar(
            select(func.count()).where(
                Escalation.closed_at.is_(None),
                Escalation.first_response_at.is_(None),
                Escalation.created_at < target,
            )
        )
        backlog = session.scalar(text("SELECT count(*) FROM slack_outbox WHERE status = 'pending'"))
    gauge("supportbot_queue_length", "Conversations waiting for a person", waiting or 0)
    gauge(
        "supportbot_sla_breaches",
        "Open escalations without a first human reply past SLA_FIRST_RESPONSE_S",
        breached or 0,
    )
    gauge(
        "supportbot_slack_outbox_backlog",
        "Slack messages stored but not yet delivered",
        backlog or 0,
    )
    gauge("supportbot_kb_articles", "Articles the knowledge base serves", len(bot.kb.articles()))
    files = [p for p in bot.settings.index_dir.rglob("*") if p.is_file()]
    if files:
        age = time.time() - max(p.stat().st_mtime for p in files)
        gauge("supportbot_kb_index_age_seconds", "Seconds since the KB index was last written", age)
    return generate_latest(registry)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics, for a scraper holding METRICS_TOKEN."""
    bot: Bot = request.app.state.bot
    token = bot.settings.metrics_token
    if not token:
        return PlainTextResponse("/metrics is off: set SUPPORTBOT_METRICS_TOKEN", status_code=404)
    sent = request.headers.get("authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return PlainTextResponse(
            "send Authorization: Bearer <METRICS_TOKEN>",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    body = generate_latest(bot.metrics.registry) + await run_in_threadpool(_gauges, bot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
