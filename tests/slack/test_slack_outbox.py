"""The outbox: replies survive rate limits and restarts, in order, each delivered once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.channels.slack.models import OutboxStatus, SlackOutbox
from bot.cme import accounts
from bot.conversation import handoff, request_handoff
from bot.storage import Conversation, User
from tests.slack.kit import SlackApp, dm, running, slack_settings, wait_for


async def claimed_dm(slack: SlackApp, user: str = "U1") -> tuple[str, User]:
    """A Slack DM conversation claimed by a CME (so agent replies go to the customer)."""
    await slack.deliver(dm(user, "How do I export my data?"))
    await slack.settle()

    def setup() -> tuple[str, User]:
        with slack.bot.db.write() as session:
            cme, _ = accounts.create_user(
                session, email="cme@example.com", name="Alex", password="pw-123456"
            )
            conversation_id = session.scalars(select(Conversation.id)).one()
        return conversation_id, cme

    conversation_id, cme = await asyncio.to_thread(setup)
    await request_handoff(slack.bot, conversation_id=conversation_id)
    await handoff.claim(slack.bot, conversation_id=conversation_id, user=cme)
    await slack.settle()
    return conversation_id, cme


def replies_in(fake, channel: str) -> list[str]:
    return [p["text"] for p in fake.posts(channel) if p["text"].startswith("*Alex*")]


def outbox_rows(bot) -> list[SlackOutbox]:
    with bot.db.read() as session:
        return list(session.scalars(select(SlackOutbox).order_by(SlackOutbox.id)))


async def test_burst_of_50_replies_survives_429s_in_order(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    async with running(settings, fake_embedder) as slack:
        conversation_id, cme = await claimed_dm(slack)
        fake_slack.rate_limit("chat.postMessage", calls=20, retry_after=1, every=3)
        for n in range(50):
            await handoff.agent_message(
                slack.bot, conversation_id=conversation_id, user=cme, text=f"reply {n}"
            )
        await slack.settle(timeout=30)
    assert replies_in(fake_slack, "D_U1") == [f"*Alex*\nreply {n}" for n in range(50)]
    limited = [c for c in fake_slack.calls if c.method == "chat.postMessage" and c.status == 429]
    assert len(limited) == 20
    # Each 429 was waited out (Retry-After 1 s x scale 0.02) and the same row retried next.
    calls = [c for c in fake_slack.calls if c.method == "chat.postMessage"]
    for i, call in enumerate(calls[:-1]):
        if call.status == 429:
            retry = calls[i + 1]
            assert retry.at - call.at >= 0.02 * 0.9
            assert retry.params["text"] == call.params["text"]


async def test_burst_of_50_replies_survives_a_restart_midway(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    async with running(settings, fake_embedder) as slack:
        conversation_id, cme = await claimed_dm(slack)
        fake_slack.rate_limit("chat.postMessage", calls=1000, retry_after=1, every=2)
        for n in range(50):
            await handoff.agent_message(
                slack.bot, conversation_id=conversation_id, user=cme, text=f"reply {n}"
            )
        await wait_for(lambda: len(replies_in(fake_slack, "D_U1")) >= 15)
    stopped_at = len(replies_in(fake_slack, "D_U1"))
    assert stopped_at < 50
    async with running(settings, fake_embedder) as slack:
        await slack.settle(timeout=30)
        assert {row.status for row in outbox_rows(slack.bot)} == {OutboxStatus.SENT}
    assert replies_in(fake_slack, "D_U1") == [f"*Alex*\nreply {n}" for n in range(50)]


async def test_transient_errors_are_retried_and_rejected_rows_do_not_block(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        conversation_id, cme = await claimed_dm(slack)
        fake_slack.fail(
            "chat.postMessage", "internal_error", "service_unavailable", None, "msg_too_long"
        )
        for n in range(3):
            await handoff.agent_message(
                slack.bot, conversation_id=conversation_id, user=cme, text=f"reply {n}"
            )
        await slack.settle()
        statuses = [row.status for row in outbox_rows(slack.bot)][-3:]
    # reply 0 failed twice transiently and was retried until sent; reply 1 was rejected for
    # good (retrying cannot help) and the thread moved on.
    assert replies_in(fake_slack, "D_U1") == ["*Alex*\nreply 0", "*Alex*\nreply 2"]
    assert statuses == [OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.SENT]
    attempts = [c.params["text"] for c in fake_slack.calls if c.method == "chat.postMessage"][-5:]
    assert attempts == ["*Alex*\nreply 0"] * 3 + ["*Alex*\nreply 1", "*Alex*\nreply 2"]
