"""nps_shown: when an NPS question was put in front of the customer (the response rate's
denominator), apart from when it was asked (a resolution nobody was watching asks too)

Revision ID: 0012
Revises: 0011

Existing rows: an answered question was seen (when it was answered); a Slack question was
posted with the rating buttons (when it was asked). An unanswered widget question may or may not
have been seen: it stays unknown (NULL) and out of the denominator.
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nps_surveys") as batch:
        batch.add_column(
            sa.Column("shown_at", bot.storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    surveys = sa.table(
        "nps_surveys",
        sa.column("shown_at"),
        sa.column("asked_at"),
        sa.column("answered_at"),
        sa.column("score"),
        sa.column("channel"),
    )
    op.execute(
        surveys.update()
        .where(surveys.c.score.is_not(None))
        .values(shown_at=sa.func.coalesce(surveys.c.answered_at, surveys.c.asked_at))
    )
    op.execute(
        surveys.update()
        .where(surveys.c.score.is_(None), surveys.c.channel == "slack")
        .values(shown_at=surveys.c.asked_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("nps_surveys") as batch:
        batch.drop_column("shown_at")
