"""Early-warning alerts are posted to the CME channel through the outbox (fake Web API)."""

from __future__ import annotations

import asyncio

from bot.cme.alerts import _store
from bot.storage import utcnow
from tests.slack.kit import CME_CHANNEL, running, slack_settings


async def test_an_alert_is_posted_to_the_cme_channel(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack, topics_enabled=False)
    async with running(settings, fake_embedder) as slack:

        def raise_alert() -> None:
            with slack.bot.db.write() as session:
                _store(
                    slack.bot,
                    session,
                    "volume_spike",
                    "questions on topic “card declined”: 14 in 15 min, 9.3x the usual 1.5",
                    {"observed": 14, "expected": 1.5, "ratio": 9.3},
                    [],
                    7,
                    None,
                    utcnow(),
                )

        await asyncio.to_thread(raise_alert)
        await slack.settle()
    [post] = fake_slack.posts(CME_CHANNEL)
    assert "card declined" in post["text"]
    assert "expected 1.5" in str(post["blocks"])
    assert "/console/insight" in str(post["blocks"])
