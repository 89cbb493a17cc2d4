"""CME accounts: argon2-hashed passwords and per-user API tokens (stored as SHA-256)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.storage import Conflict, User
from bot.storage.store import hash_token

_hasher = PasswordHasher()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    slack_user_id: str | None = None,
    is_admin: bool = False,
) -> tuple[User, str]:
    """Create a CME (a console admin with `is_admin`) and return it with a fresh API token
    (shown once)."""
    email = email.strip().lower()
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise Conflict(f"a user with email {email} already exists")
    token = secrets.token_urlsafe(32)
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=_hasher.hash(password),
        api_token_hash=hash_token(token),
        slack_user_id=slack_user_id,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user, token


def user_for_token(session: Session, *, token: str) -> User | None:
    """The CME owning this API token, if any."""
    return session.scalars(select(User).where(User.api_token_hash == hash_token(token))).first()


def user_for_login(session: Session, *, email: str, password: str) -> User | None:
    """The CME with this email and password, if both match."""
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def user_for_session(session: Session, *, user_id: int, version: int) -> User | None:
    """The CME a console session belongs to, unless they signed out after it was issued."""
    user = session.get(User, user_id)
    return user if user is not None and user.session_version == version else None


def end_sessions(session: Session, *, user_id: int) -> None:
    """Sign a CME out of every console session issued so far (a new sign-in starts afresh)."""
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )


def user_for_slack(session: Session, *, slack_user_id: str) -> User | None:
    """The CME linked to a Slack user id, if any."""
    return session.scalars(select(User).where(User.slack_user_id == slack_user_id)).first()


def list_users(session: Session) -> list[User]:
    """Every CME, by id."""
    return list(session.scalars(select(User).order_by(User.id)))
