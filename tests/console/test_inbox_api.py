"""The inbox's JSON: queue views and cards, suggestions over the whole conversation, ratings
and thumbs on the packet, CME names on replies; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.conversation import suggestion_query
from bot.storage import Message, Role
from tests.console.conftest import console_app, make_cme
from tests.utils import make_settings, say, start_conversation


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    app = console_app(make_settings(tmp_path, database_url), fake_embedder)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.alice = make_cme(app, email="alice@example.com", name="Alice Agent")
        client.bob = make_cme(app, email="bob@example.com", name="Bob")
        yield client


def escalate(client: TestClient, *turns: str, **customer: str) -> tuple[str, dict[str, str]]:
    conversation_id, headers = start_conversation(client, **customer)
    for text in turns:
        say(client, conversation_id, headers, text)
    response = client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
    assert response.status_code == 200, response.text
    return conversation_id, headers


def cme(client: TestClient, method: str, path: str, who: str = "alice", **kwargs):
    headers = getattr(client, who).bearer
    response = client.request(method, f"/api/cme{path}", headers=headers, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def view(client: TestClient, name: str, who: str = "alice") -> list[str]:
    return [row["id"] for row in cme(client, "GET", f"/queue?view={name}", who)["conversations"]]


def test_queue_views_split_mine_unassigned_all_and_resolved(client):
    waiting, _ = escalate(client, "How do I export my data as CSV?")
    mine, _ = escalate(client, "My refund never arrived")
    bobs, _ = escalate(client, "Where are my invoices?")
    done, _ = escalate(client, "Reset my password please")
    cme(client, "POST", f"/conversations/{mine}/claim")
    cme(client, "POST", f"/conversations/{bobs}/claim", "bob")
    cme(client, "POST", f"/conversations/{done}/resolve")

    assert view(client, "mine") == [mine]
    assert view(client, "mine", "bob") == [bobs]
    assert view(client, "unassigned") == [waiting]
    assert sorted(view(client, "all")) == sorted([waiting, mine, bobs])
    assert view(client, "resolved") == [done]
    refused = client.get("/api/cme/queue?view=everything", headers=client.alice.bearer)
    assert refused.status_code == 422


def test_queue_cards_carry_the_main_question_not_only_the_latest_message(client):
    conversation_id, headers = escalate(
        client, "My invoice for March shows the wrong amount", "yes please"
    )
    [card] = cme(client, "GET", "/queue?view=unassigned")["conversations"]
    assert card["id"] == conversation_id
    assert card["main_question"] == "My invoice for March shows the wrong amount"
    assert card["latest_message"] == "yes please"


def test_suggestions_read_the_latest_turn_with_the_question_it_answers(client):
    conversation_id, _ = escalate(client, "Where can I download my invoices?", "It's INV-2041")
    body = cme(client, "GET", f"/conversations/{conversation_id}/suggestions")
    assert body["query"] == "Where can I download my invoices?\nIt's INV-2041"
    assert body["articles"][0]["article_id"] == "billing/invoices"


@pytest.mark.parametrize(
    ("turns", "query"),
    [
        ([], None),
        (["hi"], "hi"),
        (
            ["My card was charged twice", "ok", "It's INV-2041"],
            "My card was charged twice\nIt's INV-2041",
        ),
        (["a" * 990, "It's INV-2041"], "a" * 990),
    ],
)
def test_suggestion_query_is_the_main_question_and_the_latest_turns(turns, query):
    small_talk = {"hi", "ok"}
    messages = [
        Message(
            conversation_id="c",
            seq=seq,
            role=Role.CUSTOMER,
            text=text,
            scores={"small_talk": text in small_talk},
        )
        for seq, text in enumerate(turns, start=1)
    ]
    assert suggestion_query(messages) == query


def test_the_packet_shows_the_rating_and_thumbs_and_replies_carry_the_cme_name(client):
    conversation_id, headers = escalate(client, "How do I export my data as CSV?")
    cme(client, "POST", f"/conversations/{conversation_id}/claim")
    cme(
        client,
        "POST",
        f"/conversations/{conversation_id}/messages",
        json={"text": "Done: see [export](https://x.test/export)"},
    )
    seen = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    by_role = {message["role"]: message for message in seen["messages"]}
    assert by_role["agent"]["author"] == "Alice Agent"
    assert by_role["customer"]["author"] is None and by_role["bot"]["author"] is None
    answer = by_role["bot"]["seq"]
    feedback = client.post(
        f"/api/conversations/{conversation_id}/feedback",
        json={"seq": answer, "helpful": False},
        headers=headers,
    )
    assert feedback.status_code == 200, feedback.text
    cme(client, "POST", f"/conversations/{conversation_id}/resolve")
    rated = client.post(
        f"/api/conversations/{conversation_id}/csat",
        json={"rating": 2, "comment": "slow"},
        headers=headers,
    )
    assert rated.status_code == 200, rated.text
    packet = cme(client, "GET", f"/conversations/{conversation_id}")
    assert packet["csat"]["rating"] == 2 and packet["csat"]["comment"] == "slow"
    assert packet["feedback"] == [{"seq": answer, "helpful": False}]


def test_a_rating_and_a_thumb_reach_the_console_watching_the_conversation(client):
    from tests.console.conftest import sign_in
    from tests.console.test_console_auth import ORIGIN, next_pushed

    conversation_id, headers = escalate(client, "How do I export my data as CSV?")
    answer = next(
        message["seq"]
        for message in client.get(
            f"/api/conversations/{conversation_id}/messages", headers=headers
        ).json()["messages"]
        if message["role"] == "bot"
    )
    cme(client, "POST", f"/conversations/{conversation_id}/claim")
    cme(client, "POST", f"/conversations/{conversation_id}/messages", json={"text": "Here it is"})
    cme(client, "POST", f"/conversations/{conversation_id}/resolve")
    sign_in(client, "alice@example.com")
    with client.websocket_connect("/api/cme/ws", headers=dict(ORIGIN)) as socket:
        socket.send_json({"type": "watch", "conversation_id": conversation_id})
        next_pushed(socket, "watching")
        client.post(
            f"/api/conversations/{conversation_id}/feedback",
            json={"seq": answer, "helpful": False},
            headers=headers,
        )
        thumb = next_pushed(socket, "conversation")
        assert thumb["event"] == {"type": "feedback", "seq": answer, "helpful": False}
        client.post(
            f"/api/conversations/{conversation_id}/csat",
            json={"rating": 4, "comment": "quick"},
            headers=headers,
        )
        rating = next_pushed(socket, "conversation")
        assert rating["conversation_id"] == conversation_id
        assert rating["event"] == {"type": "csat", "rating": 4, "comment": "quick"}
