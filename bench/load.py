"""The load: N conversations at once, each posting its next message as soon as the bot answered
the last (a closed loop), over REST or with the reply read from the widget's WebSocket."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import websockets

from bench.texts import conversation_script

TRANSPORTS = ("rest", "ws")


@dataclass
class LoadResult:
    """What the clients saw: one latency per finished turn, errors by kind."""

    transport: str
    conversations: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    answered: int = 0  # turns that got a bot reply (the bot ran retrieval for them)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def turns(self) -> int:
        return len(self.latencies_ms)

    def to_dict(self) -> dict[str, Any]:
        latencies = np.asarray(self.latencies_ms or [0.0])
        p50, p95, p99 = (float(np.percentile(latencies, q)) for q in (50, 95, 99))
        return {
            "transport": self.transport,
            "conversations": self.conversations,
            "turns": self.turns,
            "seconds": round(self.seconds, 2),
            "msgs_per_s": round(self.turns / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "p99_ms": round(p99, 1),
            "max_ms": round(float(latencies.max()), 1),
            "retrieval_share": round(self.answered / self.turns, 3) if self.turns else 0.0,
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
        }


@dataclass
class _Budget:
    """Stops the run after `messages` turns in all, or at `deadline`, whichever comes first."""

    messages: int | None
    deadline: float
    sent: int = 0

    def take(self) -> bool:
        if time.monotonic() >= self.deadline:
            return False
        if self.messages is not None and self.sent >= self.messages:
            return False
        self.sent += 1
        return True


class _Progress:
    """A one-line progress display on stderr."""

    def __init__(self, label: str, result: LoadResult, every: float = 1.0) -> None:
        self.label, self.result, self.every = label, result, every
        self.started = self.last = time.monotonic()

    def tick(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.started
        rate = self.result.turns / elapsed if elapsed else 0.0
        errors = sum(self.result.errors.values())
        line = f"\r{self.label}: {self.result.turns} turns, {rate:.1f} msg/s, {errors} errors"
        print(line, end="\n" if final else "", file=sys.stderr, flush=True)


async def run_load(
    url: str,
    *,
    transport: str,
    conversations: int,
    seconds: float,
    messages: int | None = None,
    turns_per_conversation: int = 6,
    seed: int = 0,
    label: str = "",
) -> LoadResult:
    """Drive `conversations` concurrent chats for `seconds` (or `messages` turns in all)."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
    result = LoadResult(transport=transport, conversations=conversations)
    budget = _Budget(messages, time.monotonic() + seconds)
    progress = _Progress(label or f"{transport} x{conversations}", result)
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: reusing one the server
    # is closing at that moment fails with a ReadError that no customer would see (browsers retry).
    limits = httpx.Limits(
        max_connections=conversations + 4,
        max_keepalive_connections=conversations,
        keepalive_expiry=2.0,
    )
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        started = time.monotonic()
        chats = [
            _chat(
                client,
                url,
                transport,
                budget,
                result,
                progress,
                random.Random(seed + number),
                turns_per_conversation,
            )
            for number in range(conversations)
        ]
        await asyncio.gather(*chats)
        result.seconds = time.monotonic() - started
    progress.tick(final=True)
    return result


async def _chat(
    client: httpx.AsyncClient,
    url: str,
    transport: str,
    budget: _Budget,
    result: LoadResult,
    progress: _Progress,
    rng: random.Random,
    turns: int,
) -> None:
    """One simulated customer: conversation after conversation until the budget runs out."""
    while budget.messages is None or budget.sent < budget.messages:
        if time.monotonic() >= budget.deadline:
            return
        try:
            response = await client.post("/api/conversations", json={})
        except httpx.HTTPError as exc:
            result.errors[f"create:{type(exc).__name__}"] += 1
            await asyncio.sleep(0.1)
            continue
        if response.status_code != 201:
            result.errors[f"create:{response.status_code}"] += 1
            await asyncio.sleep(0.1)
            continue
        created = response.json()
        script = conversation_script(rng, turns)
        if transport == "rest":
            await _rest_turns(client, created, script, budget, result, progress)
        else:
            await _socket_turns(client, url, created, script, budget, result, progress)


async def _post(
    client: httpx.AsyncClient, created: dict[str, Any], text: str, result: LoadResult
) -> dict[str, Any] | None:
    try:
        response = await client.post(
            f"/api/conversations/{created['id']}/messages",
            json={"text": text},
            headers={"Authorization": f"Bearer {created['token']}"},
        )
    except httpx.HTTPError as exc:
        result.errors[f"post:{type(exc).__name__}"] += 1
        return None
    if response.status_code != 200:
        result.errors[f"post:{response.status_code}"] += 1
        return None
    return response.json()


async def _rest_turns(
    client: httpx.AsyncClient,
    created: dict[str, Any],
    script: list[str],
    budget: _Budget,
    result: LoadResult,
    progress: _Progress,
) -> None:
    for text in script:
        if not budget.take():
            return
        started = time.perf_counter()
        turn = await _post(client, created, text, result)
        if turn is None:
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.answered += turn["reply"] is not None
        progress.tick()


async def _socket_turns(
    client: httpx.AsyncClient,
    url: str,
    created: dict[str, Any],
    script: list[str],
    budget: _Budget,
    result: LoadResult,
    progress: _Progress,
) -> None:
    """As the widget does: post over REST, see the bot's reply arrive on the socket."""
    socket_url = url.replace("http", "ws", 1).rstrip("/") + f"/ws/conversations/{created['id']}"
    try:
        async with websockets.connect(
            socket_url, origin=url.rstrip("/"), open_timeout=30, max_size=2**20
        ) as socket:
            await socket.send(json.dumps({"type": "hello", "token": created["token"], "after": 0}))
            welcome = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if welcome.get("type") != "welcome":
                result.errors[f"ws:{welcome.get('code', 'no-welcome')}"] += 1
                return
            for text in script:
                if not budget.take():
                    return
                started = time.perf_counter()
                posting = asyncio.create_task(_post(client, created, text, result))
                reply = await _await_reply(socket, posting)
                turn = await posting
                if turn is None:
                    continue
                if turn["reply"] is not None and reply is None:
                    result.errors["ws:reply-missing"] += 1
                    continue
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.answered += turn["reply"] is not None
                progress.tick()
    except (OSError, websockets.WebSocketException, TimeoutError) as exc:
        result.errors[f"ws:{type(exc).__name__}"] += 1


async def _await_reply(socket: Any, posting: asyncio.Task[Any]) -> dict[str, Any] | None:
    """The bot's message event, read from the socket; None when the turn gets no reply (a
    human has the chat) or the post failed."""
    while True:
        if posting.done():
            turn = posting.result()
            if turn is None or turn["reply"] is None:
                return None
            frame = await asyncio.wait_for(socket.recv(), 30)
        else:
            receiving = asyncio.ensure_future(socket.recv())
            await asyncio.wait({receiving, posting}, return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()  # the post answered first; read on below
                continue
            frame = receiving.result()
        event = json.loads(frame)
        message = event.get("message") if event.get("type") == "message" else None
        if message is not None and message.get("role") == "bot":
            return message
