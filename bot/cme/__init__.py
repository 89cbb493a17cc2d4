"""The CME side: accounts, console authentication, the queue and context packet, the console's
live feed, customer records with their health, and NPS figures. HTTP routes for all of it are in
`bot.http`."""

from bot.cme.context import context_packet, queue
from bot.cme.health import Health, HealthConfig, compute_health
from bot.cme.nps import NpsSummary, nps_of, nps_summary

__all__ = [
    "Health",
    "HealthConfig",
    "NpsSummary",
    "compute_health",
    "context_packet",
    "nps_of",
    "nps_summary",
    "queue",
]
