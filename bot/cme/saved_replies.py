"""Saved replies: a CME's own short replies and the team's, managed in the console. Store
functions (keyword-only, flush, never commit) and who may change what."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.storage import Forbidden, NotFound, SavedReply, utcnow

# What `{...}` a saved reply may use; the console fills them in from the open conversation.
VARIABLES = ("customer.name", "customer.first_name", "customer.email", "agent.name")


def list_saved(session: Session, *, user_id: int) -> Sequence[SavedReply]:
    """The team's replies and this CME's own, team first, then by title."""
    return session.scalars(
        select(SavedReply)
        .where(or_(SavedReply.owner_id.is_(None), SavedReply.owner_id == user_id))
        .order_by(SavedReply.owner_id.is_not(None), SavedReply.title, SavedReply.id)
    ).all()


def save_reply(
    session: Session,
    *,
    user_id: int,
    title: str,
    text: str,
    team: bool,
    reply_id: int | None = None,
    is_admin: bool = False,
) -> SavedReply:
    """Create a reply (personal, or the team's), or change one the CME may change. Anyone may
    edit a team reply, but only its author or an admin may take it from the team (personal)."""
    if reply_id is None:
        reply = SavedReply(
            owner_id=None if team else user_id, author_id=user_id, title=title, text=text
        )
        session.add(reply)
    else:
        reply = _changeable(session, reply_id=reply_id, user_id=user_id)
        if reply.owner_id is None and not team and reply.author_id != user_id and not is_admin:
            raise Forbidden("only its author or an admin may make a team reply personal")
        reply.title, reply.text, reply.updated_at = title, text, utcnow()
        reply.owner_id = None if team else user_id
    session.flush()
    return reply


def delete_reply(session: Session, *, reply_id: int, user_id: int) -> None:
    """Delete a team reply, or one of the CME's own."""
    session.delete(_changeable(session, reply_id=reply_id, user_id=user_id))
    session.flush()


def _changeable(session: Session, *, reply_id: int, user_id: int) -> SavedReply:
    reply = session.get(SavedReply, reply_id)
    if reply is None:
        raise NotFound(f"saved reply {reply_id} does not exist")
    if reply.owner_id is not None and reply.owner_id != user_id:
        raise Forbidden("this saved reply is another CME's own")
    return reply
