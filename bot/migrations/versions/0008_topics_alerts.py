"""topics and alerts: messages.embedding_model and topic_id, the topics and alerts tables

Revision ID: 0008
Revises: 0007 (the lead re-chains it after 0006/0007)
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("embedding_model", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("topic_id", sa.Integer(), nullable=True))
    op.create_index("ix_messages_topic", "messages", ["topic_id", "created_at"])
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("article_id", sa.String(length=300), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("customers", sa.JSON(), nullable=False),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alerts_kind_topic", "alerts", ["kind", "topic_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_kind_topic", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("topics")
    op.drop_index("ix_messages_topic", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("topic_id")
        batch.drop_column("embedding_model")
