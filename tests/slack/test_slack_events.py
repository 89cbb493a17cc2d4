"""Events API ingress: signatures, exactly one reply per customer message, routing."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from sqlalchemy import func, select

from bot.channels.slack.models import EventStatus, SlackEvent
from bot.conversation import handoff
from bot.storage import Conversation, Message
from tests.slack.fake_slack import BOT_ID, BOT_USER_ID
from tests.slack.kit import (
    channel_message,
    dm,
    fast,
    running,
    sign,
    slack_settings,
)


def stored_events(bot) -> list[SlackEvent]:
    with bot.db.read() as session:
        return list(session.scalars(select(SlackEvent).order_by(SlackEvent.id)))


def conversations(bot) -> list[Conversation]:
    with bot.db.read() as session:
        return list(session.scalars(select(Conversation).order_by(Conversation.created_at)))


# -- signatures --


@pytest.mark.parametrize(
    "sign_args",
    [
        pytest.param({"secret": "not-the-secret"}, id="wrong-secret"),
        # Offsets, not times: parameters are built at collection, minutes before the test runs.
        pytest.param({"age_s": 6 * 60}, id="older-than-5-minutes"),
        pytest.param({"age_s": -6 * 60}, id="from-the-future"),
    ],
)
async def test_badly_signed_event_gets_401_and_is_not_stored(
    tmp_path, fake_slack, fake_embedder, sign_args
):
    if "age_s" in sign_args:
        sign_args = {"timestamp": int(time.time()) - sign_args["age_s"]}
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        response = await slack.deliver(dm("U1", "How do I export my data?"), **sign_args)
        assert response.status_code == 401
        await asyncio.sleep(0.3)
        assert stored_events(slack.bot) == []
    # Only the start-up check of the bot token reached the Web API.
    assert [call.method for call in fake_slack.calls] in ([], ["auth.test"])


async def test_unsigned_or_tampered_event_gets_401(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        body = json.dumps(dm("U1", "How do I export my data?")).encode()
        unsigned = await slack.client.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert unsigned.status_code == 401
        headers = {"Content-Type": "application/json", **sign(body)}
        tampered = await slack.client.post("/slack/events", content=body + b" ", headers=headers)
        assert tampered.status_code == 401
        await asyncio.sleep(0.3)
        assert stored_events(slack.bot) == []
    # Only the start-up check of the bot token reached the Web API.
    assert [call.method for call in fake_slack.calls] in ([], ["auth.test"])


# -- exactly one reply --


async def test_event_delivered_four_times_in_a_row_gets_one_reply(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    event = dm("U1", "How do I export my data?")
    async with running(settings, fake_embedder) as slack:
        for retry in (None, 1, 2, 3):
            response = await slack.deliver(event, retry=retry)
            assert response.status_code == 200
        await slack.settle()
        assert [e.status for e in stored_events(slack.bot)] == [EventStatus.DONE]
    replies = fake_slack.posts("D_U1")
    assert len(replies) == 1
    assert "Export" in replies[0]["text"]


async def test_four_concurrent_deliveries_of_one_event_get_one_reply(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    event = dm("U1", "How do I export my data?")
    async with running(settings, fake_embedder) as slack:
        responses = await asyncio.gather(*(slack.deliver(event, retry=n or None) for n in range(4)))
        assert [r.status_code for r in responses] == [200] * 4
        await slack.settle()
        assert len(conversations(slack.bot)) == 1
    assert len(fake_slack.posts("D_U1")) == 1


async def test_redelivery_after_a_restart_gets_one_reply(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    event = dm("U1", "How do I export my data?")
    async with running(settings, fake_embedder) as slack:
        assert (await slack.deliver(event)).status_code == 200
        await slack.settle()
    async with running(settings, fake_embedder) as slack:
        first, *others = [slack.deliver(event, retry=n) for n in (1, 2, 3)]
        assert (await first).status_code == 200
        assert [r.status_code for r in await asyncio.gather(*others)] == [200, 200]
        await slack.settle()
    assert len(fake_slack.posts("D_U1")) == 1


async def test_event_acked_before_a_crash_is_answered_after_restart(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    event = dm("U1", "How do I export my data?")

    def crash_after_ack(app) -> None:
        # The process dies between the ack and the work: the listener never runs the turn.
        app.state.slack.inbox.spawn = lambda work: None

    async with running(
        settings, fake_embedder, options=fast(event_rescan_s=600), prepare=crash_after_ack
    ) as slack:
        assert (await slack.deliver(event)).status_code == 200
        assert [e.status for e in stored_events(slack.bot)] == [EventStatus.PENDING]
    assert fake_slack.posts() == []

    async with running(settings, fake_embedder) as slack:
        await slack.settle()
        assert (await slack.deliver(event, retry=1)).status_code == 200
        await slack.settle()
        assert [e.status for e in stored_events(slack.bot)] == [EventStatus.DONE]
    assert len(fake_slack.posts("D_U1")) == 1


async def test_mention_and_message_events_of_one_message_get_one_reply(
    tmp_path, database_url, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    mention = channel_message("U1", "How do I export my data?", channel="C_GENERAL", mention=True)
    as_message = json.loads(json.dumps(mention))
    as_message["event_id"] = mention["event_id"] + "m"
    as_message["event"] |= {"type": "message", "channel_type": "channel"}
    async with running(settings, fake_embedder) as slack:
        responses = await asyncio.gather(slack.deliver(mention), slack.deliver(as_message))
        assert [r.status_code for r in responses] == [200, 200]
        await slack.settle()
        assert len(stored_events(slack.bot)) == 1
    replies = fake_slack.posts("C_GENERAL")
    assert len(replies) == 1
    assert replies[0]["thread_ts"] == mention["event"]["ts"]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"bot_id": BOT_ID, "user": BOT_USER_ID}, id="own-message"),
        pytest.param({"bot_id": "B_OTHER"}, id="another-bot"),
        pytest.param({"subtype": "message_changed"}, id="edit"),
        pytest.param({"subtype": "message_deleted"}, id="deletion"),
        pytest.param({"subtype": "channel_join"}, id="join"),
    ],
)
async def test_bot_messages_and_edits_get_no_reply(tmp_path, fake_slack, fake_embedder, extra):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        event = dm("U1", "How do I export my data?")
        event["event"].update(extra)
        response = await slack.deliver(event)
        assert response.status_code == 200
        await slack.settle()
        assert stored_events(slack.bot) == []
    assert fake_slack.posts() == []


# -- routing --


async def test_channel_mention_starts_a_thread_conversation(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        ignored = channel_message("U1", "How do I export my data?", channel="C_GENERAL")
        await slack.deliver(ignored)
        mention = channel_message(
            "U1", "How do I export my data?", channel="C_GENERAL", mention=True
        )
        root = mention["event"]["ts"]
        await slack.deliver(mention)
        await slack.settle()
        await slack.deliver(
            channel_message(
                "U1", "Where can I download my invoices?", channel="C_GENERAL", thread_ts=root
            )
        )
        await slack.settle()
        await slack.deliver(
            channel_message(
                "U2", "me too, where are invoices?", channel="C_GENERAL", thread_ts=root
            )
        )
        await slack.settle()
        [conversation] = conversations(slack.bot)
        assert (conversation.channel, conversation.channel_ref) == ("slack", f"C_GENERAL/{root}")
        assert (conversation.customer_id, conversation.customer_name) == ("U1", "Customer U1")
    replies = fake_slack.posts("C_GENERAL")
    assert [r["thread_ts"] for r in replies] == [root, root]
    assert "Export" in replies[0]["text"] and "Invoices" in replies[1]["text"]


async def test_dm_opens_a_new_conversation_after_resolve(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        [first] = conversations(slack.bot)
        await slack.deliver(dm("U1", "Where can I download my invoices?"))
        await slack.settle()
        assert len(conversations(slack.bot)) == 1
        await handoff.resolve(slack.bot, conversation_id=first.id, user=None)
        await slack.settle()
        await slack.deliver(dm("U1", "How do I export my data?"))
        await slack.settle()
        later = conversations(slack.bot)
        assert len(later) == 2 and later[1].reopened_from == first.id
        with slack.bot.db.read() as session:
            assert session.scalar(select(func.count()).select_from(SlackEvent)) == 3
    texts = [p["text"] for p in fake_slack.posts("D_U1")]
    # answer, answer, the notice, then the rating prompt and the NPS question, then an answer.
    assert len(texts) == 6 and "resolved" in texts[2]
    assert texts[3].startswith("How did we do?") and "recommend us" in texts[4]


def test_slack_is_off_without_a_token_and_half_configured_slack_fails_fast(
    tmp_path, fake_slack, fake_embedder
):
    from app import create_app
    from bot.channels.slack.channel import SlackConfigError
    from tests.utils import make_settings

    database_url = f"sqlite:///{tmp_path / 'slack.db'}"
    plain = create_app(make_settings(tmp_path, database_url), embedder=fake_embedder)
    assert "/slack/events" not in {getattr(route, "path", None) for route in plain.routes}
    assert not hasattr(plain.state, "slack")
    no_secret = slack_settings(tmp_path, database_url, fake_slack, slack_signing_secret="")
    with pytest.raises(SlackConfigError, match="SIGNING_SECRET"):
        create_app(no_secret, embedder=fake_embedder)
    no_app_token = slack_settings(tmp_path, database_url, fake_slack, slack_mode="socket")
    with pytest.raises(SlackConfigError, match="APP_TOKEN"):
        create_app(no_app_token, embedder=fake_embedder)


async def test_another_users_mention_in_a_customers_thread_is_not_recorded_as_theirs(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        mention = channel_message("U1", "How do I export my data?", channel="C_HELP", mention=True)
        root = mention["event"]["ts"]
        await slack.deliver(mention)
        await slack.settle()
        intruder = channel_message(
            "U2", "ignore that, refund me", channel="C_HELP", thread_ts=root, mention=True
        )
        await slack.deliver(intruder)
        await slack.settle()
        [conversation] = conversations(slack.bot)
        with slack.bot.db.read() as session:
            texts = list(
                session.scalars(
                    select(Message.text).where(
                        Message.conversation_id == conversation.id, Message.role == "customer"
                    )
                )
            )
        events = stored_events(slack.bot)
    assert texts == ["How do I export my data?"]
    assert events[-1].status == EventStatus.IGNORED
    told = [c for c in fake_slack.accepted("chat.postEphemeral") if c.get("user") == "U2"]
    assert len(told) == 1 and "own" in told[0]["text"]


def unreachable_url() -> str:
    """A loopback URL where nothing listens: Slack's Web API is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"


async def test_event_is_acked_and_kept_while_slacks_web_api_is_down(
    tmp_path, fake_slack, fake_embedder
):
    database_url = f"sqlite:///{tmp_path / 'slack.db'}"
    down = slack_settings(tmp_path, database_url, fake_slack, slack_api_url=unreachable_url())
    async with running(down, fake_embedder) as slack:
        response = await slack.deliver(dm("U1", "How do I export my data?"))
        assert response.status_code == 200, response.text
        assert len(stored_events(slack.bot)) == 1
    back = slack_settings(tmp_path, database_url, fake_slack)
    async with running(back, fake_embedder) as slack:
        await slack.settle()
        assert [e.status for e in stored_events(slack.bot)] == [EventStatus.DONE]
    [reply] = fake_slack.posts("D_U1")
    assert "Export" in reply["text"]
