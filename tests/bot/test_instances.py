"""Two instances of one deployment (PostgreSQL + Redis, the real model), started as an operator
would: what one instance does reaches the sockets of the other, limits and sign-outs hold
across them, and a claim race split across both has one winner. The servers are shared by the
tests of this module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from bot.storage import Database
from tests.instances import (
    WIDGET_ORIGIN,
    Deployment,
    Instance,
    postgres_schema,
    redis_namespace,
)
from tests.utils import make_cmes, write_kb

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, postgres_url, redis_server) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    with postgres_schema(postgres_url) as database_url, redis_namespace(redis_server) as prefix:
        deployment = Deployment(
            database_url=database_url,
            redis_url=redis_server,
            redis_prefix=prefix,
            kb_dir=write_kb(root / "kb"),
            root=root,
        )
        try:
            yield deployment
        finally:
            deployment.stop()


@pytest.fixture(scope="module")
def pair(deployment) -> tuple[Instance, Instance]:
    a = deployment.serve("a")
    b = deployment.serve("b")
    return a.wait_ready(), b.wait_ready()


@pytest.fixture(scope="module")
def cme_headers(deployment, pair) -> list[dict[str, str]]:
    database = Database(deployment.database_url)
    try:
        with database.write() as session:
            cmes = make_cmes(session, 50)
    finally:
        database.dispose()
    return [{"Authorization": f"Bearer {token}"} for _, token in cmes]


def start_conversation(instance: Instance, address: str) -> tuple[str, dict[str, str]]:
    response = httpx.post(
        f"{instance.url}/api/conversations", headers={"X-Forwarded-For": address}, timeout=30
    )
    assert response.status_code == 201, response.text
    created = response.json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


@contextmanager
def widget(instance: Instance, conversation_id: str, token: str, after: int) -> Iterator[Widget]:
    """A widget socket on `instance` that said hello with the last seq it saw."""
    with connect(
        f"{instance.ws_url}/ws/conversations/{conversation_id}",
        additional_headers={"Origin": WIDGET_ORIGIN},
    ) as socket:
        yield Widget(socket, token, after)


class Widget:
    """A widget socket: hello with the last seq seen, then collects events."""

    def __init__(self, socket: ClientConnection, token: str, after: int) -> None:
        self.socket = socket
        self.socket.send(json.dumps({"type": "hello", "token": token, "after": after}))
        welcome = self.receive()
        assert welcome["type"] == "welcome", welcome
        self.welcome = welcome
        self.seqs = [message["seq"] for message in welcome["messages"]]
        self.statuses: list[str] = []

    def receive(self, timeout: float = 60) -> dict:
        return json.loads(self.socket.recv(timeout))

    def until(self, predicate, timeout: float = 60) -> None:
        """Collect events until `predicate(self)` holds."""
        while not predicate(self):
            event = self.receive(timeout)
            if event["type"] == "message":
                self.seqs.append(event["message"]["seq"])
            elif event["type"] == "status":
                self.statuses.append(event["status"])


def cme_reply(instance: Instance, conversation_id: str, cme: dict[str, str], text: str) -> None:
    response = httpx.post(
        f"{instance.url}/api/cme/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=cme,
        timeout=30,
    )
    assert response.status_code == 200, response.text


def stored_seqs(instance: Instance, conversation_id: str, headers: dict[str, str]) -> list[int]:
    response = httpx.get(
        f"{instance.url}/api/conversations/{conversation_id}/messages", headers=headers, timeout=30
    )
    return [message["seq"] for message in response.json()["messages"]]


def test_a_widget_on_a_hears_what_b_sends_once_in_order_and_resumes_on_either(pair, cme_headers):
    a, b = pair
    conversation_id, headers = start_conversation(a, "10.0.0.1")
    token = headers["Authorization"].removeprefix("Bearer ")
    cme = cme_headers[0]
    with widget(a, conversation_id, token, after=0) as on_a:
        # A customer message posted through B, and the bot's reply to it.
        turn = httpx.post(
            f"{b.url}/api/conversations/{conversation_id}/messages",
            json={"text": "How do I export my data?", "client_msg_id": "m1"},
            headers=headers,
            timeout=60,
        ).json()
        assert turn["reply"]["role"] == "bot"
        on_a.until(lambda w: turn["reply"]["seq"] in w.seqs)

        # Handed to a person, claimed and answered through B.
        handoff = httpx.post(
            f"{b.url}/api/conversations/{conversation_id}/handoff", headers=headers, timeout=60
        )
        assert handoff.status_code == 200, handoff.text
        claim = httpx.post(f"{b.url}/api/cme/conversations/{conversation_id}/claim", headers=cme)
        assert claim.status_code == 200, claim.text
        cme_reply(b, conversation_id, cme, "Hi, I am on it.")
        stored = stored_seqs(b, conversation_id, headers)
        on_a.until(lambda w: w.seqs and w.seqs[-1] == stored[-1])
        assert on_a.seqs == stored  # exactly once, in order
        assert on_a.statuses[:2] == ["waiting", "agent"]
        seen = on_a.seqs

    # Dropped; two agent replies go out through B meanwhile; resume from B, then from A.
    cme_reply(b, conversation_id, cme, "First while you were away.")
    cme_reply(b, conversation_id, cme, "Second while you were away.")
    with widget(b, conversation_id, token, after=seen[-1]) as on_b:
        resumed = seen + on_b.seqs
    with widget(a, conversation_id, token, after=resumed[-1]) as on_a:
        cme_reply(b, conversation_id, cme, "And one after you came back.")
        stored = stored_seqs(a, conversation_id, headers)
        on_a.until(lambda w: w.seqs and w.seqs[-1] == stored[-1])
        resumed += on_a.seqs
    assert resumed == stored
    assert len(stored) == len(set(stored)) and stored == sorted(stored)
    assert len(stored) >= 6  # greeting?, question, answer, handoff reply, four agent replies
