"""Storage: the tables, the database (SQLite or PostgreSQL, migrated by Alembic) and the store
functions, which are keyword-only, flush, and never commit: their callers own transactions."""

from bot.storage.db import Database
from bot.storage.models import (
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    Base,
    CmePresence,
    Conversation,
    Csat,
    Escalation,
    Feedback,
    Message,
    OutcomeExample,
    OutcomeSource,
    Role,
    SavedReply,
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
    "MAX_EMAIL_CHARS",
    "MAX_NAME_CHARS",
    "Base",
    "CmePresence",
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
    "SavedReply",
    "StoreError",
    "Unauthorized",
    "User",
    "utcnow",
]
