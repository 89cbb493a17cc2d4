"""Knowledge drafts: a resolved conversation where a CME answered becomes a markdown article
under the KB folder with `draft: true` (never served). Title: the customer's question;
`questions`: similar questions of its topic; body: the CME's replies; all redacted. Editors edit,
publish (`draft: false`, the watcher serves it) or discard it, in the console or in git. The
file is the only copy; provenance (conversation, topic, publication time) is in its front
matter, which retrieval ignores."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.runtime import Bot
from bot.storage import Conflict, Message, NotFound, Role, store
from escalation import Status
from insight.redact import redact

FOLDER = "from-cases"
MAX_SLUG = 60
SIMILAR_QUESTIONS = 5
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# Names Windows reserves (a file named so cannot be created or opened there).
RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}

log = logging.getLogger(__name__)


class DraftError(Conflict):
    """The draft cannot be made or changed as asked."""


@dataclass(frozen=True)
class Draft:
    id: str
    title: str
    questions: list[str]
    body: str
    draft: bool
    conversation_id: str | None
    topic_id: int | None
    published_at: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def slugify(title: str) -> str:
    """A safe file name for `title`: lowercase ASCII words and dashes, never a reserved name,
    never empty, never a path."""
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:MAX_SLUG].strip("-")
    if not words or words in RESERVED or words.split("-")[0] in RESERVED:
        words = f"article-{words}" if words else "article"
    return words


def draft_path(kb_dir: Path, draft_id: str) -> Path:
    """Where a draft lives: always inside KB_DIR/from-cases; rejects anything else."""
    if not SLUG.match(draft_id) or draft_id in RESERVED:
        raise NotFound(f"draft {draft_id!r} does not exist")
    folder = (kb_dir / FOLDER).resolve()
    path = (folder / f"{draft_id}.md").resolve()
    if path.parent != folder:
        raise NotFound(f"draft {draft_id!r} does not exist")
    return path


def _write(path: Path, meta: dict[str, Any], body: str) -> None:
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip()
    temporary = path.with_suffix(".md.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary.write_text(f"---\n{front}\n---\n\n{body.strip()}\n", encoding="utf-8")
    temporary.replace(path)  # atomic: the watcher never sees half a file


def _read(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}, text
    front, _, body = text[4:].partition("\n---\n")
    try:
        meta = yaml.safe_load(front) or {}
    except yaml.YAMLError:  # edited by hand in git: shown with its body, without metadata
        meta = {}
    return (meta if isinstance(meta, dict) else {}), body.strip("\n")


def read_draft(kb_dir: Path, draft_id: str) -> Draft:
    """A draft (or published article) made from a case."""
    path = draft_path(kb_dir, draft_id)
    if not path.is_file():
        raise NotFound(f"draft {draft_id!r} does not exist")
    meta, body = _read(path)
    published = meta.get("published")
    return Draft(
        id=draft_id,
        title=str(meta.get("title", "")),
        questions=[str(q) for q in meta.get("questions") or []],
        body=body,
        draft=bool(meta.get("draft", True)),
        conversation_id=meta.get("source_conversation"),
        topic_id=meta.get("topic_id"),
        published_at=str(published) if published else None,
    )


def list_drafts(kb_dir: Path) -> list[Draft]:
    """Every article made from a case, drafts first."""
    folder = kb_dir / FOLDER
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("*.md")):
        try:
            found.append(read_draft(kb_dir, path.stem))
        except NotFound:  # a file added in git under a name the console cannot address
            log.info("not listing %s: its name is not a draft id", path.name)
    return sorted(found, key=lambda d: (not d.draft, d.id))


def _similar_questions(session: Session, question: Message, limit: int) -> list[str]:
    vector = store.decode_embedding(question.embedding)
    if question.topic_id is None or vector is None:
        return []
    rows = session.scalars(
        select(Message).where(
            Message.topic_id == question.topic_id,
            Message.role == Role.CUSTOMER,
            Message.embedding_model == question.embedding_model,
            Message.id != question.id,
        )
    ).all()
    scored = sorted(
        ((float(np.dot(store.decode_embedding(m.embedding), vector)), m.text) for m in rows),
        reverse=True,
    )
    picked: list[str] = []
    for _, text in scored:
        text = redact(text.strip())[:300]
        if text and text.lower() not in {p.lower() for p in picked} and text != question.text:
            picked.append(text)
        if len(picked) == limit:
            break
    return picked


def create_draft(bot: Bot, session: Session, *, conversation_id: str) -> Draft:
    """Write a draft article from a resolved conversation where a CME answered."""
    conversation = store.get_conversation(session, conversation_id=conversation_id)
    if conversation.status != Status.RESOLVED:
        raise DraftError("only a resolved conversation can become an article")
    messages = list(store.list_messages(session, conversation_id=conversation_id))
    replies = [m for m in messages if m.role == Role.AGENT]
    if not replies:
        raise DraftError("no CME answered in this conversation")
    first_reply = replies[0].seq
    asked = [m for m in messages if m.role == Role.CUSTOMER and m.seq < first_reply]
    if not asked:
        raise DraftError("the conversation has no customer question before the CME's answer")
    # The question a CME answered: the customer's longest message before the first reply
    # (greetings and "a human please" are short).
    question = max(asked, key=lambda m: len(m.text))
    title = redact(" ".join(question.text.split()))[:200]
    body = "\n\n".join(redact(m.text.strip()) for m in replies if m.text.strip())
    slug = base = slugify(title)
    number = 2
    while draft_path(bot.settings.kb_dir, slug).exists():
        slug = f"{base[: MAX_SLUG - 4]}-{number}"
        number += 1
    meta = {
        "title": title,
        "questions": _similar_questions(session, question, SIMILAR_QUESTIONS),
        "draft": True,
        "source_conversation": conversation_id,
        "topic_id": question.topic_id,
    }
    _write(draft_path(bot.settings.kb_dir, slug), meta, body)
    return read_draft(bot.settings.kb_dir, slug)


def update_draft(
    kb_dir: Path, draft_id: str, *, title: str, questions: list[str], body: str
) -> Draft:
    """An editor's edit of a draft (a published article is edited in git)."""
    current = read_draft(kb_dir, draft_id)
    if not current.draft:
        raise DraftError("this article is published; edit it in the KB folder")
    path = draft_path(kb_dir, draft_id)
    meta, _ = _read(path)
    meta |= {"title": title.strip(), "questions": [q.strip() for q in questions if q.strip()]}
    _write(path, meta, body)
    return read_draft(kb_dir, draft_id)


def publish_draft(kb_dir: Path, draft_id: str, *, now: datetime) -> Draft:
    """Set `draft: false`: the KB watcher serves the article within seconds."""
    current = read_draft(kb_dir, draft_id)
    if not current.draft:
        raise DraftError("this article is already published")
    if not current.title.strip() or not current.body.strip():
        raise DraftError("a draft needs a title and a body before it is published")
    path = draft_path(kb_dir, draft_id)
    meta, body = _read(path)
    meta |= {"draft": False, "published": now.isoformat()}
    _write(path, meta, body)
    return read_draft(kb_dir, draft_id)


def discard_draft(kb_dir: Path, draft_id: str) -> None:
    """Delete a draft's file."""
    if not read_draft(kb_dir, draft_id).draft:
        raise DraftError("this article is published; remove it in the KB folder")
    draft_path(kb_dir, draft_id).unlink()


def publication_effect(
    session: Session, draft: Draft, *, now: datetime, weeks: int = 4
) -> dict[str, Any] | None:
    """The topic's escalation and answer rate in the weeks before and after publication."""
    if draft.published_at is None or draft.topic_id is None:
        return None
    try:
        published = datetime.fromisoformat(draft.published_at)
    except ValueError:  # a date typed by hand that we cannot read: no effect shown
        return None
    if published.tzinfo is None:  # a bare date or time typed by hand counts as UTC
        published = published.replace(tzinfo=UTC)
    span = timedelta(weeks=weeks)
    rows = session.scalars(
        select(Message).where(
            Message.topic_id == draft.topic_id,
            Message.role == Role.CUSTOMER,
            Message.created_at >= published - span,
            Message.created_at <= min(now, published + span),
        )
    ).all()

    def rates(messages: list[Message]) -> dict[str, Any]:
        actions = [(m.decision or {}).get("action") for m in messages]
        decided = [a for a in actions if a]
        share = (
            (lambda a: round(sum(x == a for x in decided) / len(decided), 3)) if decided else None
        )
        return {
            "questions": len(messages),
            "answer_rate": share("answer") if share else None,
            "escalation_rate": share("escalate") if share else None,
        }

    return {
        "topic_id": draft.topic_id,
        "weeks": weeks,
        "before": rates([m for m in rows if m.created_at < published]),
        "after": rates([m for m in rows if m.created_at >= published]),
    }
