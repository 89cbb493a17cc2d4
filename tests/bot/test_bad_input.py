"""Hostile or unlucky input through the real app, on SQLite and PostgreSQL: every request is
answered with a clear 4xx or stored, and nothing accepted is lost (issue 14)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage import Conversation, Csat, Message
from tests.utils import make_client, make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    with make_client(make_settings(tmp_path, database_url), fake_embedder) as client:
        yield client


def stored_conversation(client, conversation_id: str) -> Conversation:
    with client.app.state.bot.db.read() as session:
        conversation = session.get(Conversation, conversation_id)
        session.expunge(conversation)
        return conversation


def stored_customer_texts(client, conversation_id: str) -> list[str]:
    with client.app.state.bot.db.read() as session:
        return list(
            session.scalars(
                select(Message.text)
                .where(Message.conversation_id == conversation_id, Message.role == "customer")
                .order_by(Message.seq)
            )
        )


def test_control_characters_are_dropped_and_the_message_kept_across_retries(client):
    conversation_id, headers = start_conversation(client)
    text = "How do I\x00 export\x07 my data?\tnow\x9b"
    first = say(client, conversation_id, headers, text, client_msg_id="nul-1")
    retry = say(client, conversation_id, headers, text, client_msg_id="nul-1")
    assert first.status_code == retry.status_code == 200, first.text
    assert first.json() == retry.json()
    assert first.json()["message"]["text"] == "How do I export my data?\tnow"
    assert stored_customer_texts(client, conversation_id) == ["How do I export my data?\tnow"]


def test_message_of_only_control_characters_gets_422(client):
    conversation_id, headers = start_conversation(client)
    response = say(client, conversation_id, headers, "\x00\x01 \x1f")
    assert response.status_code == 422, response.text
    assert "text" in response.json()["detail"]
    assert stored_customer_texts(client, conversation_id) == []


def test_customer_name_with_nul_is_stored_without_it(client):
    conversation_id, _ = start_conversation(client, name="Ada\x00 Lovelace")
    assert stored_conversation(client, conversation_id).customer_name == "Ada Lovelace"


def test_customer_id_with_control_characters_gets_422(client):
    response = client.post("/api/conversations", json={"customer": {"id": "cust\x00-1"}})
    assert response.status_code == 422, response.text
    assert "customer.id" in response.json()["detail"]


def test_overlong_email_in_a_message_is_not_copied_but_the_message_is_kept(client):
    conversation_id, headers = start_conversation(client)
    overlong = "x" * 250 + "@example.com"
    first = say(client, conversation_id, headers, f"write to {overlong} please")
    assert first.status_code == 200, first.text
    assert stored_conversation(client, conversation_id).customer_email is None
    second = say(client, conversation_id, headers, "or sam@example.com")
    assert second.status_code == 200, second.text
    assert stored_conversation(client, conversation_id).customer_email == "sam@example.com"
    assert len(stored_customer_texts(client, conversation_id)) == 2


def test_csat_comment_with_nul_is_stored_without_it(client):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/csat"
    response = client.post(url, json={"rating": 4, "comment": "fine\x00 really"}, headers=headers)
    assert response.status_code == 200, response.text
    with client.app.state.bot.db.read() as session:
        comment = session.scalars(select(Csat.comment)).one()
    assert comment == "fine really"


@pytest.mark.parametrize("conversation_id", ["abc%00def", "x" * 300])
def test_malformed_conversation_id_gets_422(client, conversation_id):
    _, headers = start_conversation(client)
    response = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
    assert response.status_code == 422, response.text
    assert "conversation_id" in response.json()["detail"]
