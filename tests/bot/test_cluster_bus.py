"""The Redis event bus on a real Redis server: events cross instances, stay inside their
deployment's prefix, and subscribers resync when the connection drops."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.cluster import RedisEventBus, RedisUnavailable


async def next_event(events, timeout: float = 5.0):
    return await asyncio.wait_for(anext(events), timeout)


@pytest.fixture
async def buses(redis_server, redis_prefix):
    """Two instances' buses of one deployment."""
    started = [RedisEventBus(redis_server, prefix=redis_prefix) for _ in range(2)]
    for bus in started:
        await bus.start()
    yield started
    for bus in started:
        await bus.close()


async def test_an_event_published_on_one_instance_reaches_the_others_subscribers(buses):
    a, b = buses
    async with a.subscribe("conversation:c1") as on_a, b.subscribe("conversation:c1") as on_b:
        await b.publish("conversation:c1", {"type": "typing", "who": "agent", "on": True})
        await b.publish("conversation:c2", {"type": "typing", "who": "bot", "on": True})
        await b.publish("conversation:c1", {"type": "status", "status": "human"})
        assert await next_event(on_a) == {"type": "typing", "who": "agent", "on": True}
        assert await next_event(on_a) == {"type": "status", "status": "human"}
        assert await next_event(on_b) == {"type": "typing", "who": "agent", "on": True}


async def test_another_prefix_hears_nothing(buses, redis_server, redis_prefix):
    other = RedisEventBus(redis_server, prefix=redis_prefix + "-other")
    await other.start()
    try:
        async with other.subscribe("console") as elsewhere, buses[0].subscribe("console") as here:
            await buses[1].publish("console", {"type": "changed", "conversation_id": "x"})
            assert await next_event(here) == {"type": "changed", "conversation_id": "x"}
            with pytest.raises(TimeoutError):
                await next_event(elsewhere, timeout=0.5)
    finally:
        await other.close()


async def test_a_dropped_connection_ends_subscriptions_so_they_resync(
    buses, redis_server, redis_prefix
):
    a, b = buses
    admin = aioredis.Redis.from_url(redis_server, decode_responses=True)
    try:
        async with a.subscribe("agent:c1") as events:
            for client in await admin.client_list(_type="pubsub"):
                if client["name"] == f"{redis_prefix}:bus":
                    await admin.client_kill_filter(_id=client["id"])
            with pytest.raises(StopAsyncIteration):
                await next_event(events, timeout=10)
    finally:
        await admin.aclose()
    for _ in range(50):  # reconnected: a new subscription hears events again
        async with a.subscribe("agent:c1") as events:
            await b.publish("agent:c1", {"type": "vip", "vip": True})
            try:
                assert await next_event(events, timeout=0.5) == {"type": "vip", "vip": True}
                return
            except (TimeoutError, StopAsyncIteration):
                continue
    pytest.fail("the bus did not reconnect")


async def test_an_instance_whose_redis_does_not_answer_refuses_to_start():
    bus = RedisEventBus("redis://127.0.0.1:1/0", prefix="unreachable")
    with pytest.raises(RedisUnavailable, match="127.0.0.1:1"):
        await bus.start()
