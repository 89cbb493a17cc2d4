"""customers: one record per customer, linked from every conversation; health, notes, NPS, and
one CSAT per resolution (with a reason for a low rating)

Existing conversations are linked by the rules of bot.storage.customers: a verified web
identity by its id, a Slack conversation by its Slack user, anything else (unverified) gets a
customer of its own, never merged on unverified data.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

import bot.storage.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_DATETIME = bot.storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("slack_user_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("last_seen_at", UTC_DATETIME, nullable=False),
        sa.Column("health_score", sa.Float(), nullable=True),
        sa.Column("health_tier", sa.String(length=16), nullable=True),
        sa.Column("health_components", sa.JSON(), nullable=False),
        sa.Column("health_at", UTC_DATETIME, nullable=True),
        sa.Column("health_drop", sa.Float(), nullable=True),
        sa.Column("health_stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
        sa.UniqueConstraint("slack_user_id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("visitor_id"),
    )
    op.create_index("ix_customers_company", "customers", ["company"])
    op.create_index("ix_customers_stale", "customers", ["health_stale"])
    op.create_table(
        "health_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_health_history_customer", "health_history", ["customer_id", "at"])
    op.create_index("ix_health_history_company", "health_history", ["company", "at"])
    op.create_table(
        "account_health",
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("company"),
    )
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_notes_customer", "customer_notes", ["customer_id", "created_at"])
    op.create_table(
        "nps_surveys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("asked_at", UTC_DATETIME, nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_nps_surveys_customer", "nps_surveys", ["customer_id", "asked_at"])
    op.create_index("ix_nps_surveys_asked", "nps_surveys", ["asked_at"])

    # Added in place, never by a batch rebuild: with SQLite's foreign keys on, dropping the old
    # conversations table would cascade into messages.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE conversations ADD COLUMN customer_ref INTEGER "
            "CONSTRAINT fk_conversations_customer REFERENCES customers (id)"
        )
    else:
        op.add_column("conversations", sa.Column("customer_ref", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_conversations_customer", "conversations", "customers", ["customer_ref"], ["id"]
        )
    op.add_column(
        "conversations",
        sa.Column("resolutions", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_index(
        "ix_conversations_customer_ref", "conversations", ["customer_ref", "created_at"]
    )
    _link_conversations()
    _csat_per_resolution()


def _link_conversations() -> None:
    """Give every existing conversation its customer (see the module docstring)."""
    connection = op.get_bind()
    conversations = sa.table(
        "conversations",
        sa.column("id", sa.String),
        sa.column("channel", sa.String),
        sa.column("customer_id", sa.String),
        sa.column("customer_name", sa.String),
        sa.column("customer_company", sa.String),
        sa.column("customer_verified", sa.Boolean),
        sa.column("vip", sa.Boolean),
        sa.column("created_at", UTC_DATETIME),
        sa.column("updated_at", UTC_DATETIME),
        sa.column("resolved_at", UTC_DATETIME),
        sa.column("customer_ref", sa.Integer),
        sa.column("resolutions", sa.Integer),
    )
    customers = sa.table(
        "customers",
        sa.column("id", sa.Integer),
        sa.column("external_id", sa.String),
        sa.column("slack_user_id", sa.String),
        sa.column("name", sa.String),
        sa.column("company", sa.String),
        sa.column("vip", sa.Boolean),
        sa.column("created_at", UTC_DATETIME),
        sa.column("last_seen_at", UTC_DATETIME),
        sa.column("health_components", sa.JSON),
        sa.column("health_stale", sa.Boolean),
    )
    rows = connection.execute(
        sa.select(conversations).order_by(conversations.c.created_at, conversations.c.id)
    ).all()
    known: dict[tuple[str, str], int] = {}
    for row in rows:
        key = None
        if row.customer_verified and row.customer_id:
            key = ("slack_user_id", row.customer_id)
            if row.channel != "slack":
                key = ("external_id", row.customer_id)
        customer_id = known.get(key) if key else None
        if customer_id is None:
            values = {
                "name": row.customer_name,
                "company": row.customer_company if row.customer_verified else None,
                "vip": bool(row.vip and row.customer_verified),
                "created_at": row.created_at,
                "last_seen_at": row.updated_at,
                "health_components": [],
                "health_stale": True,
            }
            if key:
                values[key[0]] = key[1]
            customer_id = connection.execute(
                sa.insert(customers).values(**values).returning(customers.c.id)
            ).scalar_one()
            if key:
                known[key] = customer_id
        else:  # a later conversation of a verified customer: its details are the latest
            values = {"last_seen_at": row.updated_at}
            if row.customer_name:
                values["name"] = row.customer_name
            if row.customer_company:
                values["company"] = row.customer_company
            if row.vip:
                values["vip"] = True
            connection.execute(
                sa.update(customers).where(customers.c.id == customer_id).values(**values)
            )
        connection.execute(
            sa.update(conversations)
            .where(conversations.c.id == row.id)
            .values(customer_ref=customer_id, resolutions=1 if row.resolved_at else 0)
        )


def _csat_per_resolution() -> None:
    """csat: unique per (conversation, resolution) instead of per conversation, plus a reason.
    Rebuilt rather than altered: the old unique constraint has no portable name."""
    op.create_table(
        "csat_new",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("resolution", sa.Integer(), server_default="1", nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "resolution", name="uq_csat_resolution"),
    )
    op.execute(
        "INSERT INTO csat_new (id, conversation_id, resolution, rating, comment, created_at) "
        "SELECT id, conversation_id, 1, rating, comment, created_at FROM csat"
    )
    op.drop_table("csat")
    op.rename_table("csat_new", "csat")
    if op.get_bind().dialect.name == "postgresql":  # the id sequence continues after the copy
        op.execute(
            "SELECT setval(pg_get_serial_sequence('csat', 'id'), "
            "COALESCE((SELECT MAX(id) FROM csat), 0) + 1, false)"
        )


def downgrade() -> None:
    op.create_table(
        "csat_old",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id"),
    )
    op.execute(  # the first rating of each conversation survives
        "INSERT INTO csat_old (id, conversation_id, rating, comment, created_at) "
        "SELECT id, conversation_id, rating, comment, created_at FROM csat WHERE resolution = 1"
    )
    op.drop_table("csat")
    op.rename_table("csat_old", "csat")
    op.drop_index("ix_conversations_customer_ref", table_name="conversations")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column under a foreign key, and a batch rebuild of conversations
        # would cascade into messages: the two columns stay, unused by the older code.
        op.execute("UPDATE conversations SET customer_ref = NULL")
    else:
        op.drop_constraint("fk_conversations_customer", "conversations", type_="foreignkey")
        op.drop_column("conversations", "resolutions")
        op.drop_column("conversations", "customer_ref")
    op.drop_index("ix_nps_surveys_asked", table_name="nps_surveys")
    op.drop_index("ix_nps_surveys_customer", table_name="nps_surveys")
    op.drop_table("nps_surveys")
    op.drop_index("ix_customer_notes_customer", table_name="customer_notes")
    op.drop_table("customer_notes")
    op.drop_table("account_health")
    op.drop_index("ix_health_history_company", table_name="health_history")
    op.drop_index("ix_health_history_customer", table_name="health_history")
    op.drop_table("health_history")
    op.drop_index("ix_customers_stale", table_name="customers")
    op.drop_index("ix_customers_company", table_name="customers")
    op.drop_table("customers")
