"""What several instances of one deployment share through Redis: the event bus, rate-limit
counters, the console's sign-in throttle, and change notices. With no Redis URL configured,
every piece has an in-process twin and a single instance works alone, as before."""

from bot.cluster.bus import RedisEventBus, RedisUnavailable
from bot.cluster.counters import (
    FailureLog,
    MemoryFailureLog,
    RedisFailureLog,
    failure_log,
    limit_storage,
)
from bot.cluster.kb import announce_forever, follow_forever, index_version, wait_for_worker
from bot.cluster.redis import connect, key

__all__ = [
    "FailureLog",
    "MemoryFailureLog",
    "RedisEventBus",
    "RedisFailureLog",
    "RedisUnavailable",
    "announce_forever",
    "connect",
    "failure_log",
    "follow_forever",
    "index_version",
    "key",
    "limit_storage",
    "wait_for_worker",
]
