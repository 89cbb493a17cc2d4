"""The sign-in failure log in memory and in Redis: the throttle reads the same either way, and
two instances sharing Redis share it."""

from __future__ import annotations

import time

import pytest

from bot.cluster import MemoryFailureLog, RedisFailureLog
from bot.cme.auth import LoginThrottle


@pytest.fixture(params=["memory", "redis"])
def failures(request):
    if request.param == "memory":
        return MemoryFailureLog()
    return RedisFailureLog(
        request.getfixturevalue("redis_server"), prefix=request.getfixturevalue("redis_prefix")
    )


def test_failures_are_kept_for_their_window_and_forgotten_on_request(failures):
    now = time.time()
    for at in (now - 400, now - 10, now - 5):
        failures.add("pair:x", at, window_s=300)
    assert failures.recent("pair:x", now, window_s=300) == pytest.approx([now - 10, now - 5])
    assert failures.recent("pair:y", now, window_s=300) == []
    failures.forget("pair:x")
    assert failures.recent("pair:x", now, window_s=300) == []


def test_two_instances_sharing_redis_throttle_the_same_guesser(redis_server, redis_prefix):
    a, b = (
        LoginThrottle(failures=RedisFailureLog(redis_server, prefix=redis_prefix), clock=time.time)
        for _ in range(2)
    )
    for _ in range(3):
        a.failed(email="alice@example.com", address="203.0.113.9")
        b.failed(email="alice@example.com", address="203.0.113.9")
    assert b.retry_after(email="alice@example.com", address="203.0.113.9") >= 1
    assert a.retry_after(email="alice@example.com", address="198.51.100.7") == 0
    a.succeeded(email="alice@example.com", address="203.0.113.9")
    assert b.retry_after(email="alice@example.com", address="203.0.113.9") == 0


def test_an_unreachable_redis_throttles_nobody_rather_than_failing_sign_ins():
    throttle = LoginThrottle(
        failures=RedisFailureLog("redis://127.0.0.1:1/0", prefix="unreachable"), clock=time.time
    )
    for _ in range(10):
        throttle.failed(email="alice@example.com", address="203.0.113.9")
    assert throttle.retry_after(email="alice@example.com", address="203.0.113.9") == 0
