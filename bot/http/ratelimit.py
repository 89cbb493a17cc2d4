"""Rate limits for anonymous visitors: sliding windows kept in process, no dependencies.

New conversations are limited per client IP and customer messages per conversation. Each
server process keeps its own counts, so with N workers the effective limit is up to N times
the setting; that is acceptable for abuse control, which only needs the order of magnitude.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request

from bot.settings import Settings

HOUR_S = 3600.0
MINUTE_S = 60.0
ADMIN_PER_MINUTE = 10
CUSTOMER_CONVERSATIONS_PER_HOUR = 10


class RateLimited(Exception):
    """Too many requests; `retry_after_s` says when the next one will be accepted."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Whole seconds, at least 1, as the Retry-After header wants them."""
        return str(max(1, math.ceil(self.retry_after_s)))


class SlidingWindow:
    """At most `limit` hits per key in any trailing `window_s` seconds (a sliding log).

    Memory is `limit` timestamps per active key; keys idle for a whole window are swept.
    """

    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a window needs limit >= 1 and window_s > 0, got {limit}, {window_s}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + window_s

    def hit(self, key: str) -> float:
        """Count a hit for `key` and return 0, or return the seconds to wait (not counted)."""
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window_s - now
            hits.append(now)
            return 0.0

    def __len__(self) -> int:
        return len(self._hits)

    def _sweep(self, now: float) -> None:
        idle = [
            key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s
        ]
        for key in idle:
            del self._hits[key]
        self._next_sweep = now + self.window_s


@dataclass
class RateLimits:
    """The customer API's limits; `enabled=False` turns them off (load tests). The admin API's
    limit is always on: it slows down guessing the admin token."""

    enabled: bool
    conversations: SlidingWindow
    messages: SlidingWindow
    admin: SlidingWindow = field(default_factory=lambda: SlidingWindow(ADMIN_PER_MINUTE, MINUTE_S))
    customers: SlidingWindow = field(
        default_factory=lambda: SlidingWindow(CUSTOMER_CONVERSATIONS_PER_HOUR, HOUR_S)
    )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        """Limits as configured by RATE_LIMIT_* settings."""
        return cls(
            enabled=settings.rate_limit_enabled,
            conversations=SlidingWindow(
                settings.rate_limit_conversations_per_hour, HOUR_S, clock=clock
            ),
            messages=SlidingWindow(settings.rate_limit_messages_per_minute, MINUTE_S, clock=clock),
            admin=SlidingWindow(settings.admin_requests_per_minute, MINUTE_S, clock=clock),
            customers=SlidingWindow(
                settings.rate_limit_conversations_per_customer_per_hour, HOUR_S, clock=clock
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
