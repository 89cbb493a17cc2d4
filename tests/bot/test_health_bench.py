"""`supportbot bench health` at a small size: the bulk seeding (COPY on PostgreSQL) writes what
the recompute then scores, on SQLite and PostgreSQL (no timing targets here)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.cme import health_bench
from bot.storage import AccountHealth, Conversation, Customer, Database, Message
from tests.utils import make_settings


def test_bench_health_seeds_and_scores_every_customer(tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    result = health_bench.run(settings, customers=120)
    assert result.customers == 120 and result.conversations >= 120
    assert result.messages >= 2 * result.conversations
    database = Database(database_url)
    try:
        with database.read() as session:
            assert session.scalar(select(func.count()).select_from(Conversation)) == (
                result.conversations
            )
            assert session.scalar(select(func.count()).select_from(Message)) == result.messages
            scored = session.scalar(
                select(func.count())
                .select_from(Customer)
                .where(Customer.health_score.is_not(None), Customer.health_stale.is_(False))
            )
            assert scored == 120
            assert session.scalar(select(func.count()).select_from(AccountHealth)) > 0
    finally:
        database.dispose()
