"""Wiring: the bolt AsyncApp, its transport (HTTP route or Socket Mode), hooks and workers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.channels.slack.actions import Interactions
from bot.channels.slack.blocks import (
    CLAIM,
    CSAT_ACTION,
    CSAT_DETAILS_VIEW,
    CSAT_REASON_ACTION,
    HANDOFF,
    HELPFUL,
    NOT_HELPFUL,
    NOTE_SHORTCUT,
    NPS_ACTION,
    NPS_DETAILS_VIEW,
    OPEN_CONSOLE,
)
from bot.channels.slack.files import FileImporter
from bot.channels.slack.hooks import SlackHooks
from bot.channels.slack.inbox import EventInbox, Work
from bot.channels.slack.options import SlackOptions
from bot.channels.slack.outbox import Outbox
from bot.channels.slack.routing import RouteKind, route
from bot.runtime import Bot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def event_bot_user_id(body: dict[str, Any]) -> str | None:
    """The app's bot user as Slack names it in every event (no Web API call needed)."""
    for authorization in body.get("authorizations") or []:
        if authorization.get("is_bot") and authorization.get("user_id"):
            return str(authorization["user_id"])
    return None


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
        self.outbox = Outbox(bot.db, self.client, options, bot.files)
        self.inbox = EventInbox(
            bot, self.client, options, FileImporter(bot, self.client, self.outbox)
        )
        self.hooks = SlackHooks(settings, self.outbox)
        self.interactions = Interactions(bot, self.inbox.tell)
        self._options = options
        self.bot_user_id: str | None = None  # from auth.test at start-up, when Slack answered
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
        self.bot.alert_sinks.append(self.hooks.alert_raised)
        self.bot.background.append(self._verify_token)
        self.bot.jobs.extend([self.outbox.run, self.inbox.run])  # once per deployment
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
            # Events are recorded and acked here, after the signature check and before bolt's
            # authorization, which calls auth.test: an event is kept while the Web API is down.
            before_authorize=self._record_event,
        )
        app.action(HELPFUL)(self.interactions.feedback)
        app.action(NOT_HELPFUL)(self.interactions.feedback)
        app.action(HANDOFF)(self.interactions.talk_to_person)
        app.action(CLAIM)(self.interactions.claim)
        app.action(OPEN_CONSOLE)(self.interactions.open_console)
        app.action(CSAT_ACTION)(self.interactions.csat)
        app.action(CSAT_REASON_ACTION)(self.interactions.csat_reason)
        app.action(NPS_ACTION)(self.interactions.nps)
        app.view(CSAT_DETAILS_VIEW)(self.interactions.csat_details)
        app.view(NPS_DETAILS_VIEW)(self.interactions.nps_details)
        app.shortcut(NOTE_SHORTCUT)(self.interactions.note)
        return app

    async def _record_event(
        self,
        body: dict[str, Any],
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[BoltResponse]],  # noqa: A002 - bolt passes it by this name
    ) -> BoltResponse:
        """Runs after bolt verified the signature, before anything touches the network: store
        an event durably, ack it, and hand it to the inbox's worker.

        A redelivery (same event_id, or the same message under another event) is acked and
        dropped; so are messages that no person wrote (edits, bots, the app itself) and channel
        messages that cannot concern the app. Other requests (button clicks) go on to bolt.
        """
        if body.get("type") != "event_callback" or "event_id" not in body:
            return await next()
        bot_user_id = event_bot_user_id(body) or self.bot_user_id
        target = route(
            body.get("event") or {},
            bot_user_id=bot_user_id,
            cme_channel=self.bot.settings.slack_cme_channel,
        )
        if target.kind == RouteKind.IGNORE:
            return BoltResponse(status=200, body="")
        if await asyncio.to_thread(self.inbox.record, body, bot_user_id):
            self.inbox.spawn(Work(str(body["event_id"]), body, bot_user_id))
        else:
            log.debug("slack event %s is a redelivery; acked and dropped", body["event_id"])
        return BoltResponse(status=200, body="")

    async def _verify_token(self) -> None:
        """Background task: check the bot token once at start-up and say so in the log."""
        try:
            result = await self.client.auth_test()
        except SlackApiError as exc:
            log.error(
                "slack: the bot token was refused (%s): check SUPPORTBOT_SLACK_BOT_TOKEN",
                exc.response.get("error"),
            )
            return
        except (OSError, TimeoutError, aiohttp.ClientError) as exc:
            log.warning(
                "slack: the Web API at %s is unreachable (%s); events are still recorded and "
                "answered once it is back",
                self.bot.settings.slack_api_url,
                exc,
            )
            return
        self.bot_user_id = result.get("user_id")
        log.info(
            "slack: bot token verified (team %s, bot user %s)",
            result.get("team_id"),
            self.bot_user_id,
        )

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
