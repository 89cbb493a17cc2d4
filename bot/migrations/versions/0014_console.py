"""console: per-CME read marks (unread counts), console admins, saved replies' authors

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_reads",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "conversation_id",
            sa.String(32),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("last_read_seq", sa.Integer(), nullable=False),
        sa.Column("read_at", bot.storage.models.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversation_reads_conversation", "conversation_reads", ["conversation_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("saved_replies") as batch:
        batch.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_saved_replies_author", "users", ["author_id"], ["id"], ondelete="SET NULL"
        )
    # Personal replies were written by their owner; who wrote an existing team reply is unknown.
    op.execute("UPDATE saved_replies SET author_id = owner_id")


def downgrade() -> None:
    with op.batch_alter_table("saved_replies") as batch:
        batch.drop_constraint("fk_saved_replies_author", type_="foreignkey")
        batch.drop_column("author_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
    op.drop_index("ix_conversation_reads_conversation", table_name="conversation_reads")
    op.drop_table("conversation_reads")
