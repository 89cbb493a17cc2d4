"""The event inbox: each Events API delivery is recorded (unique on event_id and on the Slack
message) before the ack, then worked on after it; pending rows survive a crash.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot import conversation as conversations
from bot.channels.slack.blocks import NOT_LINKED, from_mrkdwn, split_note
from bot.channels.slack.files import FileImporter
from bot.channels.slack.hooks import CHANNEL
from bot.channels.slack.models import EventStatus, Side, SlackEvent, SlackThread
from bot.channels.slack.options import SlackOptions
from bot.channels.slack.outbox import error_name, finish_before_cancel
from bot.channels.slack.routing import Route, RouteKind, message_key, route, split_address
from bot.cme import accounts
from bot.conversation.lifecycle import is_idle
from bot.runtime import Bot
from bot.storage import Conversation, User, store, utcnow
from escalation import HandoffConflict, Status

log = logging.getLogger(__name__)

# A bare mention ("@supportbot") still deserves a greeting.
EMPTY_MENTION_TEXT = "Hi"
NOTE_FILES = "Files shared with a note stay here in Slack; they were not sent to the customer."
NOT_YOUR_THREAD = (
    "This thread is another person's conversation with me. To ask me something yourself, "
    "mention me in a new message of your own."
)


@dataclass(frozen=True)
class Work:
    """An event to work on, as recorded."""

    event_id: str
    payload: dict[str, Any]
    bot_user_id: str | None

    @property
    def event(self) -> dict[str, Any]:
        return self.payload.get("event") or {}


class EventInbox:
    """Records deliveries and turns each recorded event into exactly one pipeline call."""

    def __init__(
        self,
        bot: Bot,
        client: AsyncWebClient,
        options: SlackOptions,
        files: FileImporter | None = None,
    ) -> None:
        self.bot = bot
        self.client = client
        self.options = options
        self.files = files
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- before the ack --------------------------------------------------------------------------

    def record(self, payload: dict[str, Any], bot_user_id: str | None) -> bool:
        """Store a delivery as pending; False when this event or its message was seen before."""
        event = payload.get("event") or {}
        insert = sqlite_insert if self.bot.db.is_sqlite else postgresql_insert
        statement = (
            insert(SlackEvent)
            .values(
                event_id=str(payload["event_id"]),
                message_key=message_key(event),
                event_type=str(event.get("type") or ""),
                payload=payload,
                bot_user_id=bot_user_id,
                status=EventStatus.PENDING,
                attempts=0,
                received_at=utcnow(),
            )
            .on_conflict_do_nothing()
        )
        with self.bot.db.write() as session:
            return session.execute(statement).rowcount == 1

    # -- after the ack ---------------------------------------------------------------------------

    def spawn(self, work: Work) -> None:
        """Work on an event in the background (once per process; the lease covers the rest)."""
        if work.event_id in self._in_flight:
            return
        task = asyncio.create_task(self._process(work), name=f"slack-event:{work.event_id}")
        self._in_flight[work.event_id] = task
        task.add_done_callback(lambda _: self._in_flight.pop(work.event_id, None))

    async def run(self) -> None:
        """Background worker: finish pending events at start-up, then retry failed ones."""
        try:
            while True:
                try:
                    for work in await asyncio.to_thread(self._due):
                        self.spawn(work)
                except SQLAlchemyError:  # the database is away: pending events wait for it
                    log.exception("slack event scan failed; retrying")
                await asyncio.sleep(self.options.event_rescan_s)
        finally:
            tasks = list(self._in_flight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until no event is being worked on in this process (tests use it)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

    async def _process(self, work: Work) -> None:
        target = route(
            work.event,
            bot_user_id=work.bot_user_id,
            cme_channel=self.bot.settings.slack_cme_channel,
        )
        # Messages of one thread are worked on in arrival order (asyncio.Lock is FIFO).
        key = target.address or work.event_id
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()

        async def release(claimed: bool) -> None:
            if claimed:
                await asyncio.to_thread(self._release, work.event_id, None)

        async with lock:
            claim = asyncio.to_thread(self._claim, work.event_id)
            if not await finish_before_cancel(claim, on_cancel=release):
                return
            try:
                status, note = await self._handle(work, target)
            except asyncio.CancelledError:
                await release(True)
                raise
            except Exception as exc:  # any failure: keep the event pending and retry it later
                error_id = uuid.uuid4().hex[:12]
                log.error("slack event %s failed [%s]", work.event_id, error_id, exc_info=exc)
                await asyncio.to_thread(
                    self._release, work.event_id, f"{exc} (error id {error_id})"
                )
                return
            await asyncio.to_thread(self._finish, work.event_id, status, note)

    async def _handle(self, work: Work, target: Route) -> tuple[EventStatus, str | None]:
        match target.kind:
            case RouteKind.IGNORE:
                return EventStatus.IGNORED, target.reason
            case RouteKind.CME_REPLY:
                return await self._relay(work, target)
            case RouteKind.DM | RouteKind.THREAD:
                conversation_id = await self._conversation_for(target)
                if conversation_id is None and target.kind == RouteKind.THREAD and target.mentioned:
                    channel, thread_ts = split_address(target.address or "")
                    await self.tell(
                        channel, target.user or "", NOT_YOUR_THREAD, thread_ts=thread_ts
                    )
                    return EventStatus.IGNORED, "another user's mention in a customer's thread"
                if conversation_id is None:
                    return EventStatus.IGNORED, "not addressed to the app"
                shared = work.event.get("files")
                text = from_mrkdwn(target.text)
                if isinstance(shared, list) and shared and self.files is not None:
                    # Files first: a screenshot and its question arrive as one message.
                    await self.files.import_files(
                        conversation_id=conversation_id,
                        address=target.address or "",
                        message_key=message_key(work.event) or work.event_id,
                        files=shared,
                    )
                    if not text:
                        return EventStatus.DONE, None
                client_msg_id = work.event.get("client_msg_id") or work.event_id
                await conversations.handle_customer_message(
                    self.bot,
                    conversation_id=conversation_id,
                    text=text or EMPTY_MENTION_TEXT,
                    client_msg_id=f"slack:{client_msg_id}",
                )
                return EventStatus.DONE, None
        return EventStatus.IGNORED, f"unknown route {target.kind}"

    # -- customers -------------------------------------------------------------------------------

    async def _conversation_for(self, target: Route) -> str | None:
        """The conversation a customer message belongs to, opening one when it should."""
        found, should_open = await asyncio.to_thread(self._find_conversation, target)
        if found is not None or not should_open:
            return found
        name, email = await self._profile(target.user or "")
        for attempt in range(3):
            try:
                return await asyncio.to_thread(self._open_conversation, target, name, email)
            except IntegrityError:
                # A concurrent delivery opened it first (PostgreSQL); the next attempt finds it.
                if attempt == 2:
                    raise
        return None

    def _find_conversation(self, target: Route) -> tuple[str | None, bool]:
        with self.bot.db.read() as session:
            thread = session.get(SlackThread, target.address)
            conversation = session.get(Conversation, thread.conversation_id) if thread else None
            return self._choose(target, conversation)

    def _open_conversation(
        self, target: Route, name: str | None, email: str | None = None
    ) -> str | None:
        """Re-check under the address's lock row and open a conversation if still needed."""
        now = self.bot.clock()
        with self.bot.db.write() as session:
            thread = session.get(SlackThread, target.address, with_for_update=True)
            conversation = session.get(Conversation, thread.conversation_id) if thread else None
            found, should_open = self._choose(target, conversation)
            if found is not None or not should_open:
                return found
            channel, _ = split_address(target.address or "")
            new, _token = store.create_conversation(
                session,
                channel=CHANNEL,
                channel_ref=target.address,
                # Slack confirms its users' e-mail: a verified key (bot.storage.customers).
                customer=store.CustomerIdentity(
                    id=target.user, name=name, email=email, verified=True
                ),
                reopened_from=conversation.id if conversation is not None else None,
                now=now,
            )
            if thread is None:
                session.add(
                    SlackThread(
                        address=target.address,
                        conversation_id=new.id,
                        side=Side.CUSTOMER,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                thread.conversation_id, thread.updated_at = new.id, now
            session.flush()
            log.info("slack %s opened conversation %s in %s", target.kind, new.id, channel)
            return new.id

    def _choose(self, target: Route, conversation: Conversation | None) -> tuple[str | None, bool]:
        """(existing conversation id, whether to open a new one) for a customer message."""
        if target.kind == RouteKind.DM:
            if conversation is not None and not self._dm_finished(conversation):
                return conversation.id, False
            return None, True
        if conversation is not None:
            # A thread is one customer's conversation: only their messages are turns (another
            # user's words must not be recorded, scored or answered as the customer's).
            if conversation.customer_id == target.user:
                return conversation.id, False
            return None, False
        return None, target.mentioned

    def _dm_finished(self, conversation: Conversation) -> bool:
        """A DM starts a new conversation after resolve, or once it is idle (the idle sweep
        resolves those, but may not have run yet)."""
        return conversation.status == Status.RESOLVED or is_idle(
            self.bot, conversation, self.bot.clock()
        )

    async def _profile(self, user_id: str) -> tuple[str | None, str | None]:
        """The customer's display name and e-mail (the e-mail needs users:read.email)."""
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info for %s failed: %s", user_id, error_name(exc))
            return None, None
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
        )
        email = profile.get("email")
        return name, email if isinstance(email, str) and "@" in email else None

    # -- CMEs ------------------------------------------------------------------------------------

    async def _relay(self, work: Work, target: Route) -> tuple[EventStatus, str | None]:
        """A CME's reply in an escalation thread: to the customer, or an internal `note:`."""
        conversation_id, user = await asyncio.to_thread(
            self._escalation_and_cme, target.address or "", target.user or ""
        )
        if conversation_id is None:
            return EventStatus.IGNORED, "thread is not an escalation"
        channel, thread_ts = split_address(target.address or "")
        if user is None:
            await self.tell(channel, target.user or "", NOT_LINKED, thread_ts=thread_ts)
            return EventStatus.DONE, "unlinked Slack user"
        text, note = split_note(from_mrkdwn(target.text))
        shared = work.event.get("files")
        if isinstance(shared, list) and shared and self.files is not None and not note:
            await self.files.import_files(
                conversation_id=conversation_id,
                address=target.address or "",
                message_key=message_key(work.event) or work.event_id,
                files=shared,
                user=user,
            )
            if not text:
                return EventStatus.DONE, None
        elif isinstance(shared, list) and shared and note:
            await self.tell(channel, target.user or "", NOTE_FILES, thread_ts=thread_ts)
        if not text:
            return EventStatus.IGNORED, "empty reply"
        try:
            await conversations.agent_message(
                self.bot, conversation_id=conversation_id, user=user, text=text, note=note
            )
        except HandoffConflict as exc:
            await self.tell(
                channel,
                user.slack_user_id or "",
                f"Not sent to the customer: {exc}.",
                thread_ts=thread_ts,
            )
            return EventStatus.DONE, str(exc)
        return EventStatus.DONE, None

    def _escalation_and_cme(
        self, thread_address: str, slack_user_id: str
    ) -> tuple[str | None, User | None]:
        with self.bot.db.read() as session:
            thread = session.get(SlackThread, thread_address)
            if thread is None or thread.side != Side.CME:
                return None, None
            return thread.conversation_id, accounts.user_for_slack(
                session, slack_user_id=slack_user_id
            )

    async def tell(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> None:
        """An ephemeral note to one Slack user; best effort, as Slack offers no durable kind."""
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except SlackApiError as exc:
            log.warning("chat.postEphemeral to %s failed: %s", user, error_name(exc))

    # -- transactions ----------------------------------------------------------------------------

    def _due(self) -> list[Work]:
        now = utcnow()
        with self.bot.db.read() as session:
            rows = session.scalars(
                select(SlackEvent)
                .where(
                    SlackEvent.status == EventStatus.PENDING,
                    (SlackEvent.locked_until.is_(None)) | (SlackEvent.locked_until < now),
                )
                .order_by(SlackEvent.id)
                .limit(200)
            ).all()
            return [Work(row.event_id, dict(row.payload), row.bot_user_id) for row in rows]

    def _claim(self, event_id: str) -> bool:
        """Take the event's lease; False when it is done or another worker holds it."""
        now = utcnow()
        with self.bot.db.write() as session:
            row = session.scalars(
                select(SlackEvent).where(SlackEvent.event_id == event_id).with_for_update()
            ).first()
            if row is None or row.status != EventStatus.PENDING:
                return False
            if row.locked_until is not None and row.locked_until > now:
                return False
            row.locked_until = now + timedelta(seconds=self.options.lease_s)
            row.attempts += 1
            return True

    def _finish(self, event_id: str, status: EventStatus, note: str | None) -> None:
        with self.bot.db.write() as session:
            row = session.scalars(select(SlackEvent).where(SlackEvent.event_id == event_id)).one()
            row.status, row.error = status, note
            row.finished_at, row.locked_until = utcnow(), None

    def _release(self, event_id: str, error: str | None) -> None:
        """Back to pending: at once after a shutdown, after a backoff after a failure."""
        with self.bot.db.write() as session:
            row = session.scalars(select(SlackEvent).where(SlackEvent.event_id == event_id)).one()
            if row.status != EventStatus.PENDING:
                return
            if error is None:
                row.locked_until = None
                return
            row.error = error
            if row.attempts >= self.options.event_max_attempts:
                row.status, row.locked_until, row.finished_at = EventStatus.FAILED, None, utcnow()
                log.error("slack event %s gave up after %d attempts", event_id, row.attempts)
            else:
                row.locked_until = utcnow() + timedelta(seconds=self.options.backoff(row.attempts))
