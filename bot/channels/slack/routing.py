"""Which conversation a Slack message belongs to. Pure: an event dict in, a Route out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Message subtypes that are still a person writing (a file shared with or without words
# included); every other subtype (edits, deletions, joins, bot messages, file comments) is
# ignored.
PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})
HANDLED_EVENTS = frozenset({"message", "app_mention"})


class RouteKind(StrEnum):
    DM = "dm"  # a customer's direct message: the DM's current conversation
    THREAD = "thread"  # a customer's channel thread, or a mention that starts one
    CME_REPLY = "cme_reply"  # a reply in an escalation's thread in the CME channel
    IGNORE = "ignore"


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    address: str | None = None
    user: str | None = None
    text: str = ""
    mentioned: bool = False
    reason: str = ""


def address(channel: str, thread_ts: str | None = None) -> str:
    """The Slack address of a DM ("D123") or of a channel thread ("C123/1700000000.000100")."""
    return channel if not thread_ts else f"{channel}/{thread_ts}"


def split_address(value: str) -> tuple[str, str | None]:
    """(channel, thread_ts or None) of an address."""
    channel, _, thread_ts = value.partition("/")
    return channel, thread_ts or None


def message_key(event: dict[str, Any]) -> str | None:
    """The identity of the Slack message behind an event, shared by its app_mention and message."""
    if event.get("type") not in HANDLED_EVENTS or not event.get("channel") or not event.get("ts"):
        return None
    return f"{event['channel']}:{event['ts']}"


def ignore_reason(event: dict[str, Any], bot_user_id: str | None) -> str | None:
    """Why an event is not a person's new message (None when it is one)."""
    if event.get("type") not in HANDLED_EVENTS:
        return f"event type {event.get('type')!r} is not handled"
    if event.get("subtype") not in PERSON_SUBTYPES:
        return f"message subtype {event.get('subtype')!r}"
    if event.get("bot_id") or event.get("bot_profile"):
        return "sent by a bot"
    if not event.get("user"):
        return "no user"
    if bot_user_id and event["user"] == bot_user_id:
        return "sent by this app"
    return None


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The text without mentions of the app (customers address it by name)."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    return " ".join(text.split())


def route(event: dict[str, Any], *, bot_user_id: str | None, cme_channel: str) -> Route:
    """Where a message event goes: a customer DM, a customer thread, a CME reply, or nowhere.

    A THREAD route without a mention is a turn only if the thread already is a conversation;
    the inbox checks that against the database.
    """
    reason = ignore_reason(event, bot_user_id)
    if reason:
        return Route(RouteKind.IGNORE, reason=reason)
    channel, ts, user = event.get("channel") or "", event.get("ts") or "", event["user"]
    thread_ts = event.get("thread_ts")
    raw = event.get("text") or ""
    text = strip_mentions(raw, bot_user_id)
    if cme_channel and channel == cme_channel:
        if not thread_ts or thread_ts == ts:
            return Route(RouteKind.IGNORE, reason="top-level message in the CME channel")
        return Route(RouteKind.CME_REPLY, address(channel, thread_ts), user, raw.strip())
    if event.get("channel_type") == "im" or channel.startswith("D"):
        return Route(RouteKind.DM, address(channel), user, text)
    mentioned = event.get("type") == "app_mention" or (
        bool(bot_user_id) and f"<@{bot_user_id}" in raw
    )
    if not thread_ts and not mentioned:
        # A new top-level message can only start a conversation by mentioning the app.
        return Route(RouteKind.IGNORE, reason="channel message not addressed to the app")
    return Route(RouteKind.THREAD, address(channel, thread_ts or ts), user, text, mentioned)
