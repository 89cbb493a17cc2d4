"""The console's live socket: the fresh queue on every queue event (and every few seconds),
plus the events of the conversation the CME has open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskGroup
from fastapi import WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from bot.cme.context import queue
from bot.events import QUEUE_TOPIC, agent_topic
from bot.runtime import Bot

QUEUE_REFRESH_S = 15.0  # waits and SLA timers change even when nothing is published
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GONE = (WebSocketDisconnect, OSError, RuntimeError)  # the browser went away mid-send


class LiveFeed:
    """One console socket: the fresh queue on every queue event (and every few seconds), plus
    the events of the conversation the CME has open.

    The client sends {"type": "watch", "conversation_id": ...} (or null to stop); the server
    answers {"type": "watching", ...} once subscribed, then forwards
    {"type": "conversation", "conversation_id": ..., "event": ...}.
    """

    def __init__(self, bot: Bot, websocket: WebSocket, *, user_id: int | None = None) -> None:
        self.bot = bot
        self.websocket = websocket
        self.user_id = user_id  # whose unread counts the queue carries
        self._send_lock = anyio.Lock()
        self._queue_dirty = asyncio.Event()
        self._tasks: TaskGroup | None = None
        self._watch: anyio.CancelScope | None = None

    async def run(self) -> None:
        """Serve the socket until the browser leaves."""
        self._queue_dirty.set()
        gone = False
        try:
            async with self.bot.bus.subscribe(QUEUE_TOPIC) as events:
                async with anyio.create_task_group() as tasks:
                    self._tasks = tasks
                    tasks.start_soon(self._until_done, self._listen, events)
                    tasks.start_soon(self._until_done, self._push_queue)
                    tasks.start_soon(self._until_done, self._receive)
        except* GONE:
            gone = True  # the browser went away
        if not gone and self.websocket.client_state == WebSocketState.CONNECTED:
            # The queue subscription fell behind: the client reconnects and resyncs.
            with contextlib.suppress(*GONE):
                await self.websocket.close(code=1012)

    async def _until_done(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        assert self._tasks is not None
        try:
            await work(*args)
        finally:
            self._tasks.cancel_scope.cancel()

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message))

    async def _listen(self, events: AsyncIterator[dict[str, Any]]) -> None:
        async for _ in events:
            self._queue_dirty.set()

    async def _push_queue(self) -> None:
        while True:
            with anyio.move_on_after(QUEUE_REFRESH_S):
                await self._queue_dirty.wait()
            self._queue_dirty.clear()
            rows = await run_in_threadpool(partial(queue, self.bot, user_id=self.user_id))
            conversations = [row.model_dump(mode="json") for row in rows]
            await self._send({"type": "queue", "conversations": conversations})

    async def _receive(self) -> None:
        while True:
            try:
                message = json.loads(await self.websocket.receive_text())
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("type") == "watch":
                self._switch(message.get("conversation_id"))

    def _switch(self, conversation_id: object) -> None:
        assert self._tasks is not None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if isinstance(conversation_id, str) and CONVERSATION_ID.match(conversation_id):
            self._watch = anyio.CancelScope()
            self._tasks.start_soon(self._forward, conversation_id, self._watch)

    async def _forward(self, conversation_id: str, scope: anyio.CancelScope) -> None:
        with scope:
            while True:  # a subscription that fell behind ends; "watching" makes the client refetch
                async with self.bot.bus.subscribe(agent_topic(conversation_id)) as events:
                    await self._send({"type": "watching", "conversation_id": conversation_id})
                    async for event in events:
                        wrapped = {"conversation_id": conversation_id, "event": event}
                        await self._send({"type": "conversation", **wrapped})
