"""Tuning knobs of the Slack channel's workers. Defaults are the production values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackOptions:
    """How the event and outbox workers pace themselves.

    `retry_after_scale` multiplies Slack's Retry-After before the outbox sleeps on a 429; the
    result is clamped to [`min_retry_sleep_s`, `max_retry_sleep_s`]. Keep 1.0 in production;
    tests use a small scale so a burst of rate-limited posts finishes in a second.
    """

    retry_after_scale: float = 1.0
    min_retry_sleep_s: float = 0.0
    max_retry_sleep_s: float = 120.0
    # Slack's Retry-After when the header is missing or unreadable.
    default_retry_after_s: float = 1.0
    # Exponential backoff for network errors and Slack 5xx: base * 2**attempt, capped.
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    # The outbox polls this often in case another process queued rows (commits wake it at once).
    poll_interval_s: float = 1.0
    # A worker owns an event or outbox row for this long; a crashed worker's rows free up after it.
    lease_s: float = 60.0
    # Pending events (failed turns, a crashed process's work) are retried this often.
    event_rescan_s: float = 5.0
    event_max_attempts: int = 5
    # Parallel outbox threads (each thread is still delivered strictly in order).
    max_parallel_threads: int = 8

    def retry_sleep(self, retry_after: float | None) -> float:
        """Seconds to wait after a 429 that asked for `retry_after` seconds."""
        wanted = self.default_retry_after_s if retry_after is None else retry_after
        return min(
            max(wanted * self.retry_after_scale, self.min_retry_sleep_s), self.max_retry_sleep_s
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based) after a transient failure."""
        return min(self.backoff_base_s * 2 ** max(attempt - 1, 0), self.backoff_max_s)
