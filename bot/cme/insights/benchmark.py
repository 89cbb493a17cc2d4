"""`supportbot bench insights`: the dashboard's queries over a large database.

Generates `conversations` conversations (about 10 messages each) straight into the tables with
bulk inserts, builds the facts rollup, then times each dashboard query over random date windows
and channel filters: no result cache, every call runs its SQL. Reports p50/p95/max per query."""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text

from bot.cme.insights.definitions import percentile
from bot.cme.insights.queries import DASHBOARD, Window, drill_down
from bot.cme.insights.rollup import refresh
from bot.cme.insights.synthetic import Traffic, write
from bot.storage import Conversation, Database, Message
from escalation import OfficeHours

log = logging.getLogger(__name__)

WINDOW_DAYS = (1, 7, 30, 90, 365)
DRILLS = ("confirmed", "escalated&reason=frustration", "frustration=high", "sla_missed")
TARGET_P95_MS = 500.0


def _progress(message: str) -> None:
    print(f"bench insights: {message}", file=sys.stderr, flush=True)


def populate(
    db: Database, *, conversations: int, days: int, padding: int, seed: int, end: datetime
) -> dict[str, float]:
    """Bulk-insert synthetic traffic unless the database already holds it; build the rollup."""
    with db.read() as session:
        existing = session.scalar(select(func.count()).select_from(Conversation)) or 0
    took: dict[str, float] = {}
    if existing < conversations:
        started = time.perf_counter()
        traffic = Traffic(
            start=end - timedelta(days=days), end=end, customers=conversations // 3, seed=seed
        )
        made = existing
        for batch in traffic.batches(conversations - existing, padding=padding, size=2000):
            write(db, batch)
            made += len(batch)
            if made % 10_000 < 2000:
                _progress(f"{made:,} conversations written")
        took["insert_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        _progress("building the facts rollup")
        refresh(db, now=end, hours=OfficeHours.parse("", "UTC"), sla_s=300, similarity=0.6)
        took["rollup_s"] = round(time.perf_counter() - started, 1)
    # Planner statistics, and on PostgreSQL the visibility map that index-only scans need
    # (autovacuum does both in a running deployment).
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE" if db.is_sqlite else "VACUUM ANALYZE"))
    return took


def time_queries(
    db: Database, *, runs: int, start: datetime, end: datetime, seed: int
) -> dict[str, dict[str, float]]:
    """Each dashboard query `runs` times over random windows; milliseconds p50/p95/max."""
    rng = random.Random(seed)
    queries: dict[str, Callable[[Any, Window], Any]] = dict(DASHBOARD)
    for drill in DRILLS:
        queries[f"drill:{drill}"] = lambda session, w, d=drill: drill_down(session, w, d, limit=100)
    timings: dict[str, list[float]] = {name: [] for name in queries}
    span = (end - start).days
    for _ in range(runs):
        days = rng.choice(WINDOW_DAYS)
        first = start + timedelta(days=rng.randrange(max(1, span - days + 1)))
        window = Window(
            first, first + timedelta(days=days), rng.choice((None, None, "web", "slack"))
        )
        for name, query in queries.items():
            with db.read() as session:
                began = time.perf_counter()
                query(session, window)
                timings[name].append((time.perf_counter() - began) * 1000)
    return {
        name: {
            "p50_ms": round(percentile(values, 50) or 0, 1),
            "p95_ms": round(percentile(values, 95) or 0, 1),
            "max_ms": round(max(values), 1),
        }
        for name, values in timings.items()
    }


def benchmark_insights(
    database_url: str,
    *,
    conversations: int = 100_000,
    days: int = 365,
    padding: int = 4,
    runs: int = 40,
    seed: int = 3,
) -> dict[str, Any]:
    """Populate (once) and time the dashboard's queries; the report as a dict."""
    db = Database(database_url)
    try:
        db.migrate()
        end = datetime(2026, 11, 1, tzinfo=UTC)
        took = populate(
            db, conversations=conversations, days=days, padding=padding, seed=seed, end=end
        )
        with db.read() as session:
            counts = {
                "conversations": session.scalar(select(func.count()).select_from(Conversation)),
                "messages": session.scalar(select(func.count()).select_from(Message)),
            }
        _progress(f"timing {runs} random windows per query")
        queries = time_queries(db, runs=runs, start=end - timedelta(days=days), end=end, seed=seed)
        worst = max(q["p95_ms"] for q in queries.values())
        return {
            "database": db.engine.dialect.name,
            **counts,
            **took,
            "runs_per_query": runs,
            "window_days": list(WINDOW_DAYS),
            "queries": queries,
            "worst_p95_ms": worst,
            "target_p95_ms": TARGET_P95_MS,
            "passed": worst <= TARGET_P95_MS,
        }
    finally:
        db.dispose()
