"""The services one server process shares: database, models, knowledge base, scorer, bus, and
the hooks through which channels hear about outgoing messages and handoff changes."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.orm import Session

from bot.cluster import RedisEventBus, announce_forever, follow_forever, wait_for_worker
from bot.events import EventBus, LocalEventBus
from bot.settings import Settings
from bot.storage import Alert, Conversation, Database, Escalation, Message, customers, utcnow
from bot.storage.filestore import FileStore, file_store
from embedding import BatchingEmbedder, Embedder, load_embedder
from escalation import OfficeHours, PolicyConfig
from retrieval import KBMaintainer, KnowledgeBase
from sentiment import Turn, TurnScorer

log = logging.getLogger(__name__)

PROBE_WARM_WAIT_S = 30
GATE_WARM_WAIT_S = 60
WORKER_KB_WAIT_S = 600  # an instance waits this long for the worker's first KB build


def _event_bus(settings: Settings) -> EventBus:
    """Redis pub/sub when the deployment has Redis (several instances), else in process."""
    if settings.redis_url:
        return RedisEventBus(settings.redis_url, prefix=settings.redis_prefix)
    return LocalEventBus()


class ChannelHooks(Protocol):
    """What a channel that needs more than the event bus (Slack posts through an outbox) is
    told, inside the transaction that made the change, so its delivery is never lost."""

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """A customer-visible bot/agent/system message was added (same transaction)."""
        ...

    def escalated(
        self, session: Session, conversation: Conversation, escalation: Escalation
    ) -> None:
        """The conversation entered the human queue (same transaction)."""
        ...

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """A handoff transition was applied (same transaction)."""
        ...


class Metrics:
    """The counters and histograms the process keeps for /metrics, in a registry of its own
    (one per Bot: tests run several apps in one process). Gauges read at scrape time live in
    bot.http.metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Counter(
            "supportbot_turns",
            "Customer turns handled, by channel and outcome (the bot's action, or the status "
            "when a person owns the conversation)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.turn_latency = Histogram(
            "supportbot_turn_latency_seconds",
            "Time from a customer's message to the stored reply, by channel",
            ["channel"],
            buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.escalations = Counter(
            "supportbot_escalations",
            "Conversations handed to the human queue, by reason (one escalation may have several)",
            ["reason"],
            registry=self.registry,
        )
        self.embedding_batch = Histogram(
            "supportbot_embedding_batch_size",
            "Texts per embedding batch the batcher formed",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )

    def turn(self, channel: str, outcome: str, seconds: float) -> None:
        self.turns.labels(channel=channel, outcome=outcome).inc()
        self.turn_latency.labels(channel=channel).observe(seconds)

    def escalated(self, reasons: list[dict[str, str]]) -> None:
        for reason in reasons or [{"code": "unknown"}]:
            self.escalations.labels(reason=reason.get("code", "unknown")).inc()


@dataclass
class Bot:
    """Everything a turn needs. Built once per process and passed to the pipeline."""

    settings: Settings
    db: Database
    embedder: BatchingEmbedder
    kb: KnowledgeBase
    maintainer: KBMaintainer
    scorer: TurnScorer
    bus: EventBus
    # Where attachments' bytes live (bot.storage.filestore).
    files: FileStore
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    clock: Callable[[], datetime] = utcnow
    hours: OfficeHours = field(default_factory=lambda: OfficeHours.parse(""))
    model_ready: bool = False
    hooks: list[ChannelHooks] = field(default_factory=list)
    # What channels remove when a customer is erased (see bot.conversation.erasure).
    erasers: list[Callable[[Session, str, list[str]], dict[str, int]]] = field(default_factory=list)
    # Told of each new early-warning alert inside the transaction that stores it (Slack posts
    # it to the CME channel); see bot.cme.alerts.
    alert_sinks: list[Callable[[Session, Alert], None]] = field(default_factory=list)
    # Coroutine functions run as tasks from `start` until `stop`, in every process.
    background: list[Callable[[], object]] = field(default_factory=list)
    # ... and those done once per deployment (sweeps, Slack delivery, KB building): run by the
    # process with BACKGROUND=here, the worker or a single instance.
    jobs: list[Callable[[], object]] = field(default_factory=list)
    # Set when a labelled example is stored or removed (see bot.conversation.outcomes).
    outcomes_changed: threading.Event = field(default_factory=threading.Event)
    metrics: Metrics = field(default_factory=Metrics)
    _tasks: list[asyncio.Task[object]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, embedder: Embedder | None = None) -> Bot:
        """Wire the services; loads nothing yet (see `start`)."""
        model = embedder or load_embedder(settings.model, **settings.embedder_options())
        batching = BatchingEmbedder(
            model, max_batch=settings.embed_max_batch, max_wait_ms=settings.embed_batch_wait_ms
        )
        kb = KnowledgeBase(
            settings.kb_dir,
            settings.index_dir,
            batching,
            public_url=settings.public_url,
            answer_threshold=settings.answer_threshold,
            answer_precision=settings.answer_precision,
        )
        maintainer = KBMaintainer(kb, adapt=settings.kb_adapt, train=settings.background == "here")
        bot = cls(
            settings=settings,
            db=Database(settings.database_url),
            embedder=batching,
            kb=kb,
            maintainer=maintainer,
            scorer=TurnScorer(batching),
            bus=_event_bus(settings),
            files=file_store(settings),
            hours=OfficeHours.parse(settings.office_hours, settings.office_timezone),
            policy=PolicyConfig(
                frustration_threshold=settings.frustration_threshold,
                max_unanswered=settings.max_unanswered,
            ),
        )
        batching.on_batch = bot.metrics.embedding_batch.observe
        if settings.background == "worker":
            bot.background.append(partial(follow_forever, maintainer, bot.bus))
        elif settings.redis_url:  # instances of this deployment may follow this process's KB
            bot.jobs.append(partial(announce_forever, maintainer, bot.bus, watch=settings.kb_watch))
        elif settings.kb_watch:
            bot.jobs.append(maintainer.watch)
        return bot

    def start_sync(self) -> None:
        """Blocking start-up: migrate, warm the model, load the knowledge base."""
        started = time.perf_counter()
        self.db.migrate()
        vector = self.embedder.encode(["warm-up"])[0]
        self.scorer.score(Turn(role="customer", text="warm-up", vector=vector), [])
        self.model_ready = True
        report = self.maintainer.load()
        # The article probe trains and the answer gate is calibrated in the background; small
        # KBs finish in seconds, so wait for them and answer with the full ranking and the KB's
        # own gate from the first turn. A large first build serves with the plain ranking and
        # the default gate meanwhile.
        self.maintainer.wait_for_probe(PROBE_WARM_WAIT_S)
        self.maintainer.wait_for_calibration(GATE_WARM_WAIT_S)
        for problem in report.problems:
            log.warning("KB problem: %s", problem)
        log.info(
            "ready in %.1fs: %d articles, %d passages embedded",
            time.perf_counter() - started,
            len(self.kb.articles()),
            report.embedded_passages,
        )

    async def start(self) -> None:
        """Connect the bus, start-up off the event loop, then the background tasks (and the
        deployment's jobs, unless a worker runs them)."""
        await self.bus.start()
        if self.settings.background == "worker":
            await wait_for_worker(self.kb, WORKER_KB_WAIT_S)
        await asyncio.to_thread(self.start_sync)
        here = self.settings.background == "here"
        for start in [*self.background, *(self.jobs if here else [])]:
            self._tasks.append(asyncio.ensure_future(start()))

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """Run channel hooks for an outgoing message inside its transaction."""
        for hook in self.hooks:
            hook.message_added(session, conversation, message)

    def escalated(
        self, session: Session, conversation: Conversation, escalation: Escalation
    ) -> None:
        """Run channel hooks for a new escalation inside its transaction."""
        self.metrics.escalated(escalation.reasons)
        for hook in self.hooks:
            hook.escalated(session, conversation, escalation)

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """Run channel hooks for a handoff transition inside its transaction; a resolution
        first puts the NPS question to the customer if it is due (channels then show it)."""
        if action == "resolve":
            customers.ask_nps(
                session,
                conversation=conversation,
                now=self.clock(),
                interval_days=self.settings.nps_interval_days,
            )
        for hook in self.hooks:
            hook.status_changed(session, conversation, action)

    async def stop(self) -> None:
        """End the adaptation child and cancel the background tasks, then release the model and
        the database."""
        await asyncio.to_thread(self.maintainer.stop)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # shutting down either way
                pass
        await self.bus.close()
        self.embedder.close()
        self.db.dispose()
