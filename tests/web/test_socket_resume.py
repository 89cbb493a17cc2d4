"""The widget's resume protocol under random interleavings (hypothesis): customer turns, CME
messages published out of order, REST retries, drops, resumes from memory or from the database.
A client that says hello with the last seq it saw sees every message exactly once, in order."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events import announce_message
from bot.storage import Role, store
from tests.utils import make_client, make_settings, start_conversation

HOST = "https://shop.example"

actions = st.lists(
    st.sampled_from(["say", "retry", "agent_pair", "note", "drain", "drop", "resume", "forget"]),
    min_size=1,
    max_size=14,
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    settings_ = make_settings(
        tmp,
        f"sqlite:///{tmp / 'resume.db'}",
        allowed_origins=HOST,
        socket_forget_after_s=30,
        rate_limit_enabled=False,
    )
    with make_client(settings_, _fake_embedder()) as client:
        yield client


def _fake_embedder():
    from embedding import FakeEmbedder

    return FakeEmbedder()


class Widget:
    """The widget's side of the protocol: one socket at a time, hello with the last seq seen."""

    def __init__(self, client, conversation_id: str, token: str) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.token = token
        self.seen: list[int] = []
        self.socket: Any = None
        self._context: Any = None

    def record(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            assert not self.seen or message["seq"] > self.seen[-1], (self.seen, message)
            self.seen.append(message["seq"])

    def resume(self) -> None:
        if self.socket is not None:
            return
        self._context = self.client.websocket_connect(
            f"/ws/conversations/{self.conversation_id}", headers={"origin": HOST}
        )
        self.socket = self._context.__enter__()
        after = self.seen[-1] if self.seen else 0
        self.socket.send_json({"type": "hello", "token": self.token, "after": after})
        welcome = self.socket.receive_json()
        assert welcome["type"] == "welcome", welcome
        self.record(welcome["messages"])

    def drain(self) -> None:
        """Read what the server sent so far: everything before the answer to a ping."""
        if self.socket is None:
            return
        self.socket.send_json({"type": "ping"})
        while (event := self.socket.receive_json())["type"] != "pong":
            if event["type"] == "message":
                self.record([event["message"]])

    def drop(self) -> None:
        """The connection goes away with whatever was still in flight."""
        if self.socket is not None:
            self._context.__exit__(None, None, None)
            self.socket = self._context = None


def forget_feed(client, conversation_id: str) -> None:
    """Let the server forget the conversation's feed: the next resume reads the database."""
    feeds = client.app.state.widget_feeds
    feeds.forget_after_s = 0.01
    try:
        deadline = time.monotonic() + 5
        while feeds.has(conversation_id) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        feeds.forget_after_s = 30


@settings(
    max_examples=int(os.environ.get("SUPPORTBOT_RESUME_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions)
def test_resuming_widget_sees_every_message_once_in_order(client, steps):
    conversation_id, headers = start_conversation(client)
    widget = Widget(client, conversation_id, headers["Authorization"].removeprefix("Bearer "))
    bot = client.app.state.bot
    url = f"/api/conversations/{conversation_id}/messages"
    last_id = None
    try:
        for step in steps:
            if step == "say":
                last_id = uuid.uuid4().hex
                body = {"text": "How do I export my data?", "client_msg_id": last_id}
                assert client.post(url, json=body, headers=headers).status_code == 200
            elif step == "retry" and last_id is not None:
                body = {"text": "How do I export my data?", "client_msg_id": last_id}
                assert client.post(url, json=body, headers=headers).status_code == 200
            elif step in ("agent_pair", "note"):
                # Two writers finishing in either order; a note is never shown to the customer.
                with bot.db.write() as session:
                    first = store.add_message(
                        session,
                        conversation_id=conversation_id,
                        role=Role.NOTE if step == "note" else Role.AGENT,
                        text="one",
                    )
                    second = store.add_message(
                        session, conversation_id=conversation_id, role=Role.AGENT, text="two"
                    )
                for message in (second, first):
                    client.portal.call(announce_message, bot.bus, conversation_id, message)
            elif step == "drain":
                widget.drain()
            elif step == "drop":
                widget.drop()
            elif step == "resume":
                widget.resume()
            elif step == "forget" and widget.socket is None:
                forget_feed(client, conversation_id)
        # A last resume; live events may still be on their way through the feed (a pong can
        # overtake them), so read until the widget has caught up or the deadline passes.
        widget.drop()
        widget.resume()
        shown = [m["seq"] for m in client.get(url, headers=headers).json()["messages"]]
        deadline = time.monotonic() + 5
        while widget.seen != shown and time.monotonic() < deadline:
            widget.drain()
    finally:
        widget.drop()
    assert widget.seen == shown
