"""The services one server process shares: database, model, knowledge base, scorer, bus."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from bot.channels import ChannelHooks
from bot.db import Database
from bot.events import EventBus, LocalEventBus
from bot.models import Conversation, Escalation, Message, utcnow
from bot.settings import Settings
from escalation import PolicyConfig
from escalation.hours import OfficeHours
from retrieval import KnowledgeBase
from retrieval.embedding import BatchingEmbedder, Embedder, load_embedder
from sentiment import Turn, TurnScorer

log = logging.getLogger(__name__)

PROBE_WARM_WAIT_S = 30


@dataclass
class Bot:
    """Everything a turn needs. Built once per process and passed to the pipeline."""

    settings: Settings
    db: Database
    embedder: BatchingEmbedder
    kb: KnowledgeBase
    scorer: TurnScorer
    bus: EventBus
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    clock: Callable[[], datetime] = utcnow
    hours: OfficeHours = field(default_factory=lambda: OfficeHours.parse(""))
    model_ready: bool = False
    hooks: list[ChannelHooks] = field(default_factory=list)
    background: list[Callable[[], object]] = field(default_factory=list)
    _tasks: list[asyncio.Task[object]] = field(default_factory=list)
    _watch_task: asyncio.Task[None] | None = None

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
            model,
            public_url=settings.public_url,
            answer_threshold=settings.answer_threshold,
            adapt=settings.kb_adapt,
        )
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            embedder=batching,
            kb=kb,
            scorer=TurnScorer(model),
            bus=LocalEventBus(),
            hours=OfficeHours.parse(settings.office_hours, settings.office_timezone),
            policy=PolicyConfig(
                frustration_threshold=settings.frustration_threshold,
                max_unanswered=settings.max_unanswered,
            ),
        )

    def start_sync(self) -> None:
        """Blocking start-up: migrate, warm the model, load the knowledge base."""
        started = time.perf_counter()
        self.db.migrate()
        vector = self.embedder.encode_sync(["warm-up"])[0]
        self.scorer.score(Turn(role="customer", text="warm-up", vector=vector), [])
        self.model_ready = True
        report = self.kb.load()
        # The article probe trains in the background; small KBs finish in seconds, so wait for
        # it and answer with the full ranking from the first turn. A large first build serves
        # with the plain ranking meanwhile.
        self.kb.wait_for_probe(PROBE_WARM_WAIT_S)
        for problem in report.problems:
            log.warning("KB problem: %s", problem)
        log.info(
            "ready in %.1fs: %d articles, %d passages embedded",
            time.perf_counter() - started,
            len(self.kb.articles()),
            report.embedded_passages,
        )

    async def start(self) -> None:
        """Start-up off the event loop, then watch the KB if configured."""
        await asyncio.to_thread(self.start_sync)
        if self.settings.kb_watch:
            self._watch_task = asyncio.create_task(self.kb.watch(), name="kb-watch")
        from bot.lifecycle import sweep_forever

        self._tasks.append(asyncio.create_task(sweep_forever(self), name="idle-sweep"))
        for start in self.background:
            self._tasks.append(asyncio.ensure_future(start()))

    def handoff_notice(self, now: datetime) -> str:
        """What the customer is told, once, when the conversation enters the human queue."""
        from bot.replies import handoff_text

        return handoff_text(self.hours, now, self.settings.sla_first_response_s)

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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # shutting down either way
                pass
        if self._watch_task is not None:
            self._watch_task.cancel()
            try:
                await self._watch_task
            except (asyncio.CancelledError, Exception):  # shutting down either way
                pass
        self.embedder.close()
        self.db.dispose()
