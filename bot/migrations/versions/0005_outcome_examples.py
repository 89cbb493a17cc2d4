"""outcome_examples: labelled queries learnt from outcomes (thumbs, escalations, CME replies)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_examples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kb", sa.String(length=200), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("article_id", sa.String(length=300), nullable=True),
        sa.Column("article_version", sa.String(length=400), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("polarity", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("message_seq", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kb", "conversation_id", "message_seq", name="uq_outcome_question"),
    )
    op.create_index("ix_outcome_examples_kb", "outcome_examples", ["kb", "created_at"])
    op.create_index("ix_outcome_examples_customer", "outcome_examples", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_outcome_examples_customer", table_name="outcome_examples")
    op.drop_index("ix_outcome_examples_kb", table_name="outcome_examples")
    op.drop_table("outcome_examples")
