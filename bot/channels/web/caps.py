"""Caps on open widget sockets, per client address and per conversation."""

from __future__ import annotations

from collections import Counter
from typing import Literal

Scope = Literal["address", "conversation"]


class SocketCaps:
    """Counts open widget sockets and admits one more only under the cap of its scope.

    One process's event loop owns the counts; with N workers the effective caps are N times
    the settings, like the rate limits.
    """

    def __init__(self, *, per_address: int, per_conversation: int) -> None:
        self.limits: dict[Scope, int] = {
            "address": per_address,
            "conversation": per_conversation,
        }
        self._open: Counter[tuple[Scope, str]] = Counter()

    def take(self, scope: Scope, key: str) -> bool:
        """Count one more socket for `key`, or return False when it already has its cap."""
        if self._open[(scope, key)] >= self.limits[scope]:
            return False
        self._open[(scope, key)] += 1
        return True

    def give_back(self, scope: Scope, key: str) -> None:
        """A socket counted by `take` closed."""
        self._open[(scope, key)] -= 1
        if self._open[(scope, key)] <= 0:
            del self._open[(scope, key)]

    def __len__(self) -> int:
        return len(self._open)
