"""Email, when SUPPORTBOT_SMTP_HOST is set: a CME's reply also goes to the address a web
customer left (or signed in with), and a resolved conversation's transcript on request.

Mail is sent by one background task through `smtplib` (in a thread); a reply is queued inside
the transaction that stored it, as Slack's outbox is, but in memory: a crash before sending
loses that copy of the reply, never the reply in the chat.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.schemas import CONVERSATION_ID_PATTERN, FollowUpEmail
from bot.settings import Settings
from bot.storage import Conflict, Conversation, Message, Role, User, store
from escalation import Status

__all__ = ["EmailHooks", "Mailer", "install", "transcript_text"]

log = logging.getLogger(__name__)

WEB = "web"
SEND_TIMEOUT_S = 20


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer:
    """A queue of mails and the task that sends them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.outbox: queue.SimpleQueue[Mail] = queue.SimpleQueue()

    def enqueue(self, mail: Mail) -> None:
        """Queue a mail; safe from any thread."""
        self.outbox.put(mail)

    def send_now(self, mail: Mail) -> None:
        """Send one mail over SMTP (blocking)."""
        s = self.settings
        message = EmailMessage()
        message["From"] = s.smtp_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SEND_TIMEOUT_S) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username:
                smtp.login(s.smtp_username, s.smtp_password)
            smtp.send_message(message)

    async def run(self) -> None:
        """Send queued mail until cancelled; a failed send is logged and retried once, then
        dropped (the reply itself is in the chat)."""
        while True:
            try:
                mail = self.outbox.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.2)
                continue
            for attempt in (1, 2):
                try:
                    await asyncio.to_thread(self.send_now, mail)
                    break
                except (OSError, smtplib.SMTPException) as exc:
                    log.warning("mail to a customer failed (attempt %d): %s", attempt, exc)
                    await asyncio.sleep(2)


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
            Mail(
                to=conversation.customer_email,
                subject=f"{name} replied to your question",
                body=f"{name} replied:\n\n{message.text}\n\n"
                f"You can also reply in the chat on {settings.public_url}.\n",
            )
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

    def work() -> Mail:
        with bot.db.write() as session:
            conversation = store.authorize(
                session, conversation_id=conversation_id, token=credentials.credentials
            )
            if conversation.status != Status.RESOLVED:
                raise Conflict("a transcript is sent once the conversation is resolved")
            if conversation.id in request.app.state.transcripts_sent:
                raise Conflict("this conversation's transcript has already been sent")
            to = str(body.email) if body and body.email else conversation.customer_email
            if not to:
                raise HTTPException(422, 'no email address: send {"email": ...}')
            messages = list(store.list_messages(session, conversation_id=conversation.id))
            users = [session.get(User, m.author_id) for m in messages if m.author_id]
            authors = {user.id: user.name for user in users if user is not None}
            request.app.state.transcripts_sent.add(conversation.id)
            return Mail(
                to=to,
                subject="Your conversation with our support team",
                body=transcript_text(messages, bot_name=bot.settings.bot_name, authors=authors),
            )

    mail = await run_in_threadpool(work)
    mailer.enqueue(mail)
    return TranscriptOut(email=mail.to)


def install(app: FastAPI, bot: Bot) -> None:
    """Send CME replies and transcripts by email (SMTP_HOST set)."""
    mailer = Mailer(bot.settings)
    app.state.mailer = mailer
    app.state.transcripts_sent = set()
    bot.hooks.append(EmailHooks(mailer))
    bot.background.append(mailer.run)
    app.include_router(router)
