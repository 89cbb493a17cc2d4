"""Slack test kit: signed requests into the real ASGI app, payload builders, waiting helpers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app import create_app
from bot.channels.slack import SlackOptions
from bot.channels.slack.models import EventStatus, OutboxStatus, SlackEvent, SlackOutbox
from bot.runtime import Bot
from bot.settings import Settings
from embedding import Embedder
from tests.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack
from tests.utils import make_settings

SIGNING_SECRET = "test-signing-secret"
CME_CHANNEL = "C_CME"
# Retry-After: 1 becomes a 20 ms wait; the workers poll fast so tests don't idle.
FAST = SlackOptions(
    retry_after_scale=0.02, poll_interval_s=0.1, event_rescan_s=0.2, backoff_base_s=0.05
)

_ids = itertools.count(1)


def slack_settings(
    tmp_path: Path, database_url: str, fake: FakeSlack, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": "xoxb-test",
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.url,
        "slack_cme_channel": CME_CHANNEL,
    }
    return make_settings(tmp_path, database_url, **(values | overrides))


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Slack's v0 request signature headers for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class SlackApp:
    """A running app (lifespan entered) with an HTTP client that speaks Slack's protocol."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    @property
    def bot(self) -> Bot:
        return self.app.state.bot

    async def deliver(
        self, payload: dict[str, Any], *, retry: int | None = None, **sign_args: Any
    ) -> httpx.Response:
        """POST an Events API payload, signed; `retry` adds Slack's redelivery headers."""
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **sign(body, **sign_args)}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.client.post("/slack/events", content=body, headers=headers)

    async def click(self, payload: dict[str, Any]) -> httpx.Response:
        """POST an interactivity payload (form-encoded `payload=`), signed."""
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
        return await self.client.post("/slack/events", content=body, headers=headers)

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every recorded event is worked on and every outbox row delivered."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            await self.app.state.slack.inbox.idle()
            pending = await asyncio.to_thread(pending_rows, self.bot)
            quiet = quiet + 1 if pending == (0, 0) else 0
            if quiet >= 3:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"Slack work still pending after {timeout}s: {pending_rows(self.bot)}")


def pending_rows(bot: Bot) -> tuple[int, int]:
    """(pending events, pending outbox rows)."""
    with bot.db.read() as session:
        events = session.scalar(
            select(func.count())
            .select_from(SlackEvent)
            .where(SlackEvent.status == EventStatus.PENDING)
        )
        outbox = session.scalar(
            select(func.count())
            .select_from(SlackOutbox)
            .where(SlackOutbox.status == OutboxStatus.PENDING)
        )
    return int(events or 0), int(outbox or 0)


@asynccontextmanager
async def running(
    settings: Settings,
    embedder: Embedder,
    *,
    options: SlackOptions = FAST,
    prepare: Callable[[FastAPI], None] | None = None,
) -> AsyncIterator[SlackApp]:
    """Build an app, run its lifespan (so the Slack workers start), and talk to it over ASGI."""
    app = create_app(settings, embedder=embedder)
    app.state.slack.options = options
    if prepare is not None:
        prepare(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield SlackApp(app, client)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


# -- payload builders --


def _ts() -> str:
    n = next(_ids)
    return f"{1600000000 + n}.{n:06d}"


def event_callback(event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": "A_APP",
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        "event": event,
    }


def dm(user: str, text: str, *, channel: str | None = None, **extra: Any) -> dict[str, Any]:
    """A direct message from `user` to the app."""
    ts = extra.pop("ts", None) or _ts()
    event = {
        "type": "message",
        "channel": channel or f"D_{user}",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "client_msg_id": extra.pop("client_msg_id", f"cmid-{ts}"),
        **extra,
    }
    return event_callback(event)


def channel_message(
    user: str,
    text: str,
    *,
    channel: str,
    thread_ts: str | None = None,
    mention: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A message in a channel (an `app_mention` when `mention`), optionally in a thread."""
    ts = extra.pop("ts", None) or _ts()
    event: dict[str, Any] = {
        "type": "app_mention" if mention else "message",
        "channel": channel,
        "user": user,
        "text": f"<@{BOT_USER_ID}> {text}" if mention else text,
        "ts": ts,
        "event_ts": ts,
        "client_msg_id": extra.pop("client_msg_id", f"cmid-{ts}"),
        **extra,
    }
    if not mention:
        event["channel_type"] = "channel"
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event_callback(event)


def block_action(
    user: str, action_id: str, value: str, *, channel: str, message: dict[str, Any]
) -> dict[str, Any]:
    """A button click on `message` (a chat.postMessage payload as the fake recorded it)."""
    thread = {"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "api_app_id": "A_APP",
        "container": {"type": "message", "channel_id": channel, "message_ts": message["_ts"]},
        "channel": {"id": channel},
        "message": {"ts": message["_ts"], **thread},
        "trigger_id": "trigger",
        "response_url": "https://hooks.invalid/response",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": _ts(),
            }
        ],
    }


def buttons(post: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The buttons of a posted message by action_id."""
    found = {}
    for block in post.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def fast(**changes: Any) -> SlackOptions:
    return replace(FAST, **changes)


def view_submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A modal submitted by `user`: `view` as the app opened it (views.open's `view`), with the
    inputs' state, e.g. {"comment": {"comment_input": {"type": "plain_text_input", ...}}}."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "api_app_id": "A_APP",
        "trigger_id": f"trigger-{next(_ids)}",
        "view": {
            **view,
            "id": f"V{next(_ids):08d}",
            "team_id": TEAM_ID,
            "state": {"values": values},
            "hash": "h",
        },
    }


def text_input(block: str, action: str, value: str | None) -> dict[str, Any]:
    """The state of a plain_text_input as Slack sends it."""
    return {block: {action: {"type": "plain_text_input", "value": value}}}


def select_input(block: str, action: str, value: str | None) -> dict[str, Any]:
    """The state of a static_select as Slack sends it."""
    option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
    return {block: {action: {"type": "static_select", "selected_option": option}}}
