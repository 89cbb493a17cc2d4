"""Rate limits for anonymous visitors: moving windows from the `limits` library.

New conversations are limited per client IP and customer messages per conversation. With
SUPPORTBOT_REDIS_URL the counts live in Redis, so a limit holds whichever instance a request
reaches; without it, in this process (one instance).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Literal

from fastapi import FastAPI, Request
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from bot.cluster import limit_storage
from bot.settings import Settings

log = logging.getLogger(__name__)

Per = Literal["minute", "hour"]
PER: dict[Per, type[RateLimitItem]] = {
    "minute": RateLimitItemPerMinute,
    "hour": RateLimitItemPerHour,
}


class RateLimited(Exception):
    """Too many requests; `retry_after_s` says when the next one will be accepted."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as the Retry-After header wants them."""
        return str(max(1, math.ceil(self.retry_after_s)))


class Window:
    """At most `limit` hits per key in any trailing window (the `limits` library's moving
    window), counted in `storage`: this process's memory, or Redis shared by every instance."""

    def __init__(self, limit: int, per: Per, *, storage: Storage, name: str) -> None:
        if limit < 1:
            raise ValueError(f"a window needs limit >= 1, got {limit}")
        self.limit = limit
        self.item = PER[per](limit)
        self.name = name
        self._limiter = MovingWindowRateLimiter(storage)

    def hit(self, key: str) -> float:
        """Count a hit for `key` and return 0, or return the seconds to wait (not counted).
        While the shared storage is unreachable, nothing is limited."""
        try:
            if self._limiter.hit(self.item, self.name, key):
                return 0.0
            stats = self._limiter.get_window_stats(self.item, self.name, key)
        except StorageError as exc:
            log.warning("rate limit %s not applied: its storage is unreachable: %s", self.name, exc)
            return 0.0
        return max(stats.reset_time - time.time(), 0.0)


@dataclass
class RateLimits:
    """The customer API's limits; `enabled=False` turns them off (load tests). The admin API's
    limit is always on: it slows down guessing the admin token."""

    enabled: bool
    conversations: Window
    messages: Window
    admin: Window
    customers: Window

    @classmethod
    def from_settings(cls, settings: Settings, *, storage: Storage | None = None) -> RateLimits:
        """Limits as configured by RATE_LIMIT_* settings, counted where the deployment counts
        (`bot.cluster.limit_storage`) unless `storage` is given."""
        storage = storage or limit_storage(settings)
        return cls(
            enabled=settings.rate_limit_enabled,
            conversations=Window(
                settings.rate_limit_conversations_per_hour,
                "hour",
                storage=storage,
                name="conversations",
            ),
            messages=Window(
                settings.rate_limit_messages_per_minute, "minute", storage=storage, name="messages"
            ),
            admin=Window(
                settings.admin_requests_per_minute, "minute", storage=storage, name="admin"
            ),
            customers=Window(
                settings.rate_limit_conversations_per_customer_per_hour,
                "hour",
                storage=storage,
                name="customers",
            ),
        )

    @classmethod
    def of(cls, app: FastAPI) -> RateLimits:
        """The app's limits, built from its bot's settings on first use."""
        limits = getattr(app.state, "rate_limits", None)
        if limits is None:
            limits = app.state.rate_limits = cls.from_settings(app.state.bot.settings)
        return limits

    def new_conversation(self, client_ip: str) -> None:
        """Count a new conversation from `client_ip`; raises RateLimited over the limit."""
        wait = self.conversations.hit(client_ip) if self.enabled else 0.0
        if wait:
            raise RateLimited(
                f"too many new conversations from your network "
                f"(limit {self.conversations.limit} per hour); try again in {_human(wait)}",
                wait,
            )

    def customer_conversation(self, customer_id: str) -> None:
        """Count a new conversation of a verified customer (exempt from the per-IP limit);
        raises RateLimited over the per-customer limit."""
        wait = self.customers.hit(customer_id) if self.enabled else 0.0
        if wait:
            raise RateLimited(
                f"too many new conversations for this customer "
                f"(limit {self.customers.limit} per hour); try again in {_human(wait)}",
                wait,
            )

    def message(self, conversation_id: str) -> None:
        """Count a customer message; raises RateLimited over the per-conversation limit."""
        wait = self.messages.hit(conversation_id) if self.enabled else 0.0
        if wait:
            raise RateLimited(
                f"too many messages in this conversation "
                f"(limit {self.messages.limit} per minute); try again in {_human(wait)}",
                wait,
            )

    def admin_request(self, client_ip: str) -> None:
        """Count an admin API request from `client_ip`, right token or not; raises RateLimited."""
        wait = self.admin.hit(client_ip)
        if wait:
            raise RateLimited(
                f"too many admin API requests from your address "
                f"(limit {self.admin.limit} per minute); try again in {_human(wait)}",
                wait,
            )


def client_ip(request: Request) -> str:
    """The peer address (behind a proxy, run uvicorn with --proxy-headers to get the client's)."""
    return request.client.host if request.client else "unknown"


def _human(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return f"{whole} seconds" if whole != 1 else "1 second"
    return f"{math.ceil(whole / 60)} minutes"
