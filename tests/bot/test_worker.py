"""A worker and two instances (PostgreSQL, Redis, one shared DATA_DIR, the real model, the KB
adapted to the model), started at once on an empty database: the background work runs once, in
the worker; the instances load its KB and follow its changes; a new instance embeds and trains
nothing; an instance killed mid-load loses no acknowledged message, and the worker answers the
turns it left. The processes are shared by the tests of this module, in order."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.instances import Deployment, Instance, postgres_schema, redis_namespace
from tests.utils import write_kb

pytestmark = pytest.mark.real_model

SWEEP_EVERY_S = 4
QUESTIONS = [
    "How do I export my data?",
    "Where can I download my invoices?",
    "How do I reset my password?",
]
NEW_ARTICLE = """---
title: How do I change my billing address?
tags: [billing]
---
Open **Settings > Billing > Address**, edit the address and save. The next invoice uses it.
"""


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
            shared_data=True,
            extra={"KB_ADAPT": "true", "SWEEP_EVERY_S": str(SWEEP_EVERY_S)},
        )
        try:
            yield deployment
        finally:
            deployment.stop()


@pytest.fixture(scope="module")
def started(deployment) -> dict[str, Instance]:
    """The worker and two instances, started at the same moment on an empty database."""
    processes = {
        "worker": deployment.worker(),
        "a": deployment.serve("a", BACKGROUND="worker"),
        "b": deployment.serve("b", BACKGROUND="worker"),
    }
    for process in processes.values():
        process.wait_ready()
    return processes


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def count(log: str, pattern: str) -> int:
    return len(re.findall(pattern, log))


def test_three_processes_started_at_once_on_an_empty_database_all_become_ready(started):
    versions = {process.index_version() for process in started.values()}
    assert len(versions) == 1 and "" not in versions
    assert count(started["worker"].log(), "holding the worker lock") == 1


def test_the_worker_alone_adapts_the_model_and_sweeps_once_per_period(started):
    worker, a, b = started["worker"], started["a"], started["b"]
    wait_until(
        lambda: "adapted by another process" in a.log() and "adapted by another process" in b.log(),
        600,
        "the instances load the model the worker adapted",
    )
    wait_until(
        lambda: len({p.index_version() for p in started.values()}) == 1,
        30,
        "every process serves the same index version",
    )
    began = time.monotonic()
    sweeps_before = count(worker.log(), "idle sweep resolved")
    time.sleep(3 * SWEEP_EVERY_S)
    periods = (time.monotonic() - began) / SWEEP_EVERY_S
    sweeps = count(worker.log(), "idle sweep resolved") - sweeps_before
    # Sweeping takes time of its own, so a period may stretch; never two sweeps in one.
    assert 1 <= sweeps <= periods + 1
    for instance in (a, b):
        log = instance.log()
        assert count(log, "idle sweep resolved") == 0
        assert count(log, "adapting the embedding model") == 0
        assert count(log, "article probe trained") == 0
        assert count(log, "answer gate calibrated") == 0
    assert count(worker.log(), "adapting the embedding model") == 1


def test_a_kb_change_reaches_every_instance_within_seconds(deployment, started):
    before = started["a"].index_version()
    (deployment.kb_dir / "billing" / "address.md").write_text(NEW_ARTICLE, "utf-8")
    changed = time.monotonic()
    wait_until(
        lambda: (
            len({p.index_version() for p in started.values()} - {before}) == 1
            and before not in {p.index_version() for p in started.values()}
        ),
        60,
        "every process serves the new version",
    )
    print(f"KB change served everywhere after {time.monotonic() - changed:.1f} s")
    for name in ("a", "b"):
        page = httpx.get(f"{started[name].url}/kb/billing/address", timeout=10)
        assert page.status_code == 200 and "Billing &gt; Address" in page.text


def test_a_new_instance_against_an_unchanged_kb_embeds_and_trains_nothing(deployment, started):
    began = time.monotonic()
    c = deployment.serve("c", BACKGROUND="worker").wait_ready()
    print(f"a third instance was ready in {time.monotonic() - began:.1f} s")
    log = c.log()
    assert re.search(r"ready in [\d.]+s: \d+ articles, 0 passages embedded", log), log[-2000:]
    for trained in ("adapting the embedding model", "article probe trained", "calibrated"):
        assert trained not in log
    assert c.index_version() == started["worker"].index_version()
    c.process.send_signal(signal.SIGTERM)
    c.process.wait(30)


def test_killing_an_instance_mid_load_loses_nothing_and_its_turns_are_answered(started):
    a, b = started["a"], started["b"]
    conversations = []
    for n in range(4):
        created = httpx.post(
            f"{a.url}/api/conversations", headers={"X-Forwarded-For": f"10.9.0.{n}"}, timeout=30
        ).json()
        conversations.append((created["id"], {"Authorization": f"Bearer {created['token']}"}))
    acked: dict[str, str] = {}  # client_msg_id -> conversation id
    lock = threading.Lock()
    killed = threading.Event()

    def customer(index: int) -> None:
        conversation_id, headers = conversations[index]
        with httpx.Client(timeout=60) as http:
            for n in range(1000):
                msg_id = f"c{index}-m{n}"
                try:
                    response = http.post(
                        f"{a.url}/api/conversations/{conversation_id}/messages",
                        json={
                            "text": f"{QUESTIONS[n % len(QUESTIONS)]} ({n})",
                            "client_msg_id": msg_id,
                        },
                        headers=headers,
                    )
                except httpx.TransportError:
                    return  # A died under this request
                if response.status_code != 200:
                    return
                with lock:
                    acked[msg_id] = conversation_id
                    if len(acked) >= 12 and not killed.is_set():
                        killed.set()
                        os.kill(a.process.pid, signal.SIGKILL)

    threads = [threading.Thread(target=customer, args=(i,)) for i in range(len(conversations))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert killed.is_set()

    def transcripts() -> dict[str, dict]:
        return {
            conversation_id: httpx.get(
                f"{b.url}/api/conversations/{conversation_id}/messages",
                headers=headers,
                timeout=30,
            ).json()
            for conversation_id, headers in conversations
        }

    stored = transcripts()
    ids = [
        m["client_msg_id"]
        for transcript in stored.values()
        for m in transcript["messages"]
        if m["role"] == "customer"
    ]
    assert set(acked) <= set(ids)  # nothing acknowledged is lost
    assert len(ids) == len(set(ids))  # nor stored twice

    def every_turn_answered() -> bool:
        # A conversation the bot still owns ends with the bot's reply; one handed to a person
        # (repeating a question can do that) waits for the person.
        return all(
            transcript["messages"][-1]["role"] != "customer" or transcript["status"] != "bot"
            for transcript in transcripts().values()
        )

    wait_until(every_turn_answered, 120, "the worker answers the turns A left unanswered")
    # The conversations carry on through B: a message is stored, and answered by the bot
    # wherever the bot still owns the conversation.
    for conversation_id, headers in conversations:
        turn = httpx.post(
            f"{b.url}/api/conversations/{conversation_id}/messages",
            json={"text": "Where can I download my invoices?"},
            headers=headers,
            timeout=60,
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["reply"] is not None or turn.json()["status"] != "bot"
