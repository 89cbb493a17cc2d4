"""Files a Slack customer shares (issue 19) become attachments of their conversation: fetched
with the bot token from the fake Slack's url_private, sniffed and limited like a widget upload;
a refused file gets a polite reply in the DM or thread. Signed event requests into the real
app, the fake Web API on loopback."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation import handoff
from bot.storage import Conversation, Message, Role
from tests.bot.test_attachments import HTML, PDF, png
from tests.slack.fake_slack import TEAM_ID
from tests.slack.kit import CME_CHANNEL, channel_message, dm, running, slack_settings
from tests.slack.test_slack_flow import add_cme


def shared(slack, user: str, text: str, files: list[dict], **extra) -> dict:
    return dm(user, text, subtype="file_share", files=files, **extra)


def stored(slack) -> tuple[Conversation, list[Message]]:
    with slack.bot.db.read() as session:
        conversation = session.scalars(select(Conversation)).one()
        messages = list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.seq)
            )
        )
        for message in messages:
            _ = message.attachments
        return conversation, messages


async def test_a_shared_screenshot_and_its_question_reach_the_conversation(
    tmp_path, fake_slack, fake_embedder, database_url
):
    settings = slack_settings(tmp_path, database_url, fake_slack)
    async with running(settings, fake_embedder) as slack:
        file = fake_slack.share("error.png", png())
        await slack.deliver(shared(slack, "U1", "I get this error when I export", [file]))
        await slack.settle()

        conversation, messages = stored(slack)
        customer = [m for m in messages if m.role == Role.CUSTOMER]
        assert [m.text for m in customer] == ["error.png", "I get this error when I export"]
        [attachment] = customer[0].attachments
        assert attachment.content_type == "image/png" and attachment.name == "error.png"
        assert slack.bot.files.get(conversation.id, attachment.id) == png()
        # Fetched once, with the bot token, from the file's private URL.
        assert fake_slack.downloads == [(file["id"], "Bearer xoxb-test")]
        # The question was answered; the file itself is no turn.
        replies = fake_slack.posts("D_U1")
        assert len(replies) == 1 and "couldn't take" not in replies[0]["text"]

        # A file alone (no words) is stored and not answered.
        await slack.deliver(shared(slack, "U1", "", [fake_slack.share("invoice.pdf", PDF)]))
        await slack.settle()
        _, messages = stored(slack)
        assert messages[-1].text == "invoice.pdf"
        assert messages[-1].attachments[0].content_type == "application/pdf"
        assert len(fake_slack.posts("D_U1")) == 1
        assert slack.bot.files.get(conversation.id, messages[-1].attachments[0].id) == PDF


async def test_refused_files_get_a_polite_reply_and_nothing_is_stored(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(
        tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack, attachment_max_bytes=1000
    )
    async with running(settings, fake_embedder) as slack:
        page = fake_slack.share("totally-an-image.png", HTML)
        big = fake_slack.share("huge.png", png() + b"\x00" * 5000)
        lying = fake_slack.share("small.png", png() + b"\x00" * 5000, size=10)  # size is wrong
        elsewhere = dict(
            fake_slack.share("x.png", png()),
            url_private="http://files.evil.example/x.png",
            url_private_download="http://files.evil.example/x.png?download=1",
        )
        good = fake_slack.share("ok.png", png())
        files = [page, big, lying, elsewhere, good]
        await slack.deliver(shared(slack, "U1", "", files))
        await slack.settle()

        _, messages = stored(slack)
        attached = [a for m in messages for a in m.attachments]
        assert [a.name for a in attached] == ["ok.png"]
        [reply] = fake_slack.posts("D_U1")
        lines = reply["text"].split("\n")
        assert lines[0] == (
            "Sorry, I couldn't take *totally-an-image.png*: I can only take PNG, JPEG, GIF, "
            "WebP, PDF, plain text files."
        )
        assert lines[1] == "Sorry, I couldn't take *huge.png*: it is larger than the 1 KB limit."
        assert lines[2].startswith("Sorry, I couldn't take *small.png*: it is larger")
        assert lines[3] == (
            "Sorry, I couldn't take *x.png*: I couldn't fetch it from Slack; please send it again."
        )
        # The declared-too-large file was never downloaded, the foreign URL never got the token.
        downloaded = [file_id for file_id, _ in fake_slack.downloads]
        assert big["id"] not in downloaded and elsewhere["id"] not in downloaded
        assert sorted(downloaded) == sorted([page["id"], lying["id"], good["id"]])
        on_disk = [p for p in (settings.data_dir / "attachments").rglob("*") if p.is_file()]
        assert len(on_disk) == 1 and on_disk[0].read_bytes() == png()


async def test_a_file_needing_files_info_and_a_file_in_a_channel_thread(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        mention = channel_message("U1", "my export fails", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        file = fake_slack.share("trace.txt", b"Traceback: export failed\n", mimetype="text/plain")
        hidden = {"id": file["id"], "file_access": "check_file_info"}  # no URLs in the event
        thread_ts = mention["event"]["ts"]
        reply = channel_message(
            "U1", "", channel="C_HELP", thread_ts=thread_ts, subtype="file_share", files=[hidden]
        )
        await slack.deliver(reply)
        # Another user's file in the customer's thread is not theirs to add.
        other = channel_message(
            "U2",
            "",
            channel="C_HELP",
            thread_ts=thread_ts,
            subtype="file_share",
            files=[fake_slack.share("other.png", png())],
        )
        await slack.deliver(other)
        await slack.settle()

        _, messages = stored(slack)
        attached = [a for m in messages for a in m.attachments]
        assert [(a.name, a.content_type) for a in attached] == [("trace.txt", "text/plain")]
        assert fake_slack.count("files.info") == 1
        assert [d[0] for d in fake_slack.downloads] == [file["id"]]
        assert all(f"{TEAM_ID}-" not in p["text"] for p in fake_slack.posts("C_HELP"))


async def test_a_retried_event_attaches_its_file_once(tmp_path, fake_slack, fake_embedder):
    from bot.channels.slack import inbox

    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    real = inbox.conversations.handle_customer_message
    failures = []

    async def fails_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("the database went away after the file was stored")
        return await real(*args, **kwargs)

    async with running(settings, fake_embedder) as slack:
        inbox.conversations.handle_customer_message = fails_once
        try:
            file = fake_slack.share("error.png", png())
            await slack.deliver(shared(slack, "U1", "what does this mean?", [file]))
            await slack.settle()
        finally:
            inbox.conversations.handle_customer_message = real
        _, messages = stored(slack)
        assert failures == [1]
        assert [m.text for m in messages if m.role == Role.CUSTOMER] == [
            "error.png",
            "what does this mean?",
        ]
        assert len(fake_slack.downloads) == 2  # fetched again, stored once


async def test_the_owning_cme_shares_a_file_in_the_escalation_thread(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        cme = await add_cme(slack, "alex@example.com", "Alex", "U_ALEX")
        mention = channel_message("U1", "I want to talk to a human", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        [post] = fake_slack.posts(CME_CHANNEL)
        conversation, _ = stored(slack)
        thread = post["_ts"]

        def cme_share(user: str, text: str, name: str) -> dict:
            file = fake_slack.share(name, png())
            return channel_message(
                user,
                text,
                channel=CME_CHANNEL,
                thread_ts=thread,
                subtype="file_share",
                files=[file],
            )

        # Not the owner yet: refused, with the reason, and nothing reaches the customer.
        await slack.deliver(cme_share("U_ALEX", "", "early.png"))
        await slack.settle()
        assert "claim it first" in fake_slack.posts(CME_CHANNEL)[-1]["text"]
        await handoff.claim(slack.bot, conversation_id=conversation.id, user=cme)
        await slack.deliver(cme_share("U_ALEX", "Here is where to click", "steps.png"))
        await slack.deliver(cme_share("U_ALEX", "note: internal diagram", "internal.png"))
        await slack.settle()

        _, messages = stored(slack)
        agent = [m for m in messages if m.role == Role.AGENT]
        assert [m.text for m in agent] == ["steps.png", "Here is where to click"]
        assert agent[0].attachments[0].content_type == "image/png"
        assert list(fake_slack.uploads.values()) == [png()]  # only steps.png reached Slack
        to_customer = [p["text"] for p in fake_slack.posts("C_HELP")]
        assert any("steps.png" in text for text in to_customer)
        assert not any("internal" in text for text in to_customer)
        [told] = [
            p for p in fake_slack.accepted("chat.postEphemeral") if "Files shared" in p["text"]
        ]
        assert told["user"] == "U_ALEX"
