"""Channels deliver what the pipeline and CMEs say: the web widget always, Slack and email when
configured.

A channel parses and authenticates what arrives, calls one function of `bot.conversation`, and
delivers the outcome. One that needs more than the event bus (Slack posts through an outbox)
registers `bot.runtime.ChannelHooks`, which run inside the transaction that adds the message.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.orm import Session

from bot.runtime import Bot

__all__ = ["erasers", "install"]


def install(app: FastAPI, bot: Bot) -> None:
    """Mount the web widget always, and Slack when it is configured."""
    from bot.channels import email, slack, web

    bot.erasers.extend(erasers())  # Slack data and mail may outlive their settings
    web.install(app, bot)
    if bot.settings.slack_bot_token:
        slack.install(app, bot)
    if bot.settings.smtp_host:
        email.install(app, bot)


def erasers() -> list[Callable[[Session, str, list[str]], dict[str, int]]]:
    """What each channel removes when a customer is erased."""
    from bot.channels.email import erase as erase_mail
    from bot.channels.slack.erasure import erase as erase_slack

    return [erase_slack, erase_mail]
