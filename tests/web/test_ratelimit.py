"""Rate limits: moving windows in memory and in Redis, and 429 with Retry-After through the API."""

from __future__ import annotations

import pytest
from limits.storage import MemoryStorage, RedisStorage

from bot.http.identity import sign
from bot.http.ratelimit import RateLimited, RateLimits, Window
from bot.settings import Settings
from tests.utils import make_client, make_settings, say, start_conversation


def windows(storage, **limits: int) -> RateLimits:
    settings = Settings(
        _env_file=None,
        rate_limit_conversations_per_hour=limits.get("conversations", 20),
        rate_limit_messages_per_minute=limits.get("messages", 10),
        admin_requests_per_minute=limits.get("admin", 10),
        rate_limit_enabled=limits.get("enabled", 1) == 1,
    )
    return RateLimits.from_settings(settings, storage=storage)


@pytest.fixture(params=["memory", "redis"])
def storage(request):
    """Where windows are counted: this process, or a Redis prefix of the test's own."""
    if request.param == "memory":
        return MemoryStorage()
    prefix = request.getfixturevalue("redis_prefix")
    server = request.getfixturevalue("redis_server")
    return RedisStorage(server, key_prefix=f"{prefix}:limits")


@pytest.mark.parametrize(("limit", "per", "window_s"), [(2, "minute", 60), (3, "hour", 3600)])
def test_a_window_allows_limit_hits_then_says_how_long_to_wait(storage, limit, per, window_s):
    window = Window(limit, per, storage=storage, name="test")
    assert [window.hit("key") for _ in range(limit)] == [0.0] * limit
    waits = [window.hit("key") for _ in range(3)]  # refused hits are not counted
    assert all(window_s - 5 < wait <= window_s for wait in waits)
    assert window.hit("another key") == 0.0


def test_windows_with_one_storage_count_limits_apart(storage):
    limits = windows(storage, conversations=1, messages=1)
    limits.new_conversation("1.2.3.4")
    limits.message("1.2.3.4")  # the same key in another limit is counted apart
    with pytest.raises(RateLimited):
        limits.new_conversation("1.2.3.4")


def test_two_instances_sharing_redis_share_the_count(redis_server, redis_prefix):
    shared = [
        windows(RedisStorage(redis_server, key_prefix=f"{redis_prefix}:limits"), conversations=3)
        for _ in range(2)
    ]
    for instance in (0, 1, 0):
        shared[instance].new_conversation("203.0.113.5")
    with pytest.raises(RateLimited):
        shared[1].new_conversation("203.0.113.5")


def test_disabled_limits_never_refuse():
    limits = windows(MemoryStorage(), conversations=1, messages=1, enabled=0)
    for _ in range(5):
        limits.new_conversation("1.2.3.4")
        limits.message("conversation")


def test_refusal_names_the_limit_and_rounds_retry_after_up():
    limits = windows(MemoryStorage(), messages=1)
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


def test_an_unreachable_redis_limits_nothing_rather_than_failing_requests():
    settings = Settings(_env_file=None, redis_url="redis://127.0.0.1:1/0")
    limits = RateLimits.from_settings(settings)
    for _ in range(settings.rate_limit_messages_per_minute + 1):
        limits.message("conversation")
