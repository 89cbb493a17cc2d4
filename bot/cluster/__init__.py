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
from bot.cluster.redis import connect, key

__all__ = [
    "FailureLog",
    "MemoryFailureLog",
    "RedisEventBus",
    "RedisFailureLog",
    "RedisUnavailable",
    "connect",
    "failure_log",
    "key",
    "limit_storage",
]
