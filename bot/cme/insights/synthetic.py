"""Synthetic support traffic written straight into the tables (bulk inserts, no pipeline): the
insights benchmark's 100,000 conversations, and the reference test's small, trap-rich sets.

Every shape the definitions tell apart occurs: answered and thanked, thumbs, CSAT, silent
answers, "I couldn't find an article" endings, off-topic declines, greetings only, empty,
escalations answered in and out of the SLA or not at all, CME replies, reopens, and the same
customer coming back on a similar or another question, often through another channel. Every
conversation links to a customer record as the identity rules would make it: a verified person
is one record whether they write in the widget (their signed id) or in Slack (their Slack user
id, joined by their verified e-mail); an anonymous widget visitor is one record per browser.
Question vectors are small (8 floats) unit vectors around a few topics, so "similar" is decided
as with real embeddings."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage import Conversation, Csat, Customer, Database, Escalation, Feedback, Message
from bot.storage.bulk import insert_rows

DIMS = 8
TOPICS = 12
REASONS = ("frustration", "human_request", "unanswered", "article_escalates", "repeat")
CHANNELS = ("web", "web", "web", "slack")
COMPANIES = 9
LOOKUP_CHUNK = 500


@dataclass
class Batch:
    # New customer records; a conversation names its record in `customer_key` (("external_id",
    # value) or ("visitor_id", value)), which `write` turns into `customer_ref`.
    customers: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    csat: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.conversations)


class Traffic:
    """A seeded generator of conversations between `start` and `end`."""

    def __init__(self, *, start: datetime, end: datetime, customers: int, seed: int = 7) -> None:
        self.start, self.end = start, end
        self.customers = max(1, customers)
        self.random = random.Random(seed)
        rng = np.random.default_rng(seed)
        topics = rng.normal(size=(TOPICS, DIMS))
        self.topics = topics / np.linalg.norm(topics, axis=1, keepdims=True)
        self.rng = rng
        self.last_by_customer: dict[str, tuple[str, datetime]] = {}
        self.known: set[str] = set()  # people and browsers that have a record already

    def _vector(self, topic: int) -> bytes:
        vector = self.topics[topic] + self.rng.normal(scale=0.15, size=DIMS)
        return (vector / np.linalg.norm(vector)).astype(np.float32).tobytes()

    def _when(self) -> datetime:
        span = (self.end - self.start).total_seconds()
        at = self.start + timedelta(seconds=self.random.random() * span)
        # Busier in working hours: redraw most night-time starts once.
        if not 8 <= at.hour < 19 and self.random.random() < 0.6:
            at = self.start + timedelta(seconds=self.random.random() * span)
        return at

    def _identity(self, batch: Batch, cid: str, channel: str) -> tuple[str, dict[str, Any]]:
        """Who writes: (the person or browser returns are tracked by, the conversation's
        identity columns); a first appearance adds the customer record to `batch`."""
        r = self.random
        if r.random() < 0.85:
            number = r.randrange(self.customers)
            person, company = f"customer-{number}", f"company-{number % COMPANIES}"
            if person not in self.known:
                self.known.add(person)
                batch.customers.append(
                    {
                        "external_id": person,
                        "slack_user_id": f"U{number:08d}",
                        "email": f"{person}@example.com",
                        "company": company,
                    }
                )
            return person, {
                "customer_id": person if channel == "web" else f"U{number:08d}",
                "customer_email": f"{person}@example.com",
                "customer_company": company,
                "customer_verified": True,
                "customer_key": ("external_id", person),
            }
        # An anonymous widget visitor: one record per browser (most never come back).
        browser = f"visitor-{r.randrange(self.customers)}" if r.random() < 0.3 else cid
        if browser not in self.known:
            self.known.add(browser)
            batch.customers.append({"visitor_id": browser})
        return browser, {
            "customer_id": None,
            "customer_email": None,
            "customer_company": None,
            "customer_verified": False,
            "customer_key": ("visitor_id", browser),
        }

    def conversation(self, batch: Batch, *, padding: int = 0) -> None:
        """Append one conversation (and 0 to 2 x `padding` extra question/answer pairs)."""
        r = self.random
        cid = uuid.uuid4().hex
        channel = r.choice(CHANNELS)
        customer, identity = self._identity(batch, cid, channel)
        if identity["customer_id"] is None:
            channel = "web"  # Slack users are never anonymous
        at = self._when()
        reopened_from = None
        if customer in self.last_by_customer and r.random() < 0.3:
            # The same customer comes back soon after (in either channel), often on the same topic.
            previous, previous_at = self.last_by_customer[customer]
            at = previous_at + timedelta(hours=r.choice((2, 20, 60, 150, 400)))
            if r.random() < 0.2:
                reopened_from = previous
        topic = r.randrange(TOPICS)
        messages: list[dict[str, Any]] = []
        clock = at

        def add(role: str, text: str, **fields: Any) -> int:
            nonlocal clock
            clock += timedelta(seconds=r.randint(5, 90))
            messages.append(
                {
                    "conversation_id": cid,
                    "seq": len(messages) + 1,
                    "role": role,
                    "text": text,
                    "created_at": clock,
                    "citations": [],
                    "reply_to": None,
                    "client_msg_id": None,
                    **fields,
                }
            )
            return len(messages)

        def ask(small_talk: str | None = None) -> int:
            frustration = min(1.0, max(0.0, r.betavariate(1.3, 5)))
            return add(
                "customer",
                "hello" if small_talk else f"question about topic {topic}",
                scores={"frustration": round(frustration, 3), "small_talk": small_talk},
                embedding=None if small_talk else self._vector(topic),
            )

        def reply(action: str, *, small_talk: str | None = None, off_topic: bool = False) -> int:
            reasons = [{"code": "off_topic", "detail": ""}] if off_topic else []
            decision = {"action": action, "reasons": reasons, "small_talk": small_talk}
            return add("bot", f"bot {action}", decision=decision, reply_to=len(messages))

        kind = r.choices(
            ("empty", "greeting", "thanked", "silent", "not_found", "off_topic", "escalated"),
            weights=(2, 5, 22, 33, 10, 3, 25),
        )[0]
        status, resolved_at, escalation = "resolved", None, None
        if kind == "greeting":
            ask("greeting")
            reply("small_talk", small_talk="greeting")
        elif kind != "empty":
            for _ in range(r.randint(0, 2 * padding)):
                ask()
                reply("answer")
            ask()
            if kind == "not_found":
                reply("clarify")
            elif kind == "off_topic":
                reply("answer")
                ask()
                reply("clarify", off_topic=True)
            elif kind == "escalated":
                trigger = reply("escalate")
                escalation = {
                    "conversation_id": cid,
                    "reasons": [
                        {"code": c, "detail": ""} for c in r.sample(REASONS, r.randint(1, 2))
                    ],
                    "trigger_seq": trigger - 1,
                    "created_at": clock,
                    "claimed_at": None,
                    "claimed_by": None,
                    "first_response_at": None,
                    "closed_at": None,
                    "outcome": None,
                }
                if r.random() < 0.85:
                    clock += timedelta(seconds=r.expovariate(1 / 400))
                    add("agent", "a person replies")
                    escalation["first_response_at"] = clock
                else:
                    status = "queued"
            else:
                answer = reply("answer")
                if r.random() < 0.3:
                    batch.feedback.append(
                        {
                            "conversation_id": cid,
                            "message_seq": answer,
                            "helpful": r.random() < 0.7,
                            "created_at": clock,
                        }
                    )
                if kind == "thanked":
                    ask("thanks")
                    reply("small_talk", small_talk=r.choice(("thanks", "goodbye")))
        if kind != "empty" and status == "resolved":
            resolved_at = clock + timedelta(minutes=30)
            if r.random() < 0.25:
                batch.csat.append(
                    {
                        "conversation_id": cid,
                        "rating": r.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0],
                        "comment": None,
                        "created_at": resolved_at,
                    }
                )
        reopened_after_s = None
        if resolved_at is not None and r.random() < 0.04:
            reopened_after_s = r.choice((3600.0, 2 * 86400.0, 10 * 86400.0))
        batch.conversations.append(
            {
                "id": cid,
                "token_hash": hashlib.sha256(cid.encode()).hexdigest(),
                "channel": channel,
                "channel_ref": None,
                "customer_name": None,
                **identity,
                "vip": False,
                "status": status,
                "owner_id": None,
                "last_seq": len(messages),
                "bot_since_seq": 0,
                "reopened_from": reopened_from,
                "created_at": at,
                "updated_at": clock,
                "resolved_at": resolved_at,
                "reopened_after_s": reopened_after_s,
            }
        )
        for message in messages:
            message.setdefault("scores", None)
            message.setdefault("decision", None)
            message.setdefault("embedding", None)
            message.setdefault("retrieval", None)
            message.setdefault("confidence", None)
            message.setdefault("author_id", None)
        batch.messages.extend(messages)
        if escalation is not None:
            batch.escalations.append(escalation)
        self.last_by_customer[customer] = (cid, clock)

    def batches(self, conversations: int, *, padding: int = 0, size: int = 2000) -> Iterator[Batch]:
        """`conversations` conversations in batches of `size`, in start order per customer."""
        made = 0
        while made < conversations:
            batch = Batch()
            for _ in range(min(size, conversations - made)):
                self.conversation(batch, padding=padding)
            made += len(batch)
            yield batch


def _customer_refs(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    refs: dict[tuple[str, str], int] = {}
    for column in ("external_id", "visitor_id"):
        values = sorted(value for kind, value in keys if kind == column)
        for start in range(0, len(values), LOOKUP_CHUNK):
            chunk = values[start : start + LOOKUP_CHUNK]
            key = getattr(Customer, column)
            for ref, value in session.execute(select(Customer.id, key).where(key.in_(chunk))):
                refs[(column, value)] = ref
    return refs


def write(db: Database, batch: Batch) -> None:
    """Bulk-insert one batch in one transaction (its new customer records first; COPY on
    PostgreSQL)."""
    with db.write() as session:
        if batch.customers:
            at = min(c["created_at"] for c in batch.conversations)
            rows = [{"created_at": at, "last_seen_at": at, **c} for c in batch.customers]
            insert_rows(session, Customer.__table__, rows)
        refs = _customer_refs(session, {c["customer_key"] for c in batch.conversations})
        conversations = [
            {
                **{k: v for k, v in c.items() if k != "customer_key"},
                "customer_ref": refs[c["customer_key"]],
            }
            for c in batch.conversations
        ]
        for model, rows in (
            (Conversation, conversations),
            (Message, batch.messages),
            (Feedback, batch.feedback),
            (Csat, batch.csat),
            (Escalation, batch.escalations),
        ):
            insert_rows(session, model.__table__, rows)
