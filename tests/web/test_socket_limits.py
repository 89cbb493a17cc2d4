"""Limits on widget sockets: frame size at the server, sockets per conversation and per
address (issue 14, finding 8)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from app import create_app
from bot import cli
from tests.utils import make_client, make_settings, start_conversation
from tests.web.conftest import LiveServer

HOST = "https://shop.example"


@pytest.fixture
def client(tmp_path, database_url, fake_embedder):
    settings = make_settings(
        tmp_path,
        database_url,
        allowed_origins=HOST,
        socket_max_per_conversation=2,
        socket_max_per_address=3,
    )
    with make_client(settings, fake_embedder) as client:
        yield client


def open_socket(stack: ExitStack, client, conversation_id: str, headers: dict[str, str]) -> dict:
    """Open a widget socket, say hello, and return the server's first frame."""
    socket = stack.enter_context(
        client.websocket_connect(f"/ws/conversations/{conversation_id}", headers={"origin": HOST})
    )
    token = headers["Authorization"].removeprefix("Bearer ")
    socket.send_json({"type": "hello", "token": token, "after": 0})
    frame = socket.receive_json()
    if frame["type"] == "error":
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        frame["close_code"] = closed.value.code
    return frame


def test_sockets_per_conversation_are_capped_and_a_closed_one_frees_its_place(client):
    conversation_id, headers = start_conversation(client)
    with ExitStack() as first_two:
        for _ in range(2):
            assert open_socket(first_two, client, conversation_id, headers)["type"] == "welcome"
        with ExitStack() as third:
            refused = open_socket(third, client, conversation_id, headers)
        assert refused["type"] == "error" and refused["code"] == refused["close_code"] == 1013
        assert "2 per conversation" in refused["detail"]
    with ExitStack() as again:
        assert open_socket(again, client, conversation_id, headers)["type"] == "welcome"


def test_sockets_per_address_are_capped_at_the_handshake(client):
    conversations = [start_conversation(client) for _ in range(2)]
    with ExitStack() as stack:
        for conversation_id, headers in [conversations[0], conversations[1], conversations[1]]:
            assert open_socket(stack, client, conversation_id, headers)["type"] == "welcome"
        with pytest.raises(WebSocketDenialResponse) as refused:
            open_socket(stack, client, *conversations[0])
    assert refused.value.status_code == 429
    assert "3 per address" in refused.value.json()["detail"]


def test_served_widget_socket_closes_on_a_frame_over_the_limit(tmp_path, fake_embedder):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'frames.db'}", allowed_origins=HOST)
    options = cli.serve_options(settings)
    assert options["ws_max_size"] == settings.socket_max_frame_bytes == 64 * 1024
    server = LiveServer()
    server.start(create_app(settings, embedder=fake_embedder), ws_max_size=options["ws_max_size"])
    try:
        conversation = server.url.replace("http", "ws") + "/ws/conversations/" + "0" * 32
        with ws_connect(conversation, origin=HOST, max_size=None) as socket:
            socket.send("x" * (settings.socket_max_frame_bytes + 1))
            with pytest.raises(ConnectionClosed) as closed:
                socket.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # too big
    finally:
        server.stop()
