"""`supportbot bench health`: a full health recompute over many generated customers.

The generated history is realistic in shape (a few conversations per customer over six months,
customer turns with frustration scores, bot declines, escalations, CSAT and NPS answers) and
is inserted in bulk (COPY on PostgreSQL), so only the recompute itself is timed."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cme.recompute import recompute
from bot.settings import Settings
from bot.storage import (
    Conversation,
    Csat,
    Customer,
    Database,
    Escalation,
    Message,
    NpsSurvey,
    Role,
    utcnow,
)
from bot.storage.bulk import insert_rows
from escalation import Status


@dataclass(frozen=True)
class BenchResult:
    customers: int
    conversations: int
    messages: int
    seed_seconds: float
    recompute_seconds: float
    per_customer_ms: float
    database: str


def seed(db: Database, *, customers: int, now: datetime, rng: random.Random) -> tuple[int, int]:
    """Insert `customers` customers with their histories; (conversations, messages) inserted."""
    conversations = messages = 0
    batch = 500
    for start in range(0, customers, batch):
        customer_rows, conversation_rows, message_rows = [], [], []
        escalation_rows, csat_rows, nps_rows = [], [], []
        for index in range(start, min(customers, start + batch)):
            customer_id = index + 1
            customer_rows.append(
                {
                    "id": customer_id,
                    "external_id": f"bench-{customer_id}",
                    "company": f"company-{customer_id % 500}",
                    "vip": False,
                    "created_at": now - timedelta(days=200),
                    "last_seen_at": now,
                    "health_components": [],
                    "health_stale": True,
                }
            )
            for _ in range(rng.randint(1, 8)):
                conversation_id = uuid.uuid4().hex
                started = now - timedelta(days=rng.uniform(0, 190))
                resolved = rng.random() < 0.85
                conversation_rows.append(
                    {
                        "id": conversation_id,
                        "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                        "channel": "web",
                        "customer_id": f"bench-{customer_id}",
                        "customer_verified": True,
                        "vip": False,
                        "status": Status.RESOLVED if resolved else Status.BOT,
                        "last_seq": 0,
                        "bot_since_seq": 0,
                        "created_at": started,
                        "updated_at": started,
                        "resolved_at": started if resolved else None,
                        "customer_ref": customer_id,
                        "resolutions": (1 + (rng.random() < 0.05)) if resolved else 0,
                    }
                )
                turns = rng.randint(1, 4)
                for turn in range(turns):
                    frustration = round(rng.betavariate(1.5, 5), 3)
                    message_rows.append(
                        {
                            "conversation_id": conversation_id,
                            "seq": 2 * turn + 1,
                            "role": Role.CUSTOMER,
                            "text": "How do I export my data?",
                            "created_at": started,
                            "citations": [],
                            "scores": {"frustration": frustration, "anger": 0.0, "signals": []},
                        }
                    )
                    declined = rng.random() < 0.1
                    message_rows.append(
                        {
                            "conversation_id": conversation_id,
                            "seq": 2 * turn + 2,
                            "role": Role.BOT,
                            "text": "Here is how.",
                            "created_at": started,
                            "reply_to": 2 * turn + 1,
                            "citations": [],
                            "decision": {
                                "action": "clarify" if declined else "answer",
                                "reasons": [],
                            },
                        }
                    )
                if rng.random() < 0.15:
                    escalation_rows.append(
                        {"conversation_id": conversation_id, "reasons": [], "created_at": started}
                    )
                if resolved and rng.random() < 0.3:
                    csat_rows.append(
                        {
                            "conversation_id": conversation_id,
                            "resolution": 1,
                            "rating": rng.randint(1, 5),
                            "created_at": started,
                        }
                    )
                conversations += 1
                messages += 2 * turns
            if rng.random() < 0.3:
                asked = now - timedelta(days=rng.uniform(0, 180))
                nps_rows.append(
                    {
                        "customer_id": customer_id,
                        "channel": "web",
                        "asked_at": asked,
                        "score": rng.randint(0, 10),
                        "answered_at": asked,
                    }
                )
        with db.write() as session:
            for model, rows in (
                (Customer, customer_rows),
                (Conversation, conversation_rows),
                (Message, message_rows),
                (Escalation, escalation_rows),
                (Csat, csat_rows),
                (NpsSurvey, nps_rows),
            ):
                insert_rows(session, model.__table__, rows)
    return conversations, messages


def run(settings: Settings, *, customers: int, seed_value: int = 15) -> BenchResult:
    """Seed an empty database and time one full recompute."""
    db = Database(settings.database_url)
    try:
        db.migrate()
        now = utcnow()
        started = time.perf_counter()
        conversations, messages = seed(
            db, customers=customers, now=now, rng=random.Random(seed_value)
        )
        seeded = time.perf_counter() - started
        report = recompute(db, settings, now=now)
        return BenchResult(
            customers=report.customers,
            conversations=conversations,
            messages=messages,
            seed_seconds=round(seeded, 2),
            recompute_seconds=round(report.seconds, 2),
            per_customer_ms=round(1000 * report.seconds / max(1, report.customers), 3),
            database=db.engine.dialect.name,
        )
    finally:
        db.dispose()
