"""Per-conversation socket state for the web widget: what each widget socket is fed.

A `Feed` exists while a widget socket is attached to its conversation: one bus subscription,
the customer-visible messages seen since it started, the status and who is typing. Sockets
attach with the last seq they saw and get what they missed, then live events: every message
once, in seq order. The feed outlives its last socket by `forget_after_s`, so a quick
reconnect is served from memory; after that it is forgotten and the next socket's backlog
comes from the database.

Ordering: the bus may deliver two messages out of seq order (two writers finishing at once),
but seq N+1 is only committed after seq N, so a gap in what the feed has seen is filled from
the database before the later message goes out. Clients can therefore resume from the highest
seq they received.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bot.events import conversation_topic
from bot.runtime import Bot
from bot.schemas import MessageOut
from bot.storage import store

log = logging.getLogger(__name__)

TYPING_STALE_S = 20.0  # a typing indicator nobody switched off is not shown on reconnect


@dataclass(frozen=True)
class Welcome:
    """What a socket missed: messages after its `after`, the status and who is typing."""

    status: str
    messages: list[dict[str, Any]]
    typing: dict[str, bool]
    resumed: bool  # True when served from memory, False when read from the database


@dataclass(eq=False)
class Feed:
    conversation_id: str
    token_hash: str = ""
    status: str = ""
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    floor: int = 0  # every customer-visible message with seq > floor is in `messages`
    high: int = 0  # every message with seq <= high has been seen (or was committed before start)
    typing_since: dict[str, float] = field(default_factory=dict)
    listeners: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    failure: Exception | None = None
    task: asyncio.Task[None] | None = None
    forget: asyncio.TimerHandle | None = None

    def typing(self) -> dict[str, bool]:
        """Who is typing now; an indicator nobody switched off expires after a while."""
        now = time.monotonic()
        return {who: now - since < TYPING_STALE_S for who, since in self.typing_since.items()}


class Feeds:
    """The feeds of one process, keyed by conversation id."""

    def __init__(
        self, bot: Bot, *, forget_after_s: float, max_buffer: int = 200, max_queue: int = 500
    ) -> None:
        self.bot = bot
        self.forget_after_s = forget_after_s
        self.max_buffer = max_buffer
        self.max_queue = max_queue
        self.stats: Counter[str] = Counter()  # started, from_memory, from_database, forgotten
        self._feeds: dict[str, Feed] = {}

    def has(self, conversation_id: str) -> bool:
        """Whether the server still remembers this conversation's sockets."""
        return conversation_id in self._feeds

    async def attach(
        self, conversation_id: str, *, token: str, after: int
    ) -> tuple[Welcome, asyncio.Queue[dict[str, Any] | None]]:
        """Check `token`, then return the backlog after `after` and a queue of live events.

        Raises store.NotFound or store.Forbidden. A None in the queue means the feed closed
        and the socket should reconnect.
        """
        feed = self._feeds.get(conversation_id)
        if feed is None:
            feed = Feed(conversation_id)
            self._feeds[conversation_id] = feed
            self.stats["started"] += 1
            feed.task = asyncio.create_task(self._run(feed), name=f"widget-feed:{conversation_id}")
        await feed.ready.wait()
        if feed.failure is not None:
            raise feed.failure
        if not hmac.compare_digest(feed.token_hash, store.hash_token(token)):
            self._forget_later(feed)  # a feed started for a wrong token must not linger
            raise store.Forbidden("this token does not grant access to this conversation")

        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self.max_queue)
        feed.listeners.add(queue)  # before reading the backlog, so nothing falls in between
        if feed.forget is not None:
            feed.forget.cancel()
            feed.forget = None
        if after >= feed.floor:
            self.stats["from_memory"] += 1
            backlog = [message for seq, message in sorted(feed.messages.items()) if seq > after]
            return Welcome(feed.status, backlog, feed.typing(), resumed=True), queue

        self.stats["from_database"] += 1
        try:
            backlog = await asyncio.to_thread(self._read_messages, conversation_id, after)
        except BaseException:
            self.detach(conversation_id, queue)
            raise
        for message in backlog:
            feed.messages.setdefault(message["seq"], message)
        feed.floor = min(feed.floor, after)
        self._trim(feed)
        return Welcome(feed.status, backlog, feed.typing(), resumed=False), queue

    def detach(self, conversation_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """A socket went away; forget the feed `forget_after_s` after its last socket."""
        feed = self._feeds.get(conversation_id)
        if feed is None or queue not in feed.listeners:
            return
        feed.listeners.discard(queue)
        self._forget_later(feed)

    async def run(self) -> None:
        """Live until the app stops, then close every feed (a Bot background task)."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop every feed; attached sockets are told to reconnect."""
        tasks = [feed.task for feed in self._feeds.values() if feed.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, feed: Feed) -> None:
        try:
            async with self.bot.bus.subscribe(conversation_topic(feed.conversation_id)) as events:
                await asyncio.to_thread(self._load, feed)
                feed.ready.set()
                async for event in events:
                    await self._apply(feed, event)
                log.info(
                    "widget feed %s was dropped by the bus; sockets will reconnect",
                    feed.conversation_id,
                )
        except (store.NotFound, store.Forbidden) as exc:
            feed.failure = exc
        except asyncio.CancelledError:
            feed.failure = feed.failure or ConnectionResetError("the widget feed is shutting down")
            raise
        except Exception as exc:
            log.exception("widget feed for %s failed", feed.conversation_id)
            feed.failure = ConnectionResetError(f"the widget feed failed: {exc}")
        finally:
            if feed.failure is None:
                feed.failure = ConnectionResetError("the widget feed closed")
            feed.ready.set()
            self._drop(feed)

    def _load(self, feed: Feed) -> None:
        with self.bot.db.read() as session:
            conversation = store.get_conversation(session, conversation_id=feed.conversation_id)
            feed.token_hash = conversation.token_hash
            feed.status = str(conversation.status)
            feed.floor = feed.high = conversation.last_seq

    async def _apply(self, feed: Feed, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message":
            message = event["message"]
            seq = message["seq"]
            if seq <= feed.high:
                return  # already delivered (gap fill) or committed before the feed started
            if seq > feed.high + 1:
                missing = await asyncio.to_thread(
                    self._read_messages, feed.conversation_id, feed.high, seq
                )
                for earlier in missing:
                    self._deliver(feed, earlier)
            self._deliver(feed, message)
        elif kind == "status":
            feed.status = event["status"]
            self._broadcast(feed, event)
        elif kind == "erased":  # drop the buffered messages now; sockets reconnect and get 4404
            feed.messages.clear()
            raise store.NotFound(f"conversation {feed.conversation_id} was erased")
        elif kind == "typing":
            if event.get("on"):
                feed.typing_since[event["who"]] = time.monotonic()
            else:
                feed.typing_since.pop(event["who"], None)
            self._broadcast(feed, event)

    def _deliver(self, feed: Feed, message: dict[str, Any]) -> None:
        feed.high = max(feed.high, message["seq"])
        if message["role"] in ("bot", "agent"):
            feed.typing_since.pop(message["role"], None)
        feed.messages[message["seq"]] = message
        self._trim(feed)
        self._broadcast(feed, {"type": "message", "message": message})

    def _broadcast(self, feed: Feed, event: dict[str, Any]) -> None:
        for queue in list(feed.listeners):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("widget socket on %s fell behind; closing it", feed.conversation_id)
                feed.listeners.discard(queue)
                _close_queue(queue)

    def _trim(self, feed: Feed) -> None:
        if len(feed.messages) <= self.max_buffer:
            return
        for seq in sorted(feed.messages)[: len(feed.messages) - self.max_buffer]:
            del feed.messages[seq]
            feed.floor = max(feed.floor, seq)

    def _forget_later(self, feed: Feed) -> None:
        if not feed.listeners and feed.forget is None:
            loop = asyncio.get_running_loop()
            feed.forget = loop.call_later(self.forget_after_s, self._forget, feed)

    def _forget(self, feed: Feed) -> None:
        feed.forget = None
        if feed.listeners or self._feeds.get(feed.conversation_id) is not feed:
            return
        self.stats["forgotten"] += 1
        self._feeds.pop(feed.conversation_id, None)
        if feed.task is not None:
            feed.task.cancel()

    def _drop(self, feed: Feed) -> None:
        if self._feeds.get(feed.conversation_id) is feed:
            del self._feeds[feed.conversation_id]
        if feed.forget is not None:
            feed.forget.cancel()
        for queue in feed.listeners:
            _close_queue(queue)
        feed.listeners.clear()

    def _read_messages(
        self, conversation_id: str, after: int, before: int | None = None
    ) -> list[dict[str, Any]]:
        with self.bot.db.read() as session:
            messages = store.list_messages(session, conversation_id=conversation_id, after=after)
            return [
                MessageOut.of(message).model_dump(mode="json")
                for message in messages
                if before is None or message.seq < before
            ]


def _close_queue(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
