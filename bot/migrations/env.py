"""Alembic environment: always run with a connection handed in by bot.storage.db.upgrade.

Migrations sit above everything that declares tables, so the metadata here is complete: the
core tables (bot.storage.models) and the Slack channel's (bot.channels.slack.models).
"""

from alembic import context

import bot.channels.slack.models  # noqa: F401 - registers the Slack tables on Base.metadata
from bot.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by bot.storage.db
    raise RuntimeError("run migrations through bot.storage.db.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
