"""The event bus of a deployment with several instances: events go through Redis pub/sub, so a
socket on one instance hears what another instance published.

Every instance holds one pattern subscription to all of the deployment's topics and fans events
out to its own subscribers in process (`LocalEventBus`), so subscribing costs no round trip and
an instance's subscription is live before any of its sockets attaches. Pub/sub delivers each
event at most once: when the connection drops, events may be lost, so every local subscriber is
closed and resyncs from the database (widget sockets reconnect and resume by sequence number,
the console refetches), just as when a subscriber falls behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.cluster.redis import connect, key
from bot.events import LocalEventBus

log = logging.getLogger(__name__)

RECONNECT_WAIT_S = 1.0
MAX_RECONNECT_WAIT_S = 30.0
SUBSCRIBE_TIMEOUT_S = 10.0


class RedisUnavailable(ConnectionError):
    """Redis did not answer when the instance started; the message names the URL's host."""


class RedisEventBus:
    """`EventBus` over Redis pub/sub, with in-process fan-out to this instance's subscribers."""

    def __init__(self, url: str, *, prefix: str, max_queue: int = 1000) -> None:
        self._url = url
        self._prefix = prefix
        self._channel_prefix = key(prefix, "events") + ":"  # then the topic
        self._pattern = self._channel_prefix + "*"
        self._local = LocalEventBus(max_queue)
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect and subscribe; raises RedisUnavailable when Redis does not answer."""
        self._client = connect(self._url, name=key(self._prefix, "bus"))
        try:
            pubsub = await self._subscribe()
        except (RedisError, OSError) as exc:
            await self._client.aclose()
            raise RedisUnavailable(f"Redis at {_host(self._url)} did not answer: {exc}") from exc
        self._reader = asyncio.create_task(self._read_forever(pubsub), name="redis-event-bus")

    async def close(self) -> None:
        """Stop listening; local subscribers are told to resync."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self._local.close_all()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Send an event to the subscribers of `topic` on every instance (this one included)."""
        if self._client is None:
            raise RuntimeError("the Redis event bus is not started")
        try:
            await self._client.publish(self._channel_prefix + topic, json.dumps(event, default=str))
        except (RedisError, OSError) as exc:
            # The change is committed; sockets that miss it catch up from the database on their
            # next event or reconnect.
            log.warning("could not publish %s on %s: %s", event.get("type"), topic, exc)

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """An async context manager yielding this instance's events on `topic`."""
        return self._local.subscribe(topic)

    async def _subscribe(self) -> aioredis.client.PubSub:
        assert self._client is not None
        pubsub = self._client.pubsub()
        await pubsub.psubscribe(self._pattern)
        # Wait for the confirmation: from here on, every publication reaches this instance.
        if await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S) is None:
            await pubsub.aclose()
            raise ConnectionError("Redis did not confirm the subscription")
        return pubsub

    async def _read_forever(self, pubsub: aioredis.client.PubSub) -> None:
        wait = RECONNECT_WAIT_S
        while True:
            try:
                await self._pump(pubsub)
            except (RedisError, OSError) as exc:
                log.warning("Redis event bus lost its connection: %s; reconnecting", exc)
            self._local.close_all()  # events may have been lost: every subscriber resyncs
            await pubsub.aclose()
            while True:
                await asyncio.sleep(wait)
                try:
                    pubsub = await self._subscribe()
                except (RedisError, OSError) as exc:
                    wait = min(wait * 2, MAX_RECONNECT_WAIT_S)
                    log.warning("Redis event bus still unreachable: %s", exc)
                    continue
                wait = RECONNECT_WAIT_S
                self._local.close_all()  # those who subscribed during the outage resync too
                log.info("Redis event bus reconnected")
                break

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        async for message in pubsub.listen():
            if message["type"] == "psubscribe":
                # redis-py reconnected and subscribed again on its own: events may be missing.
                log.warning("Redis event bus resubscribed; subscribers resync")
                self._local.close_all()
                continue
            if message["type"] != "pmessage":
                continue
            topic = message["channel"][len(self._channel_prefix) :]
            try:
                event = json.loads(message["data"])
            except ValueError:
                log.warning("ignored a malformed event on %s", message["channel"])
                continue
            await self._local.publish(topic, event)
        raise ConnectionError("the subscription ended")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"
