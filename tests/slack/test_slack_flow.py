"""End to end through Slack: answer, handoff, escalation post, claim, CME replies and notes."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.channels.slack.blocks import (
    CLAIM,
    HANDOFF,
    HELPFUL,
    NOT_LINKED,
    NOTE_SHORTCUT,
    OPEN_CONSOLE,
)
from bot.cme import accounts
from bot.conversation import handoff
from bot.storage import Conversation, Feedback, Message, OutcomeExample, User, store
from tests.slack.kit import (
    CME_CHANNEL,
    SlackApp,
    block_action,
    buttons,
    channel_message,
    dm,
    running,
    slack_settings,
    wait_for,
)


async def add_cme(slack: SlackApp, email: str, name: str, slack_user_id: str | None) -> User:
    def create() -> User:
        with slack.bot.db.write() as session:
            user, _token = accounts.create_user(
                session,
                email=email,
                name=name,
                password="correct-horse",
                slack_user_id=slack_user_id,
            )
            return user

    return await asyncio.to_thread(create)


def transcript(slack: SlackApp, conversation_id: str) -> list[tuple[str, str]]:
    with slack.bot.db.read() as session:
        messages = store.list_messages(session, conversation_id=conversation_id, internal=True)
        return [(str(m.role), m.text) for m in messages]


def only_conversation(slack: SlackApp) -> Conversation:
    with slack.bot.db.read() as session:
        return session.scalars(select(Conversation)).one()


def ephemerals(fake, user: str) -> list[str]:
    return [p["text"] for p in fake.accepted("chat.postEphemeral") if p["user"] == user]


@pytest.mark.real_model
async def test_dm_to_escalation_to_claim_to_cme_reply_with_real_model(
    tmp_path, fake_slack, real_embedder
):
    fake_slack.users["U_SAM"] = "Sam"
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'flow.db'}", fake_slack)
    async with running(settings, real_embedder) as slack:
        await add_cme(slack, "alex@example.com", "Alex", "U_ALEX")
        await add_cme(slack, "blake@example.com", "Blake", "U_BLAKE")

        # The customer asks in a DM; the answer cites the article and offers three buttons.
        await slack.deliver(dm("U_SAM", "How do I reset my password?"))
        await slack.settle()
        [answer] = fake_slack.posts("D_U_SAM")
        assert (
            "<http://127.0.0.1:8000/kb/account/reset-password"
            in answer["blocks"][0]["text"]["text"]
        )
        actions = buttons(answer)
        assert set(actions) == {HELPFUL, "supportbot_not_helpful", HANDOFF}
        conversation = only_conversation(slack)
        assert (conversation.customer_id, conversation.customer_name) == ("U_SAM", "Sam")

        await slack.click(
            block_action(
                "U_SAM", HELPFUL, actions[HELPFUL]["value"], channel="D_U_SAM", message=answer
            )
        )
        await wait_for(lambda: ephemerals(fake_slack, "U_SAM") == ["Thanks for the feedback!"])
        with slack.bot.db.read() as session:
            assert [f.helpful for f in session.scalars(select(Feedback))] == [True]

        # Talk to a person: the notice reaches the DM, the escalation reaches the CME channel.
        response = await slack.click(
            block_action(
                "U_SAM", HANDOFF, actions[HANDOFF]["value"], channel="D_U_SAM", message=answer
            )
        )
        assert response.status_code == 200
        await slack.settle()
        assert "support team" in fake_slack.posts("D_U_SAM")[-1]["text"]
        [post] = fake_slack.posts(CME_CHANNEL)
        assert "Sam" in post["blocks"][1]["text"]["text"]
        assert "How do I reset my password?" in post["blocks"][1]["text"]["text"]
        post_buttons = buttons(post)
        assert post_buttons[OPEN_CONSOLE]["url"] == (
            f"http://127.0.0.1:8000/console/conversations/{conversation.id}"
        )

        # An unlinked Slack user is told privately; a linked CME claims; a second one conflicts.
        await slack.click(
            block_action(
                "U_STRANGER", CLAIM, post_buttons[CLAIM]["value"], channel=CME_CHANNEL, message=post
            )
        )
        await wait_for(lambda: ephemerals(fake_slack, "U_STRANGER") == [NOT_LINKED])
        assert only_conversation(slack).status == "waiting"
        await slack.click(
            block_action(
                "U_ALEX", CLAIM, post_buttons[CLAIM]["value"], channel=CME_CHANNEL, message=post
            )
        )
        await slack.settle()
        assert (only_conversation(slack).status, only_conversation(slack).owner_id) == ("agent", 1)
        assert fake_slack.posts("D_U_SAM")[-1]["text"] == "_Alex from the support team has joined._"
        [update] = fake_slack.accepted("chat.update")
        assert update["ts"] == post["_ts"] and "Claimed by Alex" in str(update["blocks"])
        assert CLAIM not in buttons(update)
        await slack.click(
            block_action(
                "U_BLAKE", CLAIM, post_buttons[CLAIM]["value"], channel=CME_CHANNEL, message=post
            )
        )
        await wait_for(lambda: len(ephemerals(fake_slack, "U_BLAKE")) == 1)
        assert "already claimed" in ephemerals(fake_slack, "U_BLAKE")[0]

        # The owner's thread reply reaches the customer; a `note:` stays internal; a CME who
        # does not own the conversation is told so and nothing is sent.
        thread = {"channel": CME_CHANNEL, "thread_ts": post["_ts"]}
        await slack.deliver(
            channel_message("U_ALEX", "Hi Sam, I've sent you a reset link.", **thread)
        )
        await slack.deliver(
            channel_message("U_ALEX", "note: the reset email bounced twice", **thread)
        )
        await slack.deliver(channel_message("U_BLAKE", "Hello from Blake", **thread))
        await slack.settle()
        assert (
            fake_slack.posts("D_U_SAM")[-1]["text"] == "*Alex*\nHi Sam, I've sent you a reset link."
        )
        assert "you no longer own this conversation" in ephemerals(fake_slack, "U_BLAKE")[-1]
        assert transcript(slack, conversation.id)[-3:] == [
            ("system", "Alex from the support team has joined."),
            ("agent", "Hi Sam, I've sent you a reset link."),
            ("note", "the reset email bounced twice"),
        ]
    customer_texts = [p["text"] for p in fake_slack.posts("D_U_SAM")]
    assert not any("bounced" in text or "Blake" in text for text in customer_texts)
    assert len(customer_texts) == 4


async def test_cme_reply_in_slack_reaches_web_widget_customer(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'web.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        await add_cme(slack, "alex@example.com", "Alex", "U_ALEX")
        created = (
            await slack.client.post("/api/conversations", json={"customer": {"name": "Robin"}})
        ).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        url = f"/api/conversations/{created['id']}"
        await slack.client.post(
            f"{url}/messages", json={"text": "My refund never arrived"}, headers=headers
        )
        assert (await slack.client.post(f"{url}/handoff", headers=headers)).status_code == 200
        await slack.settle()
        [post] = fake_slack.posts(CME_CHANNEL)
        assert "Robin (web)" in post["blocks"][1]["text"]["text"]
        await slack.click(
            block_action("U_ALEX", CLAIM, created["id"], channel=CME_CHANNEL, message=post)
        )
        await slack.settle()
        thread = {"channel": CME_CHANNEL, "thread_ts": post["_ts"]}
        await slack.deliver(
            channel_message(
                "U_ALEX", "I've re-sent it: <https://pay.example.com/r/1|receipt>", **thread
            )
        )
        await slack.settle()

        # The Note shortcut on a thread message keeps it internal.
        note_source = {
            "ts": "1700009999.000001",
            "thread_ts": post["_ts"],
            "text": "VIP customer",
            "user": "U_ALEX",
        }
        shortcut = {
            "type": "message_action",
            "callback_id": NOTE_SHORTCUT,
            "team": {"id": "T_TEAM"},
            "user": {"id": "U_ALEX"},
            "channel": {"id": CME_CHANNEL},
            "message": note_source,
            "trigger_id": "trigger",
            "response_url": "https://hooks.invalid/response",
        }
        assert (await slack.click(shortcut)).status_code == 200
        await wait_for(lambda: ephemerals(fake_slack, "U_ALEX") == ["Saved as an internal note."])
        visible = (await slack.client.get(f"{url}/messages", headers=headers)).json()["messages"]
    assert [m["text"] for m in visible][-2:] == [
        "Alex from the support team has joined.",
        "I've re-sent it: [receipt](https://pay.example.com/r/1)",
    ]
    with slack.bot.db.read() as session:
        notes = session.scalars(select(Message.text).where(Message.role == "note")).all()
    assert notes == ["VIP customer"]
    assert fake_slack.posts(CME_CHANNEL) == [post]  # nothing else was posted to the CME channel


async def test_console_reply_reaches_the_customers_channel_thread(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'console.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        cme = await add_cme(slack, "alex@example.com", "Alex", None)
        mention = channel_message("U1", "I want to talk to a human", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        conversation = only_conversation(slack)
        assert conversation.status == "waiting"  # asking for a human escalates at once
        await handoff.claim(slack.bot, conversation_id=conversation.id, user=cme)
        await handoff.agent_message(
            slack.bot, conversation_id=conversation.id, user=cme, text="On it!"
        )
        await slack.settle()
    root = mention["event"]["ts"]
    posts = fake_slack.posts("C_HELP")
    assert {p["thread_ts"] for p in posts} == {root}
    assert posts[-1]["text"] == "*Alex*\nOn it!"


async def test_customer_buttons_refuse_other_users(tmp_path, fake_slack, fake_embedder):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'buttons.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        mention = channel_message("U1", "How do I export my data?", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        [answer] = fake_slack.posts("C_HELP")
        value = buttons(answer)[HANDOFF]["value"]
        await slack.click(block_action("U2", HANDOFF, value, channel="C_HELP", message=answer))
        await wait_for(lambda: len(ephemerals(fake_slack, "U2")) == 1)
        assert only_conversation(slack).status == "bot"


async def test_a_thumb_in_slack_labels_the_question_for_retrieval(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'thumbs.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        mention = channel_message("U1", "How do I export my data?", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        [answer] = fake_slack.posts("C_HELP")
        value = buttons(answer)[HELPFUL]["value"]
        await slack.click(block_action("U1", HELPFUL, value, channel="C_HELP", message=answer))
        await wait_for(lambda: ephemerals(fake_slack, "U1") == ["Thanks for the feedback!"])
        with slack.bot.db.read() as session:
            [example] = session.scalars(select(OutcomeExample)).all()
            assert (example.query, example.article_id, example.source, example.customer_id) == (
                "How do I export my data?",
                "data/export",
                "thumbs_up",
                "U1",
            )
