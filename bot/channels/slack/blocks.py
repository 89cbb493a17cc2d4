"""Block Kit for what the bot posts. Pure functions over plain values: easy to table-test."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.schemas import clean_text

HELPFUL = "supportbot_helpful"
NOT_HELPFUL = "supportbot_not_helpful"
HANDOFF = "supportbot_handoff"
CLAIM = "supportbot_claim"
OPEN_CONSOLE = "supportbot_open_console"
NOTE_SHORTCUT = "supportbot_note"
# CSAT and NPS buttons: the rating, reason or score is the action id's suffix.
CSAT_PREFIX = "supportbot_csat_"
CSAT_REASON_PREFIX = "supportbot_csat_reason_"
NPS_PREFIX = "supportbot_nps_"
CSAT_ACTION = re.compile(r"^supportbot_csat_[1-5]$")
CSAT_REASON_ACTION = re.compile(r"^supportbot_csat_reason_[a-z_]{1,32}$")
NPS_ACTION = re.compile(r"^supportbot_nps_(?:[0-9]|10)$")
# The modal a rating or NPS click opens: the optional comment (and, for a rating of 1-2, why).
CSAT_DETAILS_VIEW = "supportbot_csat_details"
NPS_DETAILS_VIEW = "supportbot_nps_details"
REASON_BLOCK, REASON_INPUT = "reason", "reason_select"
COMMENT_BLOCK, COMMENT_INPUT = "comment", "comment_input"
MAX_COMMENT_CHARS = 2000  # as the widget's API (bot.schemas.CsatIn)
CSAT_REASONS = {
    "not_answered": "Not answered",
    "wrong_answer": "Wrong answer",
    "too_slow": "Too slow",
    "hard_to_reach_human": "Hard to reach a person",
    "rude_or_unhelpful": "Unhelpful",
    "other": "Something else",
}

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
    """Markdown as the KB writes it -> Slack mrkdwn: links, bold, headings, bullets and tables
    (one readable line per row: Slack has no tables); the rest escaped."""
    return _inline_mrkdwn(_flatten_blocks(markdown))


_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def table_cells(line: str) -> list[str]:
    """The cells of one pipe-table row (`\\|` is a literal bar)."""
    row = line.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


def is_table_start(lines: list[str], index: int) -> bool:
    """A header row followed by a delimiter row with as many cells."""
    return (
        "|" in lines[index]
        and index + 1 < len(lines)
        and bool(_TABLE_DELIMITER.match(lines[index + 1]))
        and "-" in lines[index + 1]
        and len(table_cells(lines[index])) == len(table_cells(lines[index + 1]))
    )


def _table_rows(header: list[str], rows: list[list[str]]) -> list[str]:
    # "**Pro** · Monthly billing: $24 per user · Annual billing: $20": the row's first cell
    # names it, every other cell says which column it is.
    lines = []
    for row in rows:
        name = row[0].strip("* ") if row else ""
        pairs = [
            f"{title}: {value}" if title else value
            for title, value in zip(header[1:], row[1:], strict=False)
            if value
        ]
        lines.append(" · ".join([f"• **{name}**" if name else "•", *pairs]))
    return lines


def _flatten_blocks(markdown: str) -> str:
    lines = markdown.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if fence := _FENCE.match(line):
            out.append("```")
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(fence.group(1)):
                out.append(lines[index])
                index += 1
            out.append("```")
            index += 1
        elif is_table_start(lines, index):
            header = table_cells(lines[index])
            index += 2
            rows = []
            while index < len(lines) and lines[index].strip() and "|" in lines[index]:
                rows.append(table_cells(lines[index]))
                index += 1
            out.extend(_table_rows(header, rows))
        else:
            out.append(_BULLET.sub(lambda m: f"{m.group(1)}• ", line))
            index += 1
    return "\n".join(out)


def _inline_mrkdwn(markdown: str) -> str:
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
    files: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A bot, agent or system message as posted into the customer's DM or thread; `files`
    (name, URL) are links in place of the text (which is the file's name).

    Answers carry helpful / not helpful / talk to a person; a clarifying question offers a
    person; everything else is plain text.
    """
    body = to_mrkdwn(text)
    if files:
        body = "\n".join(
            f":paperclip: <{url}|{escape(name).replace('|', '¦')}>" for name, url in files
        )
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


def csat_message(*, conversation_id: str, resolution: int) -> dict[str, Any]:
    """The rating prompt after a resolution: 1-5 buttons (a click opens `csat_details_view`)."""
    value = json.dumps({"conversation_id": conversation_id, "resolution": resolution})
    ratings = [
        _button(f"{rating} {'★' * rating}", f"{CSAT_PREFIX}{rating}", value)
        for rating in range(1, 6)
    ]
    text = "How did we do? Rate this conversation (1 = very poor, 5 = great)."
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": f"csat:{resolution}", "elements": ratings},
        ],
    }


def _comment_input(label: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": COMMENT_BLOCK,
        "optional": True,
        "label": {"type": "plain_text", "text": label},
        "element": {
            "type": "plain_text_input",
            "action_id": COMMENT_INPUT,
            "multiline": True,
            "max_length": MAX_COMMENT_CHARS,
        },
    }


def _modal(callback_id: str, title: str, metadata: dict[str, Any], blocks: list) -> dict:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": blocks,
    }


def csat_details_view(
    *,
    conversation_id: str,
    resolution: int,
    rating: int,
    channel: str,
    thread_ts: str | None,
) -> dict[str, Any]:
    """The modal after a rating, as the widget asks: why (a rating of 1 or 2; optional) and an
    optional comment. `private_metadata` says which rating and where to thank."""
    metadata = {
        "conversation_id": conversation_id,
        "resolution": resolution,
        "channel": channel,
        "thread_ts": thread_ts,
    }
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"You rated this conversation {rating} of 5."},
        }
    ]
    if rating <= 2:
        options = [
            {"text": {"type": "plain_text", "text": label}, "value": code}
            for code, label in CSAT_REASONS.items()
        ]
        blocks.append(
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "What went wrong?"},
                "element": {
                    "type": "static_select",
                    "action_id": REASON_INPUT,
                    "options": options,
                },
            }
        )
    blocks.append(_comment_input("Anything you'd like to add? (optional)"))
    return _modal(CSAT_DETAILS_VIEW, "Thanks for rating", metadata, blocks)


def nps_details_view(
    *, survey_id: int, score: int, channel: str, thread_ts: str | None
) -> dict[str, Any]:
    """The modal after an NPS answer: an optional comment."""
    metadata = {"survey": survey_id, "channel": channel, "thread_ts": thread_ts}
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"You answered {score} of 10."},
        },
        _comment_input("What is the main reason for your score? (optional)"),
    ]
    return _modal(NPS_DETAILS_VIEW, "Thanks for your answer", metadata, blocks)


@dataclass(frozen=True)
class Details:
    """What a submitted rating or NPS modal carries."""

    metadata: dict[str, Any]
    reason: str | None
    comment: str | None
    errors: dict[str, str]  # block_id -> message, for Slack to show in the modal


def parse_details(view: dict[str, Any]) -> Details:
    """The reason and comment of a submitted modal, cleaned and checked (never trusted)."""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    selected = ((values.get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}).get("selected_option")
    reason = selected.get("value") if isinstance(selected, dict) else None
    if reason is not None and reason not in CSAT_REASONS:
        errors[REASON_BLOCK] = "Choose one of the listed reasons."
        reason = None
    raw = ((values.get(COMMENT_BLOCK) or {}).get(COMMENT_INPUT) or {}).get("value")
    comment = clean_text(raw).strip() if isinstance(raw, str) else ""
    if len(comment) > MAX_COMMENT_CHARS:
        errors[COMMENT_BLOCK] = f"At most {MAX_COMMENT_CHARS} characters, please."
    return Details(metadata=metadata, reason=reason, comment=comment or None, errors=errors)


def nps_message(*, survey_id: int) -> dict[str, Any]:
    """The NPS question: 0-10 buttons."""
    value = json.dumps({"survey": survey_id})
    scores = [_button(str(score), f"{NPS_PREFIX}{score}", value) for score in range(11)]
    text = (
        "How likely are you to recommend us to a friend or colleague? (0 = not at all, 10 = very)"
    )
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "actions", "block_id": f"nps:{survey_id}", "elements": scores},
        ],
    }


def parse_answer_ref(value: str) -> dict[str, Any]:
    """The JSON a CSAT or NPS button carries."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise ValueError("not a button value")
    return data


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
