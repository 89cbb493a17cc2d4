"""Live events: the topics, the one place their payloads are built, and the bus that fans them
out to sockets (behind one small interface: `LocalEventBus` in one process, `RedisEventBus` in
`bot.cluster` when several instances serve one deployment).

Topics: `conversation:{id}` carries what the customer may see (messages, status, typing);
`agent:{id}` carries what a CME sees of one conversation (also notes, scores, VIP); `console`
carries queue changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol

from bot.schemas import MessageOut
from bot.storage.models import Message, Role
from escalation import Status

log = logging.getLogger(__name__)

QUEUE_TOPIC = "console"  # the CMEs' queue view


def conversation_topic(conversation_id: str) -> str:
    """Topic of one conversation's customer-visible events."""
    return f"conversation:{conversation_id}"


def agent_topic(conversation_id: str) -> str:
    """Topic of one conversation's CME-side events (includes notes and scores)."""
    return f"agent:{conversation_id}"


# -- payloads ----------------------------------------------------------------------------------


def message_event(message: Message, *, author: str | None = None) -> dict[str, Any]:
    """A new message, in the shape customers see it (REST and widget socket alike); `author`
    names the CME of a reply announced after its transaction."""
    shown = MessageOut.of(message, author=author)
    return {"type": "message", "message": shown.model_dump(mode="json")}


def note_event(note: Message) -> dict[str, Any]:
    """A CME's internal note: it never reaches customers, so it has no customer-facing shape."""
    return {
        "type": "message",
        "message": {
            "seq": note.seq,
            "role": note.role,
            "text": note.text,
            "created_at": note.created_at.isoformat(),
            "author_id": note.author_id,
        },
    }


def typing_event(who: Literal["bot", "agent"], on: bool) -> dict[str, Any]:
    """Shown as a typing indicator in the widget."""
    return {"type": "typing", "who": who, "on": on}


def status_event(
    status: Status, *, owner_id: int | None | Literal[False] = False
) -> dict[str, Any]:
    """The conversation's handoff status; CMEs also get its owner (`owner_id` given)."""
    event: dict[str, Any] = {"type": "status", "status": status.value}
    if owner_id is not False:
        event["owner_id"] = owner_id
    return event


def scores_event(seq: int, scores: dict[str, Any]) -> dict[str, Any]:
    """A customer turn's sentiment and frustration with their signals, for the console."""
    return {"type": "scores", "seq": seq, "scores": scores}


def vip_event(vip: bool) -> dict[str, Any]:
    """The customer was marked or unmarked VIP."""
    return {"type": "vip", "vip": vip}


def csat_event(rating: int, comment: str | None) -> dict[str, Any]:
    """The customer rated the conversation (stars and comment), for the console."""
    return {"type": "csat", "rating": rating, "comment": comment}


def feedback_event(seq: int, helpful: bool) -> dict[str, Any]:
    """The customer marked a bot answer helpful or not (thumbs), for the console."""
    return {"type": "feedback", "seq": seq, "helpful": helpful}


def erased_event() -> dict[str, Any]:
    """The conversation was erased: whoever holds its messages drops them."""
    return {"type": "erased"}


async def announce_erasure(bus: EventBus, conversation_ids: list[str]) -> None:
    """Tell every socket on erased conversations (and the queue) that they are gone."""
    for conversation_id in conversation_ids:
        await bus.publish(conversation_topic(conversation_id), erased_event())
        await bus.publish(agent_topic(conversation_id), erased_event())
        await bus.publish(QUEUE_TOPIC, queue_event("changed", conversation_id))


def queue_event(kind: Literal["escalated", "changed"], conversation_id: str) -> dict[str, Any]:
    """Something changed about a conversation's place in the CME queue."""
    return {"type": kind, "conversation_id": conversation_id}


async def announce_message(
    bus: EventBus, conversation_id: str, message: Message, *, author: str | None = None
) -> None:
    """Publish a new message to CMEs, and to the customer unless it is an internal note."""
    if message.role == Role.NOTE:
        await bus.publish(agent_topic(conversation_id), note_event(message))
        return
    event = message_event(message, author=author)
    await bus.publish(conversation_topic(conversation_id), event)
    await bus.publish(agent_topic(conversation_id), event)


# -- the bus -------------------------------------------------------------------------------------


class EventBus(Protocol):
    async def start(self) -> None:
        """Connect, before the first publish or subscribe."""
        ...

    async def close(self) -> None:
        """Disconnect; subscribers' iterators end, so they resync."""
        ...

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Send an event to every current subscriber of `topic`."""
        ...

    def subscribe(self, topic: str) -> Any:
        """An async context manager yielding an async iterator of events."""
        ...


class LocalEventBus:
    """In-process fan-out with one bounded queue per subscriber.

    A subscriber that falls behind loses its queue and is closed; clients then resume from
    their last sequence number over REST, so nothing is lost.
    """

    def __init__(self, max_queue: int = 1000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)
        self._max_queue = max_queue

    async def start(self) -> None:
        """Nothing to connect in process."""

    async def close(self) -> None:
        """End every subscriber's iterator."""
        self.close_all()

    def close_all(self) -> None:
        """End every subscriber's iterator: they resync from the database."""
        for topic in list(self._subscribers):
            for queue in self._subscribers.pop(topic, ()):
                _close(queue)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("subscriber on %s fell behind; closing it", topic)
                self._subscribers[topic].discard(queue)
                _close(queue)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._max_queue)
        self._subscribers[topic].add(queue)

        async def events() -> AsyncIterator[dict[str, Any]]:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event

        try:
            yield events()
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    self._subscribers.pop(topic, None)


def _close(queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)
