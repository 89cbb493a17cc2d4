"""`supportbot eval escalation`: replay labelled dialogues through the full pipeline and count
when it escalated."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.conversation.pipeline import handle_customer_message
from bot.runtime import Bot
from bot.settings import Settings
from bot.storage import Role, store
from embedding import Embedder
from escalation import Action, Status
from sentiment import looks_like_bot_failure

REPLAY_START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
TURN_GAP = timedelta(seconds=30)
PROBE_WAIT_S = 600


class DialogueError(ValueError):
    """A dialogue line is malformed; the message names the line and the problem."""


@dataclass
class _Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    passed: int = 0
    dialogues: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def parse_time(value: str | None) -> datetime | None:
    """ISO-8601 to an aware datetime; a naive time is UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def read_dialogues(path: Path) -> list[dict[str, Any]]:
    """Load and check a dialogues JSONL file."""
    dialogues = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                dialogue = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DialogueError(f"{path}:{number}: not JSON: {exc.msg}") from exc
            turns = dialogue.get("turns") if isinstance(dialogue, dict) else None
            if not isinstance(turns, list):
                raise DialogueError(f"{path}:{number}: expected an object with a 'turns' list")
            for turn in turns:
                if turn.get("role") not in ("customer", "bot") or not isinstance(
                    turn.get("text"), str
                ):
                    raise DialogueError(
                        f"{path}:{number}: each turn needs role customer|bot and text"
                    )
            dialogues.append(dialogue)
    return dialogues


async def _replay(bot: Bot, dialogue: dict[str, Any], clock: list[datetime], tally: _Tally) -> None:
    with bot.db.write() as session:
        conversation, _ = store.create_conversation(session, now=REPLAY_START)
    conversation_id = conversation.id
    escalated = False
    ok = True
    last_at = REPLAY_START - TURN_GAP
    last_reply_seq: int | None = None
    for index, turn in enumerate(dialogue["turns"]):
        if turn["role"] == "bot":
            if last_reply_seq is not None and not escalated:
                _replace_reply(bot, conversation_id, last_reply_seq, turn["text"])
            last_reply_seq = None
            continue
        at = parse_time(turn.get("at")) or last_at + TURN_GAP
        last_at = at
        clock[0] = at
        result = await handle_customer_message(
            bot, conversation_id=conversation_id, text=turn["text"], at=at
        )
        decision = result.message.decision or {}
        if decision.get("action") == Action.ESCALATE or result.status in (
            Status.WAITING,
            Status.AGENT,
        ):
            escalated = True
        last_reply_seq = (
            result.reply.seq if result.reply and result.reply.role == Role.BOT else None
        )
        label = turn.get("label")
        if label is not None:
            expected = bool(label)
            if expected and escalated:
                tally.tp += 1
            elif expected:
                tally.fn += 1
            elif escalated:
                tally.fp += 1
            else:
                tally.tn += 1
            ok = ok and expected == escalated
        tally.rows.append(
            {
                "dialogue": dialogue.get("id"),
                "turn": index,
                "text": turn["text"],
                "label": label,
                "frustration": (result.message.scores or {}).get("frustration"),
                "signals": {
                    s["name"]: round(s["value"] * s["weight"], 3)
                    for s in (result.message.scores or {}).get("signals", [])
                    if s["value"]
                },
                "decision": decision.get("action"),
                "reasons": [r["code"] for r in decision.get("reasons", [])],
                "status": result.status.value,
                "escalated": escalated,
            }
        )
    tally.dialogues += 1
    tally.passed += ok


def _replace_reply(bot: Bot, conversation_id: str, seq: int, text: str) -> None:
    """The file's bot turn stands in for the bot's own reply, failure included."""
    with bot.db.write() as session:
        reply = store.get_message(session, conversation_id=conversation_id, seq=seq)
        reply.text = text
        action = Action.CLARIFY if looks_like_bot_failure(text) else Action.ANSWER
        reply.decision = {**(reply.decision or {}), "action": action.value}


def evaluate_escalation(
    *,
    kb_dir: Path,
    dialogues_path: Path,
    out_path: Path | None,
    settings: Settings,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Precision and recall of "escalated by this turn", and the share of dialogues fully right."""
    dialogues = read_dialogues(dialogues_path)
    with tempfile.TemporaryDirectory(prefix="supportbot-eval-") as scratch:
        replay_settings = settings.model_copy(
            update={
                "kb_dir": kb_dir,
                "data_dir": Path(scratch),
                "database_url": f"sqlite:///{Path(scratch) / 'eval.db'}",
                "office_hours": "",
                "kb_watch": False,
            }
        )
        bot = Bot.build(replay_settings, embedder=embedder)
        clock = [REPLAY_START]
        bot.clock = lambda: clock[0]
        bot.start_sync()
        # The adapted model and the article probe are built in the background; replay against
        # the finished ranking.
        bot.maintainer.wait_for_adaptation()
        bot.maintainer.wait_for_probe(PROBE_WAIT_S)
        bot.maintainer.wait_for_calibration(PROBE_WAIT_S)
        tally = _Tally()

        async def run() -> None:
            for dialogue in dialogues:
                await _replay(bot, dialogue, clock, tally)

        try:
            asyncio.run(run())
        finally:
            bot.embedder.close()
            bot.db.dispose()
    if out_path is not None:
        with out_path.open("w", encoding="utf-8") as out:
            for row in tally.rows:
                out.write(json.dumps(row) + "\n")
    predicted, actual = tally.tp + tally.fp, tally.tp + tally.fn
    return {
        "precision": round(tally.tp / predicted, 4) if predicted else None,
        "recall": round(tally.tp / actual, 4) if actual else None,
        "dialogues": tally.dialogues,
        "dialogues_passed": round(tally.passed / tally.dialogues, 4) if tally.dialogues else None,
        "labelled_turns": tally.tp + tally.fp + tally.fn + tally.tn,
    }
