"""A CME's file reaches a Slack customer (issue 19): uploaded into their thread through the Web
API (files.getUploadURLExternal, the bytes, files.completeUploadExternal), after a signed link
in the reply that fetches the file without credentials until it expires, and nothing else."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.conversation import handoff
from bot.conversation.attachments import attach
from bot.storage import Conversation
from tests.bot.test_attachments import png
from tests.slack.kit import channel_message, running, slack_settings
from tests.slack.test_slack_flow import add_cme

LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


async def test_a_cme_file_reaches_the_slack_customer_as_a_working_link(
    tmp_path, fake_slack, fake_embedder
):
    settings = slack_settings(tmp_path, f"sqlite:///{tmp_path / 'slack.db'}", fake_slack)
    async with running(settings, fake_embedder) as slack:
        cme = await add_cme(slack, "alex@example.com", "Alex", None)
        mention = channel_message("U1", "I want to talk to a human", channel="C_HELP", mention=True)
        await slack.deliver(mention)
        await slack.settle()
        with slack.bot.db.read() as session:
            conversation = session.scalars(select(Conversation)).one()
        await handoff.claim(slack.bot, conversation_id=conversation.id, user=cme)
        await attach(
            slack.bot, conversation_id=conversation.id, name="steps.png", data=png(), user=cme
        )
        await slack.settle()
        post = fake_slack.posts("C_HELP")[-1]
        assert post["thread_ts"] == mention["event"]["ts"]
        [(url, name)] = LINK.findall(post["text"])
        assert name == "steps.png" and post["text"].startswith("*Alex*")
        [complete] = fake_slack.accepted("files.completeUploadExternal")
        assert complete["channel_id"] == "C_HELP"
        assert complete["thread_ts"] == mention["event"]["ts"]
        [upload] = fake_slack.accepted("files.getUploadURLExternal")
        assert upload["filename"] == "steps.png" and int(upload["length"]) == len(png())
        assert list(fake_slack.uploads.values()) == [png()]
        path = url.removeprefix(settings.public_url.rstrip("/"))
        assert path.startswith("/api/attachments/")

        served = await slack.client.get(path)
        assert served.status_code == 200 and served.content == png()
        assert served.headers["x-content-type-options"] == "nosniff"
        tampered = re.sub(r"signature=[0-9a-f]", "signature=0", path)
        tampered = tampered if tampered != path else path.replace("signature=0", "signature=1")
        assert (await slack.client.get(tampered)).status_code == 403
        expired = re.sub(r"expires=\d+", "expires=1", path)
        assert (await slack.client.get(expired)).status_code == 403
