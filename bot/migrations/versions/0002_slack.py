"""slack: event inbox, outbox, thread map

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("message_key", sa.String(length=100), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("bot_user_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        sa.UniqueConstraint("message_key"),
    )
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.create_index("ix_slack_events_status", ["status", "locked_until"], unique=False)

    op.create_table(
        "slack_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thread_key", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slack_outbox_conversation", ["conversation_id", "kind"], unique=False
        )
        batch_op.create_index(
            "ix_slack_outbox_thread", ["status", "thread_key", "id"], unique=False
        )

    op.create_table(
        "slack_threads",
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("address"),
    )
    with op.batch_alter_table("slack_threads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slack_threads_conversation", ["conversation_id", "side"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_threads_conversation")
    op.drop_table("slack_threads")
    with op.batch_alter_table("slack_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_outbox_thread")
        batch_op.drop_index("ix_slack_outbox_conversation")
    op.drop_table("slack_outbox")
    with op.batch_alter_table("slack_events", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_events_status")
    op.drop_table("slack_events")
