"""The CME side: accounts, console authentication, the queue and context packet, and the
console's live feed. HTTP routes for all of it are in `bot.http`."""

from bot.cme.context import context_packet, queue

__all__ = ["context_packet", "queue"]
