"""The Alembic migrations build exactly the tables the models describe, on SQLite and PostgreSQL,
and form one line of revisions (a second head means two features numbered their migrations
without re-chaining)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import bot.channels.slack.models  # noqa: F401  (registers the Slack tables on Base.metadata)
from bot.storage import Base, Database
from bot.storage.db import alembic_config


def test_migrations_form_one_line_of_revisions():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, script.get_heads()


def test_migrated_schema_matches_the_models(database_url):
    database = Database(database_url)
    try:
        database.migrate()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()
