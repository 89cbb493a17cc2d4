"""conversation_insights: per-conversation facts for the insight dashboard; reopen timing;
indexes for the same customer's conversations and for changed conversations

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_DATETIME = bot.storage.models.UTCDateTime(timezone=True)
# The covering index's columns, as they are at this revision (not imported: models change).
INSIGHT_WINDOW_COLUMNS = (
    "started_at",
    "channel",
    "counted",
    "day",
    "confirmed",
    "assumed",
    "durable",
    "ended_not_found",
    "escalated",
    "human_involved",
    "resolved",
    "csat",
    "frustration_peak",
    "hour_of_week",
    "first_response_s",
    "sla_met",
)


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened_after_s", sa.Float(), nullable=True))
    op.create_index("ix_conversations_customer", "conversations", ["customer_id", "created_at"])
    op.create_index("ix_conversations_updated", "conversations", ["updated_at"])
    op.create_table(
        "conversation_insights",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("ended_at", UTC_DATETIME, nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("bot_answered", sa.Boolean(), nullable=False),
        sa.Column("ended_not_found", sa.Boolean(), nullable=False),
        sa.Column("human_involved", sa.Boolean(), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("assumed", sa.Boolean(), nullable=False),
        sa.Column("durable", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("escalated_at", UTC_DATETIME, nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("first_response_s", sa.Float(), nullable=True),
        sa.Column("sla_met", sa.Boolean(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("frustration_peak", sa.Float(), nullable=True),
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("recheck_at", UTC_DATETIME, nullable=True),
        sa.Column("source_updated_at", UTC_DATETIME, nullable=False),
        sa.Column("computed_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index(
        "ix_conversation_insights_window", "conversation_insights", list(INSIGHT_WINDOW_COLUMNS)
    )
    op.create_index("ix_conversation_insights_recheck", "conversation_insights", ["recheck_at"])


def downgrade() -> None:
    op.drop_table("conversation_insights")
    op.drop_index("ix_conversations_updated", table_name="conversations")
    op.drop_index("ix_conversations_customer", table_name="conversations")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("reopened_after_s")
