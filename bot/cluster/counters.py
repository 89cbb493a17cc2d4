"""Counters every instance shares: rate-limit storage for the `limits` library, and the log of
failed console sign-ins. In memory for one instance, in Redis (under the deployment's prefix)
for several, so a limit holds whichever instance a request reaches."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Protocol

import redis
from limits.storage import MemoryStorage, RedisStorage, Storage

from bot.cluster.redis import key
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_TRACKED = 10_000  # keys the in-memory failure log keeps before forgetting stale ones


def limit_storage(settings: Settings) -> Storage:
    """Where rate-limit windows are counted: Redis when configured, else this process."""
    if settings.redis_url:
        return RedisStorage(
            settings.redis_url,
            key_prefix=key(settings.redis_prefix, "limits"),
            wrap_exceptions=True,  # a Redis outage raises limits' StorageError
        )
    return MemoryStorage()


class FailureLog(Protocol):
    """Timestamps of failures per key, kept for a window."""

    def add(self, name: str, at: float, *, window_s: float) -> None:
        """Record a failure at `at`."""
        ...

    def recent(self, name: str, now: float, *, window_s: float) -> list[float]:
        """The failures of the last `window_s` seconds, oldest first."""
        ...

    def forget(self, name: str) -> None:
        """Drop every failure of `name`."""
        ...


class MemoryFailureLog:
    """One process's failure log."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, name: str, at: float, *, window_s: float) -> None:
        with self._lock:
            if len(self._failures) > MAX_TRACKED:  # guessing cannot fill memory
                self._failures = defaultdict(
                    deque,
                    {k: v for k, v in self._failures.items() if v and v[-1] > at - window_s},
                )
            self._failures[name].append(at)

    def recent(self, name: str, now: float, *, window_s: float) -> list[float]:
        with self._lock:
            failures = self._failures.get(name) or deque()
            while failures and failures[0] <= now - window_s:
                failures.popleft()
            return list(failures)

    def forget(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


class RedisFailureLog:
    """The deployment's failure log: a sorted set per key, expiring with its window. While
    Redis is unreachable it records and remembers nothing (sign-ins are not held up)."""

    def __init__(self, url: str, *, prefix: str) -> None:
        self._redis = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = key(prefix, "signin")

    def add(self, name: str, at: float, *, window_s: float) -> None:
        member = f"{at}:{uuid.uuid4().hex[:8]}"  # two failures in one instant both count
        try:
            with self._redis.pipeline() as pipe:
                pipe.zadd(self._key(name), {member: at})
                pipe.zremrangebyscore(self._key(name), "-inf", at - window_s)
                pipe.expire(self._key(name), int(window_s) + 1)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable, failure not counted: %s", exc)

    def recent(self, name: str, now: float, *, window_s: float) -> list[float]:
        try:
            found = self._redis.zrangebyscore(
                self._key(name), f"({now - window_s}", "+inf", withscores=True
            )
        except redis.RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable, not throttling: %s", exc)
            return []
        return [score for _, score in found]

    def forget(self, name: str) -> None:
        try:
            self._redis.delete(self._key(name))
        except redis.RedisError as exc:
            log.warning("sign-in throttle: Redis unavailable: %s", exc)

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"


def failure_log(settings: Settings) -> tuple[FailureLog, Callable[[], float]]:
    """The sign-in failure log and the clock it needs (wall time when shared by machines)."""
    if settings.redis_url:
        return RedisFailureLog(settings.redis_url, prefix=settings.redis_prefix), time.time
    return MemoryFailureLog(), time.monotonic
