"""Hostile or unlucky input through the real app, on SQLite and PostgreSQL: every request is
answered with a clear 4xx or stored, and nothing accepted is lost (issue 14)."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import create_app
from bot.storage import Conversation, Csat, Message, store
from embedding import FakeEmbedder
from tests.utils import make_client, make_cmes, make_settings, say, start_conversation


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


# ---- Finding 4: integers outside what the database holds ------------------------------------


@pytest.mark.parametrize("after", [2**31, 2**63, 10**30])
def test_messages_after_beyond_any_seq_gets_422(client, after):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/messages?after={after}"
    response = client.get(url, headers=headers)
    assert response.status_code == 422, response.text
    assert "after" in response.json()["detail"]


@pytest.mark.parametrize("seq", [2**31, 10**30])
def test_feedback_on_a_seq_beyond_any_seq_gets_422(client, seq):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/feedback"
    response = client.post(url, json={"seq": seq, "helpful": True}, headers=headers)
    assert response.status_code == 422, response.text
    assert "seq" in response.json()["detail"]


@pytest.mark.parametrize("to_user_id", [2**31, 10**30])
def test_transfer_to_a_user_id_beyond_any_id_gets_422(client, to_user_id):
    with client.app.state.bot.db.write() as session:
        [(_, token)] = make_cmes(session, 1)
    conversation_id, _ = start_conversation(client)
    response = client.post(
        f"/api/cme/conversations/{conversation_id}/transfer",
        json={"to_user_id": to_user_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 422, response.text
    assert "to_user_id" in response.json()["detail"]


@pytest.mark.parametrize("after", [2**31, 2**63])
def test_socket_hello_after_beyond_any_seq_is_refused_with_4400(tmp_path, database_url, after):
    origin = "https://shop.example"
    settings = make_settings(tmp_path, database_url, allowed_origins=origin)
    with make_client(settings, FakeEmbedder()) as client:
        conversation_id, headers = start_conversation(client)
        token = headers["Authorization"].removeprefix("Bearer ")
        url = f"/ws/conversations/{conversation_id}"
        with client.websocket_connect(url, headers={"origin": origin}) as socket:
            socket.send_json({"type": "hello", "token": token, "after": after})
            error = socket.receive_json()
    assert error["type"] == "error" and error["code"] == 4400, error
    assert "after" in error["detail"]


def test_unexpected_error_is_a_generic_500_logged_in_one_line(
    tmp_path, database_url, fake_embedder, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("boom\n" + "SELECT private customer text\n" * 50)

    settings = make_settings(tmp_path, database_url)
    # Exceptions that escape the app would reach the server's log as a second traceback.
    with TestClient(create_app(settings, embedder=fake_embedder)) as client:
        conversation_id, headers = start_conversation(client)
        monkeypatch.setattr(store, "list_messages", broken)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            response = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
    assert response.status_code == 500
    body = response.json()
    assert body["detail"] == f"internal error (error id {body['error_id']})"
    assert "boom" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    errors = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(errors) == 1, [record.getMessage() for record in errors]
    line = errors[0].getMessage()
    assert body["error_id"] in line and "RuntimeError" in line
    assert "\n" not in line and errors[0].exc_info is None
    assert "private customer text" not in caplog.text


@pytest.mark.parametrize("padding", ["\x00", " ", "\x9b"])
def test_text_over_its_documented_max_length_gets_422_whatever_it_is_padded_with(client, padding):
    """The OpenAPI maxLength counts the characters as sent, before trimming and cleaning."""
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}"
    cme = {"Authorization": f"Bearer {cme_token(client)}"}
    answers = [
        client.post("/api/conversations", json={"customer": {"name": "a" + padding * 200}}),
        client.post("/api/conversations", json={"customer": {"company": "a" + padding * 200}}),
        say(client, conversation_id, headers, "a" + padding * 4000),
        client.post(
            f"{url}/csat", json={"rating": 5, "comment": "a" + padding * 2000}, headers=headers
        ),
        client.post(
            f"/api/cme/conversations/{conversation_id}/messages",
            json={"text": "a" + padding * 4000},
            headers=cme,
        ),
    ]
    assert [answer.status_code for answer in answers] == [422] * 5, [a.text for a in answers]
    assert stored_customer_texts(client, conversation_id) == []


def cme_token(client) -> str:
    with client.app.state.bot.db.write() as session:
        [(_, token)] = make_cmes(session, 1)
    return token


@pytest.mark.parametrize("value", [False, True, "1"])
def test_integer_fields_refuse_booleans_and_strings(client, value):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}"
    cme = {"Authorization": f"Bearer {cme_token(client)}"}
    answers = [
        client.post("/api/conversations", json={"customer": {"id": "0", "expires": value}}),
        client.post(f"{url}/feedback", json={"seq": value, "helpful": True}, headers=headers),
        client.post(f"{url}/csat", json={"rating": value}, headers=headers),
        client.post(
            f"/api/cme/conversations/{conversation_id}/transfer",
            json={"to_user_id": value},
            headers=cme,
        ),
    ]
    assert [answer.status_code for answer in answers] == [422] * 4, [a.text for a in answers]


def test_a_whole_float_is_an_integer_as_json_schema_says(client):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}"
    assert client.post(f"{url}/csat", json={"rating": 4.0}, headers=headers).status_code < 300
    assert client.post(f"{url}/csat", json={"rating": 4.5}, headers=headers).status_code == 422


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_boolean_fields_refuse_numbers_and_strings(client, value):
    conversation_id, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}"
    cme = {"Authorization": f"Bearer {cme_token(client)}"}
    answers = [
        client.post("/api/conversations", json={"customer": {"id": "0", "vip": value}}),
        client.post(f"{url}/feedback", json={"seq": 1, "helpful": value}, headers=headers),
        client.post(
            f"/api/cme/conversations/{conversation_id}/typing", json={"on": value}, headers=cme
        ),
        client.post(
            f"/api/cme/conversations/{conversation_id}/vip", json={"vip": value}, headers=cme
        ),
        client.post(
            f"/api/cme/conversations/{conversation_id}/messages",
            json={"text": "hi", "note": value},
            headers=cme,
        ),
    ]
    assert [answer.status_code for answer in answers] == [422] * 5, [a.text for a in answers]


@pytest.mark.parametrize("email", ["x@y.test", "a@b.LOCAL", "a@localhost", "a@b.onion"])
def test_special_use_email_domains_are_refused_as_the_openapi_document_says(client, email):
    answer = client.post("/api/conversations", json={"customer": {"email": email}})
    assert answer.status_code == 422, answer.text
    schema = client.get("/openapi.json").json()
    [pattern] = _email_patterns(schema)
    assert re.search(pattern, email) is None
    assert re.search(pattern, "sam@example.com")


def _email_patterns(node) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if node.get("format") == "email" and "pattern" in node else []
        return found + [p for value in node.values() for p in _email_patterns(value)]
    if isinstance(node, list):
        return [p for value in node for p in _email_patterns(value)]
    return []


def test_control_characters_in_search_and_saved_replies_never_reach_the_database(client):
    start_conversation(client)
    cme = {"Authorization": f"Bearer {cme_token(client)}"}
    found = client.get(
        "/api/cme/search", params={"q": "exp\x00ort", "article": "billing\x00/x"}, headers=cme
    )
    assert found.status_code == 200, found.text
    made = client.post(
        "/api/cme/saved-replies", json={"title": "Hi\x00 there", "text": "Hello"}, headers=cme
    )
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Hi there"
