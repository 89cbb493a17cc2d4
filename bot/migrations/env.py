"""Alembic environment: always run with a connection handed in by bot.db.upgrade."""

from alembic import context

from bot.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by bot.db
    raise RuntimeError("run migrations through bot.db.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
