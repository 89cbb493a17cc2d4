"""What the Slack channel removes when a customer is erased: their conversations' threads and
outbox rows, and every recorded event they sent or that belongs to one of those threads."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.channels.slack.models import SlackEvent, SlackOutbox, SlackThread
from bot.channels.slack.routing import address


def erase(session: Session, customer_id: str, conversation_ids: list[str]) -> dict[str, int]:
    """Delete the customer's Slack rows; the counts go into the erasure receipt."""
    addresses: set[str] = set()
    if conversation_ids:
        addresses = set(
            session.scalars(
                select(SlackThread.address).where(SlackThread.conversation_id.in_(conversation_ids))
            )
        )
    events = [
        event_id
        for event_id, payload in session.execute(select(SlackEvent.id, SlackEvent.payload))
        if _concerns(payload or {}, customer_id, addresses)
    ]
    removed = {"slack_events": 0, "slack_outbox": 0, "slack_threads": 0}
    if events:
        result = session.execute(delete(SlackEvent).where(SlackEvent.id.in_(events)))
        removed["slack_events"] = result.rowcount
    if conversation_ids:
        outbox = delete(SlackOutbox).where(SlackOutbox.conversation_id.in_(conversation_ids))
        removed["slack_outbox"] = session.execute(outbox).rowcount
        threads = delete(SlackThread).where(SlackThread.conversation_id.in_(conversation_ids))
        removed["slack_threads"] = session.execute(threads).rowcount
    return removed


def _concerns(payload: dict, customer_id: str, addresses: set[str]) -> bool:
    event = payload.get("event") or {}
    if event.get("user") == customer_id:
        return True
    channel = event.get("channel") or ""
    thread_ts = event.get("thread_ts")
    return address(channel, thread_ts) in addresses or address(channel) in addresses
