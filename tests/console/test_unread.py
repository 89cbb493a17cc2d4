"""Unread counts: per CME and conversation, the customer messages that CME has not seen; opening
(marking read) clears them for that CME only, the mark never moves backwards, concurrent marks
keep the highest, and another instance on the same database sees the same counts; on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.cme.unread import mark_read, unread_counts
from bot.storage import ConversationRead, Message, Role, utcnow
from tests.console.conftest import console_app, make_cme, sign_in
from tests.console.test_console_auth import ORIGIN, next_pushed
from tests.utils import make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.alice = make_cme(app, email="alice@example.com", name="Alice")
        client.bob = make_cme(app, email="bob@example.com", name="Bob")
        yield client


def escalate(client, *turns: str) -> tuple[str, dict[str, str]]:
    conversation_id, headers = start_conversation(client, name="Grace")
    for text in turns:
        say(client, conversation_id, headers, text)
    assert client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers).is_success
    return conversation_id, headers


def unread(client, who, view: str = "all") -> dict[str, int]:
    response = client.get(f"/api/cme/queue?view={view}", headers=who.bearer)
    assert response.status_code == 200, response.text
    return {row["id"]: row["unread"] for row in response.json()["conversations"]}


def read(client, who, conversation_id: str, **body):
    return client.post(
        f"/api/cme/conversations/{conversation_id}/read", json=body or None, headers=who.bearer
    )


def test_customer_messages_are_unread_for_each_cme_until_they_open_it(client):
    first, headers = escalate(client, "How do I export my data?", "As CSV please")
    second, _ = escalate(client, "Where is my invoice?")
    assert unread(client, client.alice) == {first: 2, second: 1}
    assert unread(client, client.bob) == {first: 2, second: 1}

    marked = read(client, client.alice, first)
    assert marked.status_code == 200, marked.text
    assert unread(client, client.alice) == {first: 0, second: 1}
    assert unread(client, client.bob) == {first: 2, second: 1}  # Bob has not seen it

    say(client, first, headers, "Hello? Anyone there?")
    assert unread(client, client.alice)[first] == 1
    assert unread(client, client.alice, view="unassigned")[first] == 1
    client.post(
        f"/api/cme/conversations/{first}/messages",
        json={"text": "looking into it", "note": True},
        headers=client.bob.bearer,
    )
    assert unread(client, client.alice)[first] == 1  # only customer messages count


def test_the_read_mark_never_moves_backwards_nor_past_the_last_message(client):
    conversation_id, headers = escalate(client, "How do I export my data?", "As CSV please")
    latest = read(client, client.alice, conversation_id).json()["last_read_seq"]
    assert latest >= 2
    assert read(client, client.alice, conversation_id, seq=1).json()["last_read_seq"] == latest
    assert read(client, client.alice, conversation_id, seq=10_000).json()["last_read_seq"] == latest
    say(client, conversation_id, headers, "one more thing")
    assert unread(client, client.alice)[conversation_id] == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/cme/conversations/nosuchconversation/read", None, 404),
        ("/api/cme/conversations/bad%00id/read", None, 422),
        ("/api/cme/conversations/{id}/read", {"seq": -1}, 422),
        ("/api/cme/conversations/{id}/read", {"seq": 2**40}, 422),
        ("/api/cme/conversations/{id}/read", {"seq": "x"}, 422),
        ("/api/cme/conversations/{id}/read", {"upto": 1}, 422),
    ],
)
def test_bad_read_marks_get_a_clear_4xx(client, path, body, status):
    conversation_id, _ = escalate(client, "How do I export my data?")
    response = client.post(path.format(id=conversation_id), json=body, headers=client.alice.bearer)
    assert response.status_code == status, response.text


def test_concurrent_read_marks_keep_the_highest(client):
    conversation_id, headers = escalate(client, *(f"message {n}" for n in range(6)))
    bot = client.app.state.bot
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def mark(seq: int) -> None:
        try:
            barrier.wait()
            with bot.db.write() as session:
                mark_read(
                    session,
                    user_id=client.alice.id,
                    conversation_id=conversation_id,
                    now=utcnow(),
                    seq=seq,
                )
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=mark, args=(seq,)) for seq in (1, 3, 5, 2, 7, 4, 6, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with bot.db.read() as session:
        stored = session.get(ConversationRead, (client.alice.id, conversation_id))
        assert stored.last_read_seq == 7
        counts = unread_counts(session, user_id=client.alice.id, conversation_ids=[conversation_id])
        customer_seqs = session.scalars(
            select(Message.seq).where(
                Message.conversation_id == conversation_id, Message.role == Role.CUSTOMER
            )
        ).all()
    assert counts.get(conversation_id, 0) == sum(1 for seq in customer_seqs if seq > 7) > 0


def test_another_instance_on_the_same_database_sees_the_same_marks(
    tmp_path, database_url, fake_embedder, client
):
    conversation_id, _ = escalate(client, "How do I export my data?")
    assert read(client, client.alice, conversation_id).status_code == 200
    other = console_app(make_settings(tmp_path / "other", database_url), fake_embedder)
    with TestClient(other) as second:
        assert unread(second, client.alice) == {conversation_id: 0}
        assert unread(second, client.bob) == {conversation_id: 1}


def test_the_live_queue_carries_the_signed_in_cmes_unread_counts(client):
    conversation_id, headers = escalate(client, "How do I export my data?")
    read(client, client.bob, conversation_id)
    sign_in(client, "bob@example.com")
    with client.websocket_connect("/api/cme/ws", headers=dict(ORIGIN)) as socket:
        pushed = next_pushed(socket, "queue")
        assert [row["unread"] for row in pushed["conversations"]] == [0]
        say(client, conversation_id, headers, "Still there?")
        while True:
            rows = next_pushed(socket, "queue")["conversations"]
            if rows and rows[0]["unread"] == 1:
                break


def test_erasing_the_customer_removes_the_read_marks(client):
    conversation_id, headers = start_conversation(client, id="cust-erased", name="Grace")
    say(client, conversation_id, headers, "How do I export my data?")
    assert read(client, client.alice, conversation_id).status_code == 200
    erased = client.delete("/api/cme/customers?customer_id=cust-erased", headers=client.bob.bearer)
    assert erased.status_code == 200, erased.text
    with client.app.state.bot.db.read() as session:
        assert session.scalars(select(ConversationRead)).all() == []
