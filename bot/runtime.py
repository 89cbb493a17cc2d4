"""The services one server process shares: database, model, knowledge base, scorer, bus."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.db import Database
from bot.events import EventBus, LocalEventBus
from bot.models import utcnow
from bot.settings import Settings
from escalation import PolicyConfig
from retrieval import KnowledgeBase
from retrieval.embedding import BatchingEmbedder, Embedder, load_embedder
from sentiment import TurnScorer

log = logging.getLogger(__name__)


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
    expected_wait: str = "a few minutes"
    model_ready: bool = False
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
        )
        return cls(
            settings=settings,
            db=Database(settings.database_url),
            embedder=batching,
            kb=kb,
            scorer=TurnScorer(model),
            bus=LocalEventBus(),
        )

    def start_sync(self) -> None:
        """Blocking start-up: migrate, warm the model, load the knowledge base."""
        started = time.perf_counter()
        self.db.migrate()
        self.embedder.encode_sync(["warm-up"])
        self.model_ready = True
        report = self.kb.load()
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

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            try:
                await self._watch_task
            except (asyncio.CancelledError, Exception):  # shutting down either way
                pass
        self.embedder.close()
        self.db.dispose()
