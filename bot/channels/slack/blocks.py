"""Block Kit for what the bot posts. Pure functions over plain values: easy to table-test."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.schemas import clean_text

HELPFUL = "supportbot_helpful"
NOT_HELPFUL = "supportbot_not_helpful"
HANDOFF = "supportbot_handoff"
CLAIM = "supportbot_claim"
OPEN_CONSOLE = "supportbot_open_console"
NOTE_SHORTCUT = "supportbot_note"

NOT_LINKED = (
    "Your Slack account isn't linked to a supportbot CME account, so I can't act for you. "
    "Ask an admin to create or link one: "
    "`supportbot user add --email you@example.com --slack-user-id <your Slack member ID>`."
)

SECTION_LIMIT = 3000  # Slack rejects longer section text
NOTE_PREFIX = "note:"

_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Markdown as the KB writes it -> Slack mrkdwn: links, bold and headings; the rest escaped."""
    parts: list[str] = []
    last = 0
    for match in _LINK.finditer(markdown):
        parts.append(_inline(markdown[last : match.start()]))
        title, url = match.group(1), match.group(2)
        parts.append(f"<{escape(url)}|{escape(title).replace('|', '¦')}>")
        last = match.end()
    parts.append(_inline(markdown[last:]))
    return "".join(parts)


def _inline(text: str) -> str:
    text = escape(text)
    text = _HEADING.sub(r"*\1*", text)
    return _BOLD.sub(r"*\1*", text)


def _clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def message_ref(conversation_id: str, seq: int) -> str:
    """The value carried by feedback and handoff buttons."""
    return json.dumps({"conversation_id": conversation_id, "seq": seq})


def parse_message_ref(value: str) -> tuple[str, int]:
    """(conversation_id, seq) from a button value made by `message_ref`."""
    data = json.loads(value)
    return str(data["conversation_id"]), int(data["seq"])


def customer_message(
    *,
    conversation_id: str,
    seq: int,
    role: str,
    text: str,
    action: str | None = None,
    has_citation: bool = False,
    author: str | None = None,
) -> dict[str, Any]:
    """A bot, agent or system message as posted into the customer's DM or thread.

    Answers carry helpful / not helpful / talk to a person; a clarifying question offers a
    person; everything else is plain text.
    """
    body = to_mrkdwn(text)
    if role == "agent" and author:
        body = f"*{escape(author)}*\n{body}"
    elif role == "system":
        body = f"_{body}_"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(body)}}
    ]
    ref = message_ref(conversation_id, seq)
    buttons: list[dict[str, Any]] = []
    if role == "bot" and action == "answer" and has_citation:
        buttons = [
            _button("Helpful", HELPFUL, ref),
            _button("Not helpful", NOT_HELPFUL, ref),
            _button("Talk to a person", HANDOFF, ref),
        ]
    elif role == "bot" and action == "clarify":
        buttons = [_button("Talk to a person", HANDOFF, ref)]
    if buttons:
        blocks.append({"type": "actions", "block_id": f"reply:{seq}", "elements": buttons})
    return {"text": _clip(body, 4000), "blocks": blocks}


@dataclass(frozen=True)
class EscalationView:
    """What the CME channel shows about one escalation."""

    conversation_id: str
    customer: str
    channel: str
    reasons: list[str]
    main_question: str | None
    latest_message: str | None
    status: str  # waiting, agent, resolved, bot
    owner: str | None
    console_url: str


STATUS_LINES = {
    "waiting": ":hourglass_flowing_sand: Waiting for someone to claim it.",
    "agent": ":raising_hand: Claimed by {owner}. Reply in this thread to answer the customer; "
    "start with `note:` to keep it internal.",
    "resolved": ":white_check_mark: Resolved.",
    "bot": ":robot_face: Back with the bot.",
}


def escalation_message(view: EscalationView) -> dict[str, Any]:
    """The CME-channel post: who, why, the summary, and Claim / Open in console."""
    lines = [f"*Customer:* {escape(view.customer)} ({escape(view.channel)})"]
    if view.reasons:
        lines.append("*Why:* " + escape("; ".join(view.reasons)))
    if view.main_question:
        lines.append("*Question:* " + escape(view.main_question))
    if view.latest_message and view.latest_message != view.main_question:
        lines.append("*Latest:* " + escape(view.latest_message))
    status = STATUS_LINES.get(view.status, view.status).format(owner=escape(view.owner or "a CME"))
    buttons = []
    if view.status == "waiting":
        buttons.append(_button("Claim", CLAIM, view.conversation_id, style="primary"))
    buttons.append(
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in console"},
            "action_id": OPEN_CONSOLE,
            "url": view.console_url,
        }
    )
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Customer needs a person"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip("\n".join(lines))}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": status}]},
        {"type": "actions", "block_id": f"escalation:{view.conversation_id}", "elements": buttons},
    ]
    question = view.main_question or view.latest_message or "no question yet"
    # The notification text is mrkdwn too: unescaped, a visitor could write <!channel> or a
    # link whose label disguises its target.
    fallback = f"Escalation from {escape(view.customer)}: {escape(question)}"
    return {"text": _clip(fallback, 300), "blocks": blocks}


def split_note(text: str) -> tuple[str, bool]:
    """A CME's thread reply: (`text` without the prefix, True) when it starts with `note:`."""
    stripped = text.strip()
    if stripped.lower().startswith(NOTE_PREFIX):
        return stripped[len(NOTE_PREFIX) :].strip(), True
    return stripped, False


_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_SLACK_MENTION = re.compile(r"<[@#!][^>|]*(?:\|([^>]+))?>")


def from_mrkdwn(text: str) -> str:
    """A person's Slack message as the transcript stores it: links in Markdown, entities decoded."""

    def link(match: re.Match[str]) -> str:
        url, label = match.group(1), match.group(2)
        return f"[{label}]({url})" if label else url

    text = _SLACK_LINK.sub(link, text)
    text = _SLACK_MENTION.sub(lambda m: m.group(1) or "", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return clean_text(text).strip()


def alert_message(
    *, title: str, why: dict[str, Any], examples: list[dict[str, Any]], console_url: str
) -> dict[str, Any]:
    """What the CME channel shows about an early-warning alert: why, examples, a link."""
    numbers = ", ".join(f"{key} {value}" for key, value in why.items() if key != "topic_id")
    quoted = "\n".join(f"> {escape(_clip(str(e.get('text', '')), 300))}" for e in examples)
    text = f":rotating_light: *{escape(title)}*"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(escape(numbers))}]},
    ]
    if quoted:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(quoted)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"<{console_url}|Open the alerts in the console>"}
            ],
        }
    )
    return {"text": text, "blocks": blocks}
