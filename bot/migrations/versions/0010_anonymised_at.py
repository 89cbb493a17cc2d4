"""conversations.anonymised_at: retention strips a conversation and keeps its row for aggregates

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(
            sa.Column("anonymised_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("anonymised_at")
