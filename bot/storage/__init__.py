"""Storage: the tables, the database (SQLite or PostgreSQL, migrated by Alembic) and the store
functions, which are keyword-only, flush, and never commit: their callers own transactions."""

from bot.storage.db import Database
from bot.storage.models import (
    Base,
    Conversation,
    Csat,
    Escalation,
    Feedback,
    Message,
    Role,
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
    "Role",
    "StoreError",
    "Unauthorized",
    "User",
    "utcnow",
]
