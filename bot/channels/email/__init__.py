"""Email, when SUPPORTBOT_SMTP_HOST is set: a CME's reply also goes to the address a web
customer left (or signed in with), and a resolved conversation's transcript on request.

Each mail is a row of the durable outbox (`outbox.py`), written inside the transaction that
stored the reply or accepted the request, and sent by one background job with backoff: a crash
or an SMTP outage delays a mail, never loses it.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.email.outbox import Mail, Mailer, MailOptions
from bot.runtime import Bot
from bot.schemas import CONVERSATION_ID_PATTERN, FollowUpEmail
from bot.storage import Conflict, Conversation, EmailOutbox, Message, Role, User, store
from escalation import Status

__all__ = ["EmailHooks", "Mail", "MailOptions", "Mailer", "erase", "install", "transcript_text"]

log = logging.getLogger(__name__)

WEB = "web"


class EmailHooks:
    """Queues a copy of each CME reply to a web customer whose address we know."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """A CME's reply to a web customer with an address also goes by email."""
        if message.role != Role.AGENT or conversation.channel != WEB:
            return
        if not conversation.customer_email:
            return
        author = session.get(User, message.author_id) if message.author_id else None
        name = author.name if author else "Our support team"
        settings = self.mailer.settings
        self.mailer.enqueue(
            session,
            dedupe_key=f"reply:{message.id}",
            conversation_id=conversation.id,
            to=conversation.customer_email,
            subject=f"{name} replied to your question",
            body=f"{name} replied:\n\n{message.text}\n\n"
            f"You can also reply in the chat on {settings.public_url}.\n",
        )

    def escalated(self, session: Session, conversation: Conversation, escalation: object) -> None:
        """Nothing to send when a conversation is queued."""

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """Nothing to send on a status change."""


def transcript_text(messages: list[Message], *, bot_name: str, authors: dict[int, str]) -> str:
    """What the customer saw, one turn after another, as plain text."""
    lines = []
    for message in messages:
        if message.role == Role.NOTE:
            continue
        who = {
            Role.CUSTOMER: "You",
            Role.BOT: bot_name,
            Role.AGENT: authors.get(message.author_id or 0, "Support team"),
            Role.SYSTEM: "—",
        }.get(Role(message.role), str(message.role))
        when = message.created_at.strftime("%Y-%m-%d %H:%M")
        lines.append(f"[{when}] {who}:\n{message.text}\n")
    return "\n".join(lines)


class TranscriptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: FollowUpEmail | None = None


class TranscriptOut(BaseModel):
    email: str


bearer = HTTPBearer(auto_error=False, scheme_name="ConversationToken")
router = APIRouter(prefix="/api/conversations", tags=["customer"])


@router.post("/{conversation_id}/transcript", response_model=TranscriptOut)
async def email_transcript(
    conversation_id: Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN, max_length=64)],
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    body: TranscriptIn | None = None,
) -> TranscriptOut:
    """Email the resolved conversation's transcript, once, to `email` or the address we have."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(401, "missing bearer token: send Authorization: Bearer <token>")
    bot: Bot = request.app.state.bot
    mailer: Mailer = request.app.state.mailer

    def work() -> str:
        with bot.db.write() as session:
            conversation = store.authorize(
                session, conversation_id=conversation_id, token=credentials.credentials
            )
            if conversation.status != Status.RESOLVED:
                raise Conflict("a transcript is sent once the conversation is resolved")
            key = f"transcript:{conversation.id}"
            if session.scalar(select(EmailOutbox.id).where(EmailOutbox.dedupe_key == key)):
                raise Conflict("this conversation's transcript has already been sent")
            to = str(body.email) if body and body.email else conversation.customer_email
            if not to:
                raise HTTPException(422, 'no email address: send {"email": ...}')
            messages = list(store.list_messages(session, conversation_id=conversation.id))
            users = [session.get(User, m.author_id) for m in messages if m.author_id]
            authors = {user.id: user.name for user in users if user is not None}
            mailer.enqueue(
                session,
                dedupe_key=key,
                conversation_id=conversation.id,
                to=to,
                subject="Your conversation with our support team",
                body=transcript_text(messages, bot_name=bot.settings.bot_name, authors=authors),
            )
            return to

    try:
        to = await run_in_threadpool(work)
    except IntegrityError as exc:  # the same request, twice at once: one row wins
        raise Conflict("this conversation's transcript has already been sent") from exc
    return TranscriptOut(email=to)


def erase(session: Session, customer_id: str, conversation_ids: list[str]) -> dict[str, int]:
    """Queued and sent mail of these conversations (addresses and texts) goes with them."""
    if not conversation_ids:
        return {"email_outbox": 0}
    removed = session.execute(
        delete(EmailOutbox).where(EmailOutbox.conversation_id.in_(conversation_ids))
    ).rowcount
    return {"email_outbox": removed}


def install(app: FastAPI, bot: Bot) -> None:
    """Send CME replies and transcripts by email (SMTP_HOST set)."""
    mailer = Mailer(bot.db, bot.settings)
    app.state.mailer = mailer
    bot.hooks.append(EmailHooks(mailer))
    bot.jobs.append(mailer.run)  # one sender per deployment (and claims keep several apart)
    app.include_router(router)
