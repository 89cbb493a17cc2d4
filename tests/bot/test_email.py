"""Email follow-ups through a real SMTP server (aiosmtpd, in-process on loopback)."""

from __future__ import annotations

import asyncio
import socket
import time
from email import message_from_bytes
from email.policy import default as email_policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.channels.email import Mailer, MailOptions
from bot.storage import Conversation, Database, EmailOutbox
from tests.console.conftest import make_cme
from tests.utils import make_client, make_settings, say, start_conversation


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.mails: list = []
        self.refuse: set[str] = set()  # recipients answered 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

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


FAST = MailOptions(poll_interval_s=0.1, backoff_base_s=0.1, backoff_max_s=0.3)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outbox_rows(client) -> list[EmailOutbox]:
    with client.app.state.bot.db.read() as session:
        return list(session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)))


def wait_until(predicate, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_reply_queued_while_smtp_is_down_is_sent_after_a_restart(
    tmp_path, database_url, fake_embedder, smtp
):
    mail = {"smtp_starttls": False, "smtp_from": "help@tallyo.example"}
    down = mail_client(
        tmp_path, database_url, fake_embedder, smtp_host="127.0.0.1", smtp_port=closed_port(),
        **mail,
    )  # fmt: skip
    down.app.state.mailer.options = FAST
    with down as client:
        alice = make_cme(client.app, email="alice@example.com", name="Alice Agent")
        conversation_id, headers = start_conversation(client)
        path = f"/api/conversations/{conversation_id}"
        say(client, conversation_id, headers, "How do I export my data as CSV?")
        client.post(f"{path}/handoff", headers=headers)
        client.post(f"{path}/email", json={"email": "sam@example.com"}, headers=headers)
        cme = f"/api/cme/conversations/{conversation_id}"
        client.post(f"{cme}/claim", headers=alice.bearer)
        reply = client.post(f"{cme}/messages", json={"text": "Use Export."}, headers=alice.bearer)
        assert reply.is_success
        wait_until(lambda: outbox_rows(client)[0].attempts >= 2)  # retried with backoff
        [row] = outbox_rows(client)
        assert row.status == "pending" and row.sent_at is None
        assert row.error and row.next_try_at > row.created_at
    assert smtp.mails == []

    # Restarted with the SMTP server reachable: the stored mail goes, once.
    up = mail_client(
        tmp_path, database_url, fake_embedder, smtp_host="127.0.0.1", smtp_port=smtp.port, **mail
    )
    up.app.state.mailer.options = FAST
    with up as client:
        [(to, sent)] = smtp.wait_for(1)
        assert to == ["sam@example.com"] and "Use Export." in sent.get_content()
        wait_until(lambda: outbox_rows(client)[0].sent_at is not None)
        [row] = outbox_rows(client)
        assert row.status == "sent" and row.attempts >= 3 and row.error is None
        time.sleep(0.5)
        assert len(smtp.mails) == 1


def test_a_mail_the_server_refuses_for_good_is_not_retried(
    tmp_path, database_url, fake_embedder, smtp
):
    smtp.refuse = {"bounce@example.com"}
    client = mail_client(
        tmp_path, database_url, fake_embedder,
        smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
    )  # fmt: skip
    client.app.state.mailer.options = FAST
    with client:
        bot = client.app.state.bot
        mailer = client.app.state.mailer
        with bot.db.write() as session:
            mailer.enqueue(
                session, dedupe_key="t:1", to="bounce@example.com", subject="s", body="b"
            )
            mailer.enqueue(session, dedupe_key="t:2", to="ok@example.com", subject="s", body="b")
        smtp.wait_for(1)
        wait_until(lambda: all(row.status != "pending" for row in outbox_rows(client)))
        bounced, delivered = outbox_rows(client)
        assert bounced.status == "failed" and bounced.attempts == 1 and "550" in bounced.error
        assert delivered.status == "sent"


async def test_two_senders_on_one_database_send_each_mail_once(tmp_path, database_url, smtp):
    settings = make_settings(
        tmp_path, database_url, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False
    )
    databases = [Database(settings.database_url) for _ in range(2)]
    databases[0].migrate()
    options = MailOptions(poll_interval_s=0.05, batch=3)
    senders = [Mailer(db, settings, options) for db in databases]
    with databases[0].write() as session:
        session.add(Conversation(id="c" * 32, token_hash="x", channel="web"))
        session.flush()
        for n in range(30):
            senders[0].enqueue(
                session, dedupe_key=f"m:{n}", to=f"n{n}@example.com", subject=f"mail {n}", body="b"
            )
    tasks = [asyncio.create_task(sender.run()) for sender in senders]
    try:
        deadline = time.monotonic() + 20
        while len(smtp.mails) < 30 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # time for a duplicate to show up, if one were sent
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for db in databases:
            db.dispose()
    subjects = sorted(mail["Subject"] for _, mail in smtp.mails)
    assert subjects == sorted(f"mail {n}" for n in range(30))


def test_erasure_removes_queued_mail(tmp_path, database_url, fake_embedder, smtp):
    client = mail_client(
        tmp_path, database_url, fake_embedder,
        smtp_host="127.0.0.1", smtp_port=closed_port(), smtp_starttls=False,
    )  # fmt: skip
    with client:
        alice = make_cme(client.app, email="alice@example.com", name="Alice Agent")
        conversation_id, headers = start_conversation(client, id="cust-erase")
        path = f"/api/conversations/{conversation_id}"
        client.post(f"{path}/handoff", headers=headers)
        client.post(f"{path}/email", json={"email": "sam@example.com"}, headers=headers)
        cme = f"/api/cme/conversations/{conversation_id}"
        client.post(f"{cme}/claim", headers=alice.bearer)
        client.post(f"{cme}/messages", json={"text": "Hello"}, headers=alice.bearer)
        assert len(outbox_rows(client)) == 1
        receipt = client.delete(
            "/api/cme/customers", params={"customer_id": "cust-erase"}, headers=alice.bearer
        ).json()
        assert receipt["removed"]["email_outbox"] == 1
        assert outbox_rows(client) == []
