"""The widget socket protocol through the real app (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from bot.events import conversation_topic, message_event
from bot.storage import Role, store
from tests.utils import make_client, make_settings, say, start_conversation

HOST = "https://shop.example"


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(tmp_path, database_url, allowed_origins=HOST, socket_forget_after_s=30)
    with make_client(settings, fake_embedder) as client:
        yield client


def connect(client, conversation_id, origin=HOST):
    headers = {"origin": origin} if origin else {}
    return client.websocket_connect(f"/ws/conversations/{conversation_id}", headers=headers)


def hello(socket, token, after=0):
    socket.send_json({"type": "hello", "token": token, "after": after})
    welcome = socket.receive_json()
    assert welcome["type"] == "welcome", welcome
    return welcome


def token_of(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def feeds(client):
    return client.app.state.widget_feeds


@pytest.mark.parametrize("origin", ["https://evil.example", "null", None])
def test_handshake_from_other_or_missing_origin_is_refused_with_403(client, origin):
    conversation_id, _ = start_conversation(client)
    with pytest.raises(WebSocketDenialResponse) as refused:
        with connect(client, conversation_id, origin=origin):
            pass
    assert refused.value.status_code == 403
    assert "SUPPORTBOT_ALLOWED_ORIGINS" in refused.value.json()["detail"]


def test_app_own_pages_may_open_sockets(client):
    conversation_id, headers = start_conversation(client)
    with connect(client, conversation_id, origin="http://127.0.0.1:8000") as socket:
        assert hello(socket, token_of(headers))["status"] == "bot"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "hello", "token": "wrong-token"}, 4403),
        ({"type": "hello"}, 4401),
        ({"type": "hello", "token": "t", "after": -1}, 4400),
        ({"type": "hello", "token": "t", "after": "3"}, 4400),
        ({"type": "subscribe"}, 4400),
        (["not", "an", "object"], 4400),
    ],
)
def test_bad_hello_is_answered_with_an_error_and_a_close_code(client, frame, code):
    conversation_id, _ = start_conversation(client)
    with connect(client, conversation_id) as socket:
        socket.send_json(frame)
        error = socket.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["detail"]
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == code


def test_unknown_conversation_closes_with_4404(client):
    with connect(client, "0" * 32) as socket:
        socket.send_json({"type": "hello", "token": "whatever"})
        assert socket.receive_json()["code"] == 4404


def test_welcome_carries_messages_after_the_given_seq_in_order(client):
    conversation_id, headers = start_conversation(client)
    say(client, conversation_id, headers, "How do I export my data?")
    say(client, conversation_id, headers, "Where can I download my invoices?")
    with connect(client, conversation_id) as socket:
        welcome = hello(socket, token_of(headers), after=2)
    assert [m["seq"] for m in welcome["messages"]] == [3, 4]
    assert [m["role"] for m in welcome["messages"]] == ["customer", "bot"]
    assert welcome["messages"][1]["citations"][0]["article_id"] == "billing/invoices"


def test_live_turn_arrives_as_message_and_typing_events(client):
    conversation_id, headers = start_conversation(client)
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        say(client, conversation_id, headers, "How do I export my data?")
        events = [socket.receive_json() for _ in range(4)]
    assert [e["type"] for e in events] == ["message", "typing", "typing", "message"]
    assert [e["on"] for e in events if e["type"] == "typing"] == [True, False]
    assert [e["message"]["seq"] for e in events if e["type"] == "message"] == [1, 2]


def test_handoff_status_reaches_the_socket(client):
    conversation_id, headers = start_conversation(client)
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        client.post(f"/api/conversations/{conversation_id}/handoff", headers=headers)
        events = [socket.receive_json() for _ in range(2)]
    assert events[0]["type"] == "message" and events[0]["message"]["role"] == "bot"
    assert events[1] == {"type": "status", "status": "waiting"}


def test_ping_gets_pong_and_other_frames_after_hello_close_the_socket(client):
    conversation_id, headers = start_conversation(client)
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}
        socket.send_text("x" * 10_000)
        assert socket.receive_json()["code"] == 4400


def test_messages_published_out_of_order_reach_the_socket_in_seq_order(client):
    """Two writers can finish in either order; the feed fills the gap from the database."""
    conversation_id, headers = start_conversation(client)
    bot = client.app.state.bot
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        with bot.db.write() as session:
            first = store.add_message(
                session, conversation_id=conversation_id, role=Role.AGENT, text="one"
            )
            second = store.add_message(
                session, conversation_id=conversation_id, role=Role.AGENT, text="two"
            )
        topic = conversation_topic(conversation_id)
        client.portal.call(bot.bus.publish, topic, message_event(second))
        client.portal.call(bot.bus.publish, topic, message_event(first))
        client.portal.call(bot.bus.publish, topic, {"type": "status", "status": "bot"})
        received = [socket.receive_json() for _ in range(3)]
    assert [e.get("message", {}).get("text") for e in received] == ["one", "two", None]


def test_internal_notes_never_reach_the_socket(client):
    conversation_id, headers = start_conversation(client)
    bot = client.app.state.bot
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        with bot.db.write() as session:
            store.add_message(
                session, conversation_id=conversation_id, role=Role.NOTE, text="secret"
            )
            visible = store.add_message(
                session, conversation_id=conversation_id, role=Role.AGENT, text="hi"
            )
        client.portal.call(
            bot.bus.publish, conversation_topic(conversation_id), message_event(visible)
        )
        event = socket.receive_json()
    assert event["message"]["text"] == "hi"


def test_quick_reconnect_is_served_from_memory_and_a_late_one_from_the_database(client):
    conversation_id, headers = start_conversation(client)
    token = token_of(headers)
    with connect(client, conversation_id) as socket:
        hello(socket, token)
    say(client, conversation_id, headers, "How do I export my data?")  # while disconnected
    assert feeds(client).has(conversation_id)
    with connect(client, conversation_id) as socket:
        quick = hello(socket, token)
    assert quick["resumed"] is True
    assert [m["seq"] for m in quick["messages"]] == [1, 2]

    feeds(client).forget_after_s = 0.05
    with connect(client, conversation_id) as socket:
        hello(socket, token, after=2)
    deadline = time.monotonic() + 5
    while feeds(client).has(conversation_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not feeds(client).has(conversation_id)
    say(client, conversation_id, headers, "Where can I download my invoices?")
    with connect(client, conversation_id) as socket:
        late = hello(socket, token, after=2)
    assert late["resumed"] is False
    assert [m["seq"] for m in late["messages"]] == [3, 4]


def test_second_socket_with_a_wrong_token_is_refused_even_when_the_feed_is_warm(client):
    conversation_id, headers = start_conversation(client)
    with connect(client, conversation_id) as first, connect(client, conversation_id) as second:
        hello(first, token_of(headers))
        second.send_json({"type": "hello", "token": "not-the-token"})
        assert second.receive_json()["code"] == 4403


def test_feed_started_by_a_wrong_token_is_forgotten(client):
    conversation_id, _ = start_conversation(client)
    feeds(client).forget_after_s = 0.05
    with connect(client, conversation_id) as socket:
        socket.send_json({"type": "hello", "token": "not-the-token"})
        assert socket.receive_json()["code"] == 4403
    deadline = time.monotonic() + 5
    while feeds(client).has(conversation_id) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not feeds(client).has(conversation_id)


def test_cors_preflight_is_granted_to_allowed_origins_only(client):
    def preflight(origin):
        return client.options(
            "/api/conversations",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )

    allowed = preflight(HOST)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == HOST
    refused = preflight("https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_cors_exposes_retry_after_and_stays_off_the_cme_api(client):
    created = client.post("/api/conversations", headers={"Origin": HOST})
    assert created.headers["access-control-allow-origin"] == HOST
    assert "Retry-After" in created.headers["access-control-expose-headers"]
    cme = client.get("/api/cme/me", headers={"Origin": HOST})
    assert "access-control-allow-origin" not in cme.headers


def test_cors_preflight_and_its_refusal_carry_the_security_headers(client):
    for origin in (HOST, "https://evil.example"):
        response = client.options(
            "/api/conversations",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert response.headers["x-content-type-options"] == "nosniff", origin
        assert "default-src 'self'" in response.headers["content-security-policy"]


def test_erasure_closes_the_customers_sockets_and_forgets_what_their_feed_held(client):
    from tests.utils import make_cmes

    with client.app.state.bot.db.write() as session:
        [(_, cme_token)] = make_cmes(session, 1)
    conversation_id, headers = start_conversation(client, id="cust-erased")
    with connect(client, conversation_id) as socket:
        hello(socket, token_of(headers))
        say(client, conversation_id, headers, "How do I export my data?")
        while socket.receive_json().get("message", {}).get("role") != "bot":
            pass
        assert feeds(client).has(conversation_id)
        erased = client.delete(
            "/api/cme/customers",
            params={"customer_id": "cust-erased"},
            headers={"Authorization": f"Bearer {cme_token}"},
        )
        assert erased.status_code == 200, erased.text
        deadline = time.monotonic() + 10
        while feeds(client).has(conversation_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not feeds(client).has(conversation_id)  # dropped at once, not after 30 s
        while (event := socket.receive_json())["type"] != "error":
            assert event["type"] != "message", event
        assert event["code"] == 1013
    with connect(client, conversation_id) as socket:
        socket.send_json({"type": "hello", "token": token_of(headers)})
        assert socket.receive_json()["code"] == 4404
