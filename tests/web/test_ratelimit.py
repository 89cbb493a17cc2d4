"""Rate limits: the sliding window, and 429 with Retry-After through the API."""

from __future__ import annotations

import pytest

from bot.http.identity import sign
from bot.http.ratelimit import RateLimited, RateLimits, SlidingWindow
from tests.utils import make_client, make_settings, say, start_conversation


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("limit", "window", "hits_at", "expect_waits"),
    [
        (2, 60, [0, 1, 2], [0, 0, 58]),  # third hit waits until the first leaves the window
        (2, 60, [0, 1, 60], [0, 0, 0]),  # the first hit has left the window at t=60
        (1, 10, [0, 5, 9.5, 10], [0, 5, 0.5, 0]),  # refused hits are not counted
        (3, 1, [0, 0, 0, 0], [0, 0, 0, 1]),
    ],
)
def test_sliding_window_allows_limit_hits_per_window(limit, window, hits_at, expect_waits):
    clock = Clock()
    start = clock.now
    window_counter = SlidingWindow(limit, window, clock=clock)
    waits = []
    for at in hits_at:
        clock.now = start + at
        waits.append(round(window_counter.hit("key"), 6))
    assert waits == expect_waits


def test_keys_are_counted_separately_and_idle_keys_are_swept():
    clock = Clock()
    window = SlidingWindow(1, 10, clock=clock)
    assert window.hit("a") == 0 and window.hit("b") == 0
    assert window.hit("a") > 0
    clock.now += 25
    window.hit("c")
    assert len(window) == 1


def test_disabled_limits_never_refuse():
    limits = RateLimits(False, SlidingWindow(1, 60), SlidingWindow(1, 60))
    for _ in range(5):
        limits.new_conversation("1.2.3.4")
        limits.message("conversation")


def test_refusal_names_the_limit_and_rounds_retry_after_up():
    limits = RateLimits(True, SlidingWindow(1, 3600), SlidingWindow(1, 60))
    limits.message("c")
    with pytest.raises(RateLimited, match="limit 1 per minute") as refused:
        limits.message("c")
    assert refused.value.retry_after_header == "60"


@pytest.fixture
def client(tmp_path, fake_embedder):
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        rate_limit_conversations_per_hour=2,
        rate_limit_messages_per_minute=2,
        identity_secret="s",
    )
    with make_client(settings, fake_embedder) as client:
        yield client


def test_new_conversations_over_the_limit_get_429_with_retry_after(client):
    start_conversation(client)
    start_conversation(client)
    refused = client.post("/api/conversations")
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["retry-after"]) <= 3600
    assert "too many new conversations" in refused.json()["detail"]


def test_verified_customers_are_not_limited_per_ip(client):
    start_conversation(client)
    start_conversation(client)
    signed = {"id": "c1", "signature": sign("s", customer_id="c1")}
    assert client.post("/api/conversations", json={"customer": signed}).status_code == 201


def test_messages_over_the_limit_get_429_and_are_not_stored(client):
    conversation_id, headers = start_conversation(client)
    assert say(client, conversation_id, headers, "How do I export my data?").status_code == 200
    assert say(client, conversation_id, headers, "Where are my invoices?").status_code == 200
    refused = say(client, conversation_id, headers, "And a third?")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    listing = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json()
    assert "And a third?" not in [m["text"] for m in listing["messages"]]


def test_message_limit_is_per_conversation(client):
    first_id, first_headers = start_conversation(client)
    second_id, second_headers = start_conversation(client)
    for _ in range(2):
        say(client, first_id, first_headers, "hello")
    assert say(client, first_id, first_headers, "hello").status_code == 429
    assert say(client, second_id, second_headers, "hello").status_code == 200


def test_limits_switched_off_in_settings_let_everything_through(tmp_path, fake_embedder):
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'off.sqlite'}",
        rate_limit_enabled=False,
        rate_limit_conversations_per_hour=1,
    )
    with make_client(settings, fake_embedder) as client:
        for _ in range(3):
            start_conversation(client)
