"""Storage: the tables, the database (SQLite or PostgreSQL, migrated by Alembic) and the store
functions, which are keyword-only, flush, and never commit: their callers own transactions."""

from bot.storage.db import Database
from bot.storage.models import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    Alert,
    AlertStatus,
    Base,
    Conversation,
    Csat,
    Escalation,
    Feedback,
    Message,
    OutcomeExample,
    OutcomeSource,
    Role,
    Topic,
    User,
    utcnow,
)
from bot.storage.store import (
    Conflict,
    CustomerIdentity,
    Forbidden,
    NotFound,
    StoreError,
    Unauthorized,
)

__all__ = [
    "Alert",
    "AlertStatus",
    "Topic",
    "MAX_EMAIL_CHARS",
    "MAX_NAME_CHARS",
    "Base",
    "Conflict",
    "Conversation",
    "Csat",
    "CustomerIdentity",
    "Database",
    "Escalation",
    "Feedback",
    "Forbidden",
    "Message",
    "NotFound",
    "OutcomeExample",
    "OutcomeSource",
    "Role",
    "StoreError",
    "Unauthorized",
    "User",
    "utcnow",
]
