"""Event fan-out to live sockets, behind one small interface so it can move to Redis later."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

QUEUE_TOPIC = "console"  # the CMEs' queue view


def conversation_topic(conversation_id: str) -> str:
    """Topic of one conversation's customer-visible events."""
    return f"conversation:{conversation_id}"


def agent_topic(conversation_id: str) -> str:
    """Topic of one conversation's CME-side events (includes notes and scores)."""
    return f"agent:{conversation_id}"


class EventBus(Protocol):
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

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(topic, ())):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("subscriber on %s fell behind; closing it", topic)
                self._subscribers[topic].discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)

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
            self._subscribers[topic].discard(queue)
            if not self._subscribers[topic]:
                self._subscribers.pop(topic, None)
