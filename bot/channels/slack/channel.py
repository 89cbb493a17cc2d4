"""Wiring: the bolt AsyncApp, its transport (HTTP route or Socket Mode), hooks and workers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.actions import Interactions
from bot.channels.slack.blocks import (
    CLAIM,
    HANDOFF,
    HELPFUL,
    NOT_HELPFUL,
    NOTE_SHORTCUT,
    OPEN_CONSOLE,
)
from bot.channels.slack.hooks import SlackHooks
from bot.channels.slack.inbox import EventInbox, Work
from bot.channels.slack.options import SlackOptions
from bot.channels.slack.outbox import Outbox
from bot.channels.slack.routing import HANDLED_EVENTS, RouteKind, route
from bot.runtime import Bot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
NEW_EVENT = "supportbot_new_event"  # context flag: this delivery was recorded for the first time


class SlackConfigError(ValueError):
    """Slack is enabled but a setting its mode needs is missing."""


class SlackChannel:
    """The Slack channel of one server process."""

    def __init__(self, bot: Bot, options: SlackOptions) -> None:
        settings = bot.settings
        if settings.slack_mode == "http" and not settings.slack_signing_secret:
            raise SlackConfigError("SUPPORTBOT_SLACK_SIGNING_SECRET is required in http mode")
        if settings.slack_mode == "socket" and not settings.slack_app_token:
            raise SlackConfigError(
                "SUPPORTBOT_SLACK_APP_TOKEN (xapp-...) is required in socket mode"
            )
        if not settings.slack_cme_channel:
            log.warning(
                "SUPPORTBOT_SLACK_CME_CHANNEL is empty: escalations are not posted to Slack"
            )
        self.bot = bot
        self.client = AsyncWebClient(
            token=settings.slack_bot_token, base_url=settings.slack_api_url
        )
        self.outbox = Outbox(bot.db, self.client, options)
        self.inbox = EventInbox(bot, self.client, options)
        self.hooks = SlackHooks(settings, self.outbox)
        self.interactions = Interactions(bot, self.inbox.tell)
        self._options = options
        self.app = self._bolt_app()

    @property
    def options(self) -> SlackOptions:
        return self._options

    @options.setter
    def options(self, options: SlackOptions) -> None:
        self._options = self.outbox.options = self.inbox.options = options

    def install(self, app: FastAPI) -> None:
        """Register hooks and workers on the bot, and the transport on the FastAPI app."""
        self.bot.hooks.append(self.hooks)
        self.bot.background.extend([self.outbox.run, self.inbox.run])
        if self.bot.settings.slack_mode == "socket":
            self.bot.background.append(self._socket_mode)
            return
        handler = AsyncSlackRequestHandler(self.app)

        async def slack_events(request: Request) -> Response:
            return await handler.handle(request)

        app.add_api_route(EVENTS_PATH, slack_events, methods=["POST"], include_in_schema=False)

    def _bolt_app(self) -> AsyncApp:
        http = self.bot.settings.slack_mode == "http"
        app = AsyncApp(
            client=self.client,
            signing_secret=self.bot.settings.slack_signing_secret if http else None,
            request_verification_enabled=http,
            process_before_response=False,
            logger=logging.getLogger("bot.channels.slack.bolt"),
            name="supportbot",
        )
        app.use(self._record_event)
        for event_type in HANDLED_EVENTS:
            app.event(event_type)(self._on_event)
        app.action(HELPFUL)(self.interactions.feedback)
        app.action(NOT_HELPFUL)(self.interactions.feedback)
        app.action(HANDOFF)(self.interactions.talk_to_person)
        app.action(CLAIM)(self.interactions.claim)
        app.action(OPEN_CONSOLE)(self.interactions.open_console)
        app.shortcut(NOTE_SHORTCUT)(self.interactions.note)
        return app

    async def _record_event(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - bolt passes it by this name
    ) -> BoltResponse:
        """Runs after bolt verified the signature and before the ack: store the event durably.

        A redelivery (same event_id, or the same message under another event) is acked and
        dropped; so are messages that no person wrote (edits, bots, the app itself) and channel
        messages that cannot concern the app.
        """
        if body.get("type") != "event_callback" or "event_id" not in body:
            return await next()
        target = route(
            body.get("event") or {},
            bot_user_id=context.bot_user_id,
            cme_channel=self.bot.settings.slack_cme_channel,
        )
        if target.kind == RouteKind.IGNORE:
            return BoltResponse(status=200, body="")
        if not await asyncio.to_thread(self.inbox.record, body, context.bot_user_id):
            log.debug("slack event %s is a redelivery; acked and dropped", body["event_id"])
            return BoltResponse(status=200, body="")
        context[NEW_EVENT] = True
        return await next()

    async def _on_event(self, body: dict[str, Any], context: AsyncBoltContext) -> None:
        """Runs after the ack: hand the recorded event to the inbox's worker."""
        if context.get(NEW_EVENT):
            self.inbox.spawn(Work(str(body["event_id"]), body, context.bot_user_id))

    async def _socket_mode(self) -> None:
        """Background task: hold a Socket Mode connection open until shutdown."""
        from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.app, self.bot.settings.slack_app_token)
        await handler.connect_async()
        log.info("slack socket mode connected")
        try:
            await asyncio.Event().wait()
        finally:
            await handler.close_async()
