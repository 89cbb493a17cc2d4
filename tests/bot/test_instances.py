"""Two instances of one deployment (PostgreSQL + Redis, the real model), started as an operator
would: what one instance does reaches the sockets of the other, limits and sign-outs hold
across them, and a claim race split across both has one winner. The servers are shared by the
tests of this module."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from bot.cme import accounts
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


def test_the_21st_conversation_from_one_address_in_the_hour_is_refused_by_either_instance(pair):
    a, b = pair
    for n in range(20):
        start_conversation((a, b)[n % 2], "10.0.0.21")
    for instance in pair:
        refused = httpx.post(
            f"{instance.url}/api/conversations", headers={"X-Forwarded-For": "10.0.0.21"}
        )
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) > 3000
    start_conversation(b, "10.0.0.22")  # another address is not held up


PASSWORD = "a long enough password"


def sign_in(client: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    page = client.get("/console/login", headers={"X-Forwarded-For": address})
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": token, "next": "/console"},
        headers={"X-Forwarded-For": address},
    )


def test_a_sign_out_on_a_is_honoured_by_b(deployment, pair):
    a, b = pair
    database = Database(deployment.database_url)
    try:
        with database.write() as session:
            accounts.create_user(session, email="sam@example.com", name="Sam", password=PASSWORD)
    finally:
        database.dispose()
    with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
        assert sign_in(on_a, "sam@example.com", PASSWORD, "10.0.1.1").status_code == 303
        on_b.cookies = on_a.cookies
        assert on_b.get("/api/cme/me").status_code == 200  # one key signs for every instance
        page = on_a.get("/console").text
        csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
        assert on_a.post("/console/logout", data={"csrf": csrf}).status_code == 303
        assert on_b.get("/api/cme/me").status_code == 401


def test_failed_sign_ins_on_a_slow_down_guessing_on_b(pair):
    a, b = pair
    with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
        for _ in range(5):
            wrong = sign_in(on_a, "sam@example.com", "not the password", "10.0.2.1")
            assert wrong.status_code == 401
        throttled = sign_in(on_b, "sam@example.com", "not the password", "10.0.2.1")
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1


CLAIM_TRIALS = 100
CLAIMANTS = 50


def test_a_claim_race_split_across_both_instances_has_one_winner_every_time(pair, cme_headers):
    a, b = pair
    conversations = []
    for trial in range(CLAIM_TRIALS):
        conversation_id, headers = start_conversation(a, f"10.1.{trial // 200}.{trial % 200}")
        handoff = httpx.post(
            f"{b.url}/api/conversations/{conversation_id}/handoff", headers=headers, timeout=60
        )
        assert handoff.status_code == 200, handoff.text
        conversations.append(conversation_id)
    clients = [httpx.Client(base_url=instance.url, timeout=60) for instance in (a, b)]
    start = threading.Barrier(CLAIMANTS)

    def claim(conversation_id: str, n: int) -> int:
        start.wait()
        response = clients[n % 2].post(
            f"/api/cme/conversations/{conversation_id}/claim", headers=cme_headers[n]
        )
        return response.status_code

    winners = []
    try:
        with ThreadPoolExecutor(CLAIMANTS) as pool:
            for conversation_id in conversations:
                codes = list(pool.map(claim, [conversation_id] * CLAIMANTS, range(CLAIMANTS)))
                assert set(codes) <= {200, 409}, codes
                winners.append(codes.count(200))
    finally:
        for client in clients:
            client.close()
    assert winners == [1] * CLAIM_TRIALS
