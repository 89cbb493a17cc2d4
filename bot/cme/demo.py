"""`supportbot demo seed`: a month of realistic support traffic through the real pipeline (the
real model scores and answers every turn), so that the console, the insight dashboard and the
metrics show something true on a fresh demo. Time is simulated with the bot's clock: each turn
is stored at its own moment of the past month."""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot import conversation as handoff
from bot.cme import accounts
from bot.conversation import handle_customer_message
from bot.runtime import Bot
from bot.storage import Conversation, Database, User, store
from escalation import Status, Transition

log = logging.getLogger(__name__)

# Customer scripts: each is the customer's side of a conversation; the bot's answers are real.
QUESTIONS = [
    "How do I reset my password?",
    "Where can I download my invoices?",
    "How do I export my data?",
    "Can I get a refund on my annual plan?",
    "How do I connect Google Calendar?",
    "How do I invite my team?",
    "How do I turn on two-factor authentication?",
    "My payment failed, what now?",
    "How do I change my plan?",
    "Do you charge VAT?",
    "How do I cancel my subscription?",
    "How do I update my credit card?",
    "Can I connect QuickBooks?",
    "How do I set up a webhook?",
    "Where do I find my API key?",
    "The app crashes when I open it",
    "Sync is not working between my phone and laptop",
    "I don't receive your emails",
    "The timer doesn't start",
    "Everything is really slow today",
    "How do I import contacts from a CSV file?",
    "How do I delete my account?",
    "Does it work with Zapier?",
    "How long do you keep my data?",
]
REPHRASED = {
    "How do I reset my password?": "the password reset link doesn't work",
    "Where can I download my invoices?": "I still can't find the invoice PDF",
    "How do I export my data?": "my export never arrived",
    "Sync is not working between my phone and laptop": "sync is still broken",
    "The app crashes when I open it": "the app keeps crashing on launch",
}
OUT_OF_KB = [
    "Can I pay with bitcoin?",
    "Do you have an office in Lisbon?",
    "Is there a student discount for my school project?",
]
THANKS = ["thanks!", "great, thank you", "perfect, that worked", "bye"]
ANNOYED = [
    "that doesn't help at all",
    "This is ridiculous, I have asked twice already!!!",
    "I want to talk to a person",
]
CMES = [("ana@demo.example.com", "Ana (demo)"), ("ben@demo.example.com", "Ben (demo)")]
CUSTOMERS = 60
DEMO_COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli")
QUIET_BEFORE_NOW = timedelta(hours=2)


@dataclass(frozen=True)
class SeedReport:
    conversations: int
    turns: int
    escalated: int
    seconds: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "conversations": self.conversations,
            "turns": self.turns,
            "escalated": self.escalated,
            "seconds": round(self.seconds, 1),
        }


class _Clock:
    """The bot's clock during the seed: the simulated moment."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


def has_traffic(db: Database) -> bool:
    """True when the database already holds conversations (the seed runs on an empty one)."""
    with db.read() as session:
        return bool(session.scalar(select(func.count()).select_from(Conversation)))


def _cmes(bot: Bot) -> list[User]:
    with bot.db.write() as session:
        users = []
        for email, name in CMES:
            user = session.scalars(select(User).where(User.email == email)).first()
            if user is None:
                user, _ = accounts.create_user(
                    session, email=email, name=name, password=secrets.token_urlsafe(18)
                )
            users.append(user)
        return users


def _identity(customer: str, channel: str) -> store.CustomerIdentity:
    """A demo customer as the host page (signed, with their company) or Slack (their user id
    and verified e-mail) presents them: one customer record across both channels."""
    number = int(customer.rsplit("-", 1)[1])
    return store.CustomerIdentity(
        id=f"U{number:08d}" if channel == "slack" else customer,
        name=f"Customer {number}",
        email=f"{customer}@example.com",
        company=DEMO_COMPANIES[number % len(DEMO_COMPANIES)],
        verified=True,
    )


def _script(rng: random.Random) -> tuple[list[str], str]:
    """The customer's turns and the shape of the conversation."""
    question = rng.choice(QUESTIONS)
    kind = rng.choices(
        ("thanked", "silent", "followup", "greeting", "out_of_kb", "annoyed", "handoff"),
        weights=(28, 26, 10, 6, 8, 14, 8),
    )[0]
    match kind:
        case "thanked":
            return [question, rng.choice(THANKS)], kind
        case "silent":
            return [question], kind
        case "followup":
            return [question, rng.choice(QUESTIONS), rng.choice(THANKS)], kind
        case "greeting":
            return ["hi there"] if rng.random() < 0.5 else ["hi there", question], kind
        case "out_of_kb":
            return [rng.choice(OUT_OF_KB)], kind
        case "annoyed":
            return [question, *rng.sample(ANNOYED, 2)], kind
    return [question], kind


async def seed(bot: Bot, *, days: int = 30, per_day: int = 10, seed_value: int = 15) -> SeedReport:
    """Run `days` x `per_day` conversations through the pipeline, ending now."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    real_clock = bot.clock
    now = real_clock()
    cmes = _cmes(bot)
    # Conversations end before now: every simulated moment, resolution included, is past.
    span = days * 86_400 - QUIET_BEFORE_NOW.total_seconds()
    starts = sorted(
        now - timedelta(days=days) + timedelta(seconds=rng.random() * span)
        for _ in range(days * per_day)
    )
    clock = _Clock(starts[0])
    bot.clock = clock
    turns = escalated = 0
    last: dict[str, tuple[str, datetime]] = {}  # customer -> their last question and when
    try:
        for begin in starts:
            clock.at = begin
            customer = f"demo-customer-{rng.randrange(CUSTOMERS)}"
            script, kind = _script(rng)
            if customer in last and rng.random() < 0.35 and last[customer][0] in REPHRASED:
                script = [REPHRASED[last[customer][0]]]  # the answer did not hold
            channel = "slack" if rng.random() < 0.25 else "web"
            with bot.db.write() as session:
                created, _ = store.create_conversation(
                    session,
                    customer=_identity(customer, channel),
                    channel=channel,
                    channel_ref=f"demo-{secrets.token_hex(6)}" if channel == "slack" else None,
                    now=begin,
                )
            status = Status.BOT
            answer_seq = None
            for text in script:
                clock.advance(rng.uniform(15, 120))
                result = await handle_customer_message(
                    bot, conversation_id=created.id, text=text, at=clock.at
                )
                turns += 1
                status = result.status
                if (
                    result.reply is not None
                    and (result.reply.decision or {}).get("action") == "answer"
                ):
                    answer_seq = result.reply.seq
                if status != Status.BOT:
                    break
            if kind == "handoff" and status == Status.BOT:
                clock.advance(rng.uniform(10, 60))
                await handoff.request_handoff(bot, conversation_id=created.id)
                status = Status.WAITING
            if script[0] in QUESTIONS:
                last[customer] = (script[0], clock.at)
            await _finish(bot, rng, clock, created.id, status, answer_seq, cmes, kind, now)
            escalated += status == Status.WAITING
    finally:
        bot.clock = real_clock
    return SeedReport(len(starts), turns, escalated, time.perf_counter() - started)


async def _finish(
    bot: Bot,
    rng: random.Random,
    clock: _Clock,
    conversation_id: str,
    status: Status,
    answer_seq: int | None,
    cmes: list[User],
    kind: str,
    now: datetime,
) -> None:
    """What happens after the customer's turns: thumbs, a CME's reply, resolution, CSAT."""
    if status == Status.WAITING:
        if now - clock.at < timedelta(hours=12):
            return  # the latest escalations are still in the queue
        cme = rng.choice(cmes)
        clock.advance(rng.expovariate(1 / 420))
        await handoff.claim(bot, conversation_id=conversation_id, user=cme)
        clock.advance(rng.uniform(20, 90))
        await handoff.agent_message(
            bot,
            conversation_id=conversation_id,
            user=cme,
            text="Thanks for waiting, I'm looking into this for you now.",
        )
        clock.advance(rng.uniform(120, 900))
        await handoff.resolve(bot, conversation_id=conversation_id, user=cme)
        rating = rng.choices((1, 2, 3, 4, 5), weights=(2, 2, 3, 4, 4))[0]
    elif status == Status.BOT:
        if answer_seq is not None and rng.random() < 0.35:
            with bot.db.write() as session:
                store.record_feedback(
                    session,
                    conversation_id=conversation_id,
                    seq=answer_seq,
                    helpful=kind != "annoyed" and rng.random() < 0.8,
                )
        clock.advance(bot.settings.idle_resolve_after_s)
        with bot.db.write() as session:
            conversation = store.get_conversation(
                session, conversation_id=conversation_id, lock=True
            )
            if conversation.status == Status.BOT:
                store.change_status(
                    session, conversation=conversation, action=Transition.RESOLVE, now=clock.at
                )
        good = answer_seq is not None and kind in ("thanked", "silent", "followup")
        rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 5, 6) if good else (4, 3, 2, 1, 1))[
            0
        ]
    else:
        return
    if rng.random() < 0.3:
        with bot.db.write() as session:
            conversation = store.get_conversation(session, conversation_id=conversation_id)
            store.record_csat(
                session, conversation=conversation, rating=rating, comment=None, at=clock.at
            )


def run_seed(bot: Bot, *, days: int, per_day: int) -> SeedReport:
    """Start the bot's services (model, KB), seed, and stop them."""

    async def run() -> SeedReport:
        await asyncio.to_thread(bot.start_sync)
        try:
            return await seed(bot, days=days, per_day=per_day)
        finally:
            await bot.stop()

    return asyncio.run(run())
