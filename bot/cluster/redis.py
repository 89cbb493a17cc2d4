"""The Redis connection every shared piece uses, and the one key scheme: `PREFIX:kind:name`,
so several deployments (or test runs) can share a server without seeing each other."""

from __future__ import annotations

import redis.asyncio as aioredis


def connect(url: str, *, name: str) -> aioredis.Redis:
    """An asyncio client for `url` (connects on first use), named for `CLIENT LIST`."""
    return aioredis.Redis.from_url(
        url, decode_responses=True, health_check_interval=30, client_name=name
    )


def key(prefix: str, kind: str, name: str = "") -> str:
    """The Redis key or channel of one shared thing, under the deployment's prefix."""
    return f"{prefix}:{kind}:{name}" if name else f"{prefix}:{kind}"
