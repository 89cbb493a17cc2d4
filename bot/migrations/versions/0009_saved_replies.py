"""saved_replies (personal and team canned replies with variables) and cme_presence (CME
availability for automatic assignment)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_saved_replies_owner", "saved_replies", ["owner_id"], unique=False)
    op.create_table(
        "cme_presence",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_seen_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_assigned_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("teams", sa.String(length=400), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("cme_presence")
    op.drop_index("ix_saved_replies_owner", table_name="saved_replies")
    op.drop_table("saved_replies")
