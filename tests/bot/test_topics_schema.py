"""Migration 0008 creates exactly what the models declare for topics, alerts and messages."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.storage import Base, Database

OURS = {"topics", "alerts", "messages"}


def _table(diff) -> str | None:
    for part in diff if isinstance(diff, tuple) else diff[0]:
        if isinstance(part, str) and part in OURS:
            return part
        table = getattr(part, "table", None)
        for name in (getattr(table, "name", None), getattr(part, "name", None)):
            if name in OURS:
                return name
    return None


def test_migration_matches_the_models(database_url) -> None:
    database = Database(database_url)
    database.migrate()
    try:
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = [d for d in compare_metadata(context, Base.metadata) if _table(d)]
        assert differences == []
    finally:
        database.dispose()
