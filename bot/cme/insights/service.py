"""The rollup as a service of the running bot: one pass with the bot's settings, and the
background task that runs passes from start-up to shutdown."""

from __future__ import annotations

import asyncio
import logging

from bot.cme.insights.rollup import refresh
from bot.runtime import Bot
from escalation import OfficeHours

log = logging.getLogger(__name__)


def office_hours(bot: Bot) -> OfficeHours:
    return OfficeHours.parse(bot.settings.office_hours, bot.settings.office_timezone)


def refresh_insights(bot: Bot) -> int:
    """One rollup pass with the bot's settings and clock; returns how many conversations."""
    return refresh(
        bot.db,
        now=bot.clock(),
        hours=office_hours(bot),
        sla_s=bot.settings.sla_first_response_s,
        similarity=bot.settings.insights_similarity,
    )


async def refresh_forever(bot: Bot) -> None:
    """Background: a rollup pass every INSIGHTS_REFRESH_S."""
    while True:
        try:
            done = await asyncio.to_thread(refresh_insights, bot)
            if done:
                log.debug("insight rollup: %d conversations recomputed", done)
        except Exception:  # a failed pass is retried on the next one; it must not end the task
            log.exception("insight rollup pass failed")
        await asyncio.sleep(bot.settings.insights_refresh_s)
