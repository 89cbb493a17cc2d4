"""The durable mail outbox: each mail is an `email_outbox` row written in the transaction that
caused it, sent over SMTP by a sender task with exponential backoff, until it is sent, refused
for good (a 5xx answer) or out of attempts. A row survives a restart.

Several senders may run (one per instance, if BACKGROUND=here everywhere) and never send one
row twice: a sender claims due rows by pushing their `next_try_at` past a lease, in a write
transaction that takes them `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer at a
time); a crash mid-send leaves the row to be retried when the lease ends.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import event, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.storage import Database, EmailOutbox, MailStatus, utcnow

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 20


@dataclass(frozen=True)
class MailOptions:
    """How the sender paces itself (tests make it fast)."""

    poll_interval_s: float = 2.0
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    max_attempts: int = 10
    # A claimed row is not claimed again before this: longer than an SMTP exchange can take.
    lease_s: float = 4 * SEND_TIMEOUT_S
    batch: int = 20

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt `attempts + 1`: doubling from the base, up to the maximum."""
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(attempts - 1, 0))


@dataclass(frozen=True)
class Mail:
    """A claimed row, detached from its session."""

    id: int
    to: str
    subject: str
    body: str


class Mailer:
    """Queues mail (inside the caller's transaction) and sends it."""

    def __init__(self, db: Database, settings: Settings, options: MailOptions | None = None):
        self.db = db
        self.settings = settings
        self.options = options or MailOptions()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # -- queueing: runs in the caller's transaction ----------------------------------------------

    def enqueue(
        self,
        session: Session,
        *,
        dedupe_key: str,
        to: str,
        subject: str,
        body: str,
        conversation_id: str | None = None,
    ) -> EmailOutbox:
        """Add a mail in `session`'s transaction (IntegrityError if `dedupe_key` was queued
        before); the sender wakes on commit."""
        now = utcnow()
        row = EmailOutbox(
            conversation_id=conversation_id,
            dedupe_key=dedupe_key,
            to_address=to,
            subject=subject,
            body=body,
            status=MailStatus.PENDING,
            attempts=0,
            next_try_at=now,
            created_at=now,
        )
        session.add(row)
        session.flush()
        if not session.info.get("email_outbox_wake"):
            session.info["email_outbox_wake"] = True
            event.listen(session, "after_commit", lambda _session: self.wake(), once=True)
        return row

    def wake(self) -> None:
        """Make the sender look for due mail now (safe from any thread)."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- sending ---------------------------------------------------------------------------------

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
        """Background job: send due mail until cancelled, woken by new rows or polling."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            self._wake.clear()
            try:
                while await self.send_due():
                    pass
            except SQLAlchemyError:  # the database is away: rows wait for it
                log.exception("email outbox scan failed; retrying")
            waiting = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiting}, timeout=self.options.poll_interval_s)
            finally:
                waiting.cancel()

    async def send_due(self) -> int:
        """Claim a batch of due mail and send it; the number claimed."""
        batch = await asyncio.to_thread(self.claim)
        for mail in batch:
            try:
                await asyncio.to_thread(self.send_now, mail)
            except (OSError, smtplib.SMTPException, ValueError) as exc:
                # A 5xx answer or a mail that cannot be written (ValueError: a header Python
                # cannot encode) will not go on a retry; a connection or 4xx problem may.
                permanent = isinstance(exc, ValueError) or (
                    isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
                )
                if isinstance(exc, smtplib.SMTPRecipientsRefused):
                    permanent = all(code >= 500 for code, _ in exc.recipients.values())
                await asyncio.to_thread(self._failed, mail.id, str(exc), permanent)
                continue
            await asyncio.to_thread(self._sent, mail.id)
        return len(batch)

    # -- transactions ----------------------------------------------------------------------------

    def claim(self) -> list[Mail]:
        """Lease up to a batch of due rows to this sender (skipping rows another holds)."""
        now = utcnow()
        with self.db.write() as session:
            rows = session.scalars(
                select(EmailOutbox)
                .where(EmailOutbox.status == MailStatus.PENDING, EmailOutbox.next_try_at <= now)
                .order_by(EmailOutbox.id)
                .limit(self.options.batch)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.attempts += 1
                row.next_try_at = now + timedelta(seconds=self.options.lease_s)
            return [Mail(row.id, row.to_address, row.subject, row.body) for row in rows]

    def _sent(self, row_id: int) -> None:
        with self.db.write() as session:
            row = session.get(EmailOutbox, row_id)
            if row is not None:
                row.status, row.sent_at, row.error = MailStatus.SENT, utcnow(), None

    def _failed(self, row_id: int, error: str, permanent: bool) -> None:
        with self.db.write() as session:
            row = session.get(EmailOutbox, row_id)
            if row is None:  # erased meanwhile
                return
            row.error = error[:2000]
            if permanent or row.attempts >= self.options.max_attempts:
                row.status = MailStatus.FAILED
                log.error("mail #%d given up after %d attempts: %s", row_id, row.attempts, error)
                return
            delay = self.options.backoff(row.attempts)
            row.next_try_at = utcnow() + timedelta(seconds=delay)
            log.warning(
                "mail #%d failed (attempt %d): %s; retrying in %.0fs",
                row_id,
                row.attempts,
                error,
                delay,
            )
