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
from typing import Protocol

from sqlalchemy.orm import Session

from bot.events import EventBus, LocalEventBus
from bot.settings import Settings
from bot.storage import Alert, Conversation, Database, Escalation, Message, utcnow
from embedding import BatchingEmbedder, Embedder, load_embedder
from escalation import OfficeHours, PolicyConfig
from retrieval import KBMaintainer, KnowledgeBase
from sentiment import Turn, TurnScorer

log = logging.getLogger(__name__)

PROBE_WARM_WAIT_S = 30
GATE_WARM_WAIT_S = 60


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
    # Coroutine functions run as tasks from `start` until `stop` (workers, sweeps, watchers).
    background: list[Callable[[], object]] = field(default_factory=list)
    # Set when a labelled example is stored or removed (see bot.conversation.outcomes).
    outcomes_changed: threading.Event = field(default_factory=threading.Event)
    _tasks: list[asyncio.Task[object]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, *, embedder: Embedder | None = None) -> Bot:
        """Wire the services; loads nothing yet (see `start`)."""
        model = embedder or load_embedder(settings.model, device=settings.device)
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
        maintainer = KBMaintainer(kb, adapt=settings.kb_adapt)
        bot = cls(
            settings=settings,
            db=Database(settings.database_url),
            embedder=batching,
            kb=kb,
            maintainer=maintainer,
            scorer=TurnScorer(batching),
            bus=LocalEventBus(),
            hours=OfficeHours.parse(settings.office_hours, settings.office_timezone),
            policy=PolicyConfig(
                frustration_threshold=settings.frustration_threshold,
                max_unanswered=settings.max_unanswered,
            ),
        )
        if settings.kb_watch:
            bot.background.append(maintainer.watch)
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
        """Start-up off the event loop, then the background tasks."""
        await asyncio.to_thread(self.start_sync)
        for start in self.background:
            self._tasks.append(asyncio.ensure_future(start()))

    def message_added(self, session: Session, conversation: Conversation, message: Message) -> None:
        """Run channel hooks for an outgoing message inside its transaction."""
        for hook in self.hooks:
            hook.message_added(session, conversation, message)

    def escalated(
        self, session: Session, conversation: Conversation, escalation: Escalation
    ) -> None:
        """Run channel hooks for a new escalation inside its transaction."""
        for hook in self.hooks:
            hook.escalated(session, conversation, escalation)

    def status_changed(self, session: Session, conversation: Conversation, action: str) -> None:
        """Run channel hooks for a handoff transition inside its transaction."""
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
        self.embedder.close()
        self.db.dispose()
