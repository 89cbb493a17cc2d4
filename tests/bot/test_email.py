"""Email follow-ups through a real SMTP server (aiosmtpd, in-process on loopback)."""

from __future__ import annotations

import socket
import time
from email import message_from_bytes
from email.policy import default as email_policy

import pytest
from aiosmtpd.controller import Controller

from tests.console.conftest import make_cme
from tests.utils import make_client, make_settings, say, start_conversation


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.mails: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mails.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=email_policy))
        )
        return "250 OK"

    def wait_for(self, count: int, timeout_s: float = 10) -> list:
        deadline = time.monotonic() + timeout_s
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.mails) >= count, f"{len(self.mails)} mails, expected {count}"
        return self.mails


@pytest.fixture
def smtp():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def mail_client(tmp_path, database_url, fake_embedder, **settings):
    values = make_settings(tmp_path, database_url, **settings)
    return make_client(values, fake_embedder)


def test_a_cme_reply_and_the_transcript_go_by_email(tmp_path, database_url, fake_embedder, smtp):
    with mail_client(
        tmp_path, database_url, fake_embedder,
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
        smtp_from="help@tallyo.example", bot_name="Tallyo's assistant",
    ) as client:  # fmt: skip
        assert '"mail": true' in client.get("/widget.js").text
        alice = make_cme(client.app, email="alice@example.com", name="Alice Agent")
        conversation_id, headers = start_conversation(client)
        path = f"/api/conversations/{conversation_id}"
        say(client, conversation_id, headers, "How do I export my data as CSV?")
        assert client.post(f"{path}/handoff", headers=headers).status_code == 200
        left = client.post(f"{path}/email", json={"email": "sam@example.com"}, headers=headers)
        assert left.status_code == 200
        early = client.post(f"{path}/transcript", headers=headers)
        assert early.status_code == 409  # not resolved yet

        cme = f"/api/cme/conversations/{conversation_id}"
        client.post(f"{cme}/claim", headers=alice.bearer)
        reply = "Go to **Settings > Data > Export**."
        assert client.post(f"{cme}/messages", json={"text": reply}, headers=alice.bearer).is_success
        client.post(f"{cme}/messages", json={"text": "secret", "note": True}, headers=alice.bearer)
        [(to, mail)] = smtp.wait_for(1)
        assert to == ["sam@example.com"] and mail["From"] == "help@tallyo.example"
        assert mail["Subject"] == "Alice Agent replied to your question"
        assert reply in mail.get_content()

        client.post(f"{cme}/resolve", headers=alice.bearer)
        sent = client.post(f"{path}/transcript", headers=headers)
        assert sent.json() == {"email": "sam@example.com"}
        [_, (to, transcript)] = smtp.wait_for(2)
        text = transcript.get_content().replace("\r\n", "\n")
        assert "You:\nHow do I export my data as CSV?" in text
        assert "Tallyo's assistant:" in text and "Alice Agent:\nGo to **Settings" in text
        assert "secret" not in text
        again = client.post(f"{path}/transcript", headers=headers)
        assert again.status_code == 409
        other_id, other = start_conversation(client)
        refused = client.post(f"/api/conversations/{other_id}/transcript", headers=headers)
        assert refused.status_code == 403


def test_without_smtp_there_is_no_email_and_no_transcript(tmp_path, database_url, fake_embedder):
    with mail_client(tmp_path, database_url, fake_embedder) as client:
        assert '"mail": false' in client.get("/widget.js").text
        conversation_id, headers = start_conversation(client)
        response = client.post(f"/api/conversations/{conversation_id}/transcript", headers=headers)
        assert response.status_code in (404, 405)
