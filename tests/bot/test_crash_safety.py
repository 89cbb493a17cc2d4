"""kill -9 under load (issue 14): every acknowledged message is stored exactly once, retries
with the same client_msg_id do not duplicate, and the restarted server answers what the crash
left unanswered. A real server process, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.utils import REPO, write_kb

SERVER = """
import sys
import uvicorn
from app import create_app
from bot.settings import Settings
from embedding import FakeEmbedder

url, data_dir, kb_dir, port = sys.argv[1:5]
settings = Settings(
    _env_file=None, database_url=url, data_dir=data_dir, kb_dir=kb_dir, kb_watch=False,
    rate_limit_enabled=False, embed_batch_wait_ms=0,
)
uvicorn.run(create_app(settings, embedder=FakeEmbedder()), host="127.0.0.1", port=int(port),
            log_level="warning")
"""
WORKERS = 4
KILL_AFTER_ACKS = 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(database_url: str, tmp_path: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVER,
            database_url,
            str(tmp_path / "data"),
            str(tmp_path / "kb"),
            str(port),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise AssertionError("the server was not ready in time")


def test_kill_9_under_load_loses_and_duplicates_nothing_acknowledged(tmp_path, database_url):
    write_kb(tmp_path / "kb")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(database_url, tmp_path, port)
    try:
        conversations = []
        for _ in range(WORKERS):
            created = httpx.post(f"{base}/api/conversations", timeout=10).json()
            conversations.append((created["id"], {"Authorization": f"Bearer {created['token']}"}))
        acked: dict[str, dict] = {}  # client_msg_id -> the acknowledged turn
        in_flight: dict[str, tuple[int, str]] = {}  # worker -> (conversation index, id)
        lock = threading.Lock()
        killed = threading.Event()

        def worker(index: int) -> None:
            conversation_id, headers = conversations[index]
            url = f"{base}/api/conversations/{conversation_id}/messages"
            with httpx.Client(timeout=10) as http:
                for n in range(10_000):
                    client_msg_id = f"w{index}-m{n}"
                    with lock:
                        in_flight[str(index)] = (index, client_msg_id)
                    body = {
                        "text": f"How do I export my data? ({n})",
                        "client_msg_id": client_msg_id,
                    }
                    try:
                        response = http.post(url, json=body, headers=headers)
                    except httpx.TransportError:
                        return  # the server died under this request
                    if response.status_code != 200:
                        return
                    with lock:
                        acked[client_msg_id] = response.json()
                        if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                            killed.set()
                            os.kill(server.pid, signal.SIGKILL)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert killed.is_set() and server.wait(10) == -signal.SIGKILL
    finally:
        server.kill()
        server.wait(10)

    server = start_server(database_url, tmp_path, port)  # the restart, on the same data
    try:
        with httpx.Client(timeout=30) as http:
            for index, client_msg_id in in_flight.values():  # clients retry what was not acked
                conversation_id, headers = conversations[index]
                n = int(client_msg_id.rsplit("m", 1)[1])
                body = {"text": f"How do I export my data? ({n})", "client_msg_id": client_msg_id}
                retried = http.post(
                    f"{base}/api/conversations/{conversation_id}/messages",
                    json=body,
                    headers=headers,
                )
                assert retried.status_code == 200, retried.text
                # Answered, unless the repeats sent the conversation to a person meanwhile.
                assert retried.json()["reply"] is not None or retried.json()["status"] != "bot"
            some = next(iter(acked))  # a late retry of an acknowledged message: the same turn
            index = int(some[1 : some.index("-")])
            conversation_id, headers = conversations[index]
            body = {"text": acked[some]["message"]["text"], "client_msg_id": some}
            again = http.post(
                f"{base}/api/conversations/{conversation_id}/messages", json=body, headers=headers
            )
            # The same message and reply; the status is the conversation's current one.
            assert (again.json()["message"], again.json()["reply"]) == (
                acked[some]["message"],
                acked[some]["reply"],
            )
            stored: Counter[str] = Counter()
            for conversation_id, headers in conversations:
                page = http.get(
                    f"{base}/api/conversations/{conversation_id}/messages", headers=headers
                ).json()
                customer = [m for m in page["messages"] if m["role"] == "customer"]
                stored.update(m["client_msg_id"] for m in customer)
                if page["status"] == "bot":  # else a person answers from the escalation on
                    replies = [m for m in page["messages"] if m["role"] == "bot"]
                    assert len(replies) == len(customer), "every stored message is answered"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    assert len(acked) >= KILL_AFTER_ACKS
    assert [cid for cid, count in stored.items() if count > 1] == []  # nothing duplicated
    assert set(acked) <= set(stored)  # nothing acknowledged lost
