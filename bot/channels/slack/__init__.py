"""The Slack channel: customers DM or mention the app; CMEs take escalations in a channel.

    Slack --(signed HTTP or Socket Mode)--> bolt AsyncApp
        -> record the event (slack_events, before the ack) -> ack
        -> EventInbox: route the message -> bot.conversation (pipeline or handoff)
    pipeline / handoff transaction -> SlackHooks -> slack_outbox row (same transaction)
        -> Outbox: chat.postMessage in id order per thread, honouring 429 Retry-After

This module stays import-light: the migrations import `bot.channels.slack.models`, so the bolt
wiring is imported only when `install` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.channels.slack.options import SlackOptions

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.runtime import Bot


def install(app: FastAPI, bot: Bot, options: SlackOptions | None = None) -> None:
    """Mount `/slack/events` (HTTP mode) or connect by Socket Mode, register hooks and workers.

    The channel is kept on `app.state.slack`; its `options` may be replaced before start-up.
    """
    from bot.channels.slack.channel import SlackChannel

    channel = SlackChannel(bot, options or SlackOptions())
    channel.install(app)
    app.state.slack = channel


__all__ = ["SlackOptions", "install"]
