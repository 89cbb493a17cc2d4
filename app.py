"""The ASGI application: `create_app(settings)` wires the bot; nothing happens at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from bot import channels, http
from bot.cme.alerts import alerts_forever
from bot.cme.assignment import assign_forever
from bot.cme.insights.service import refresh_forever
from bot.cme.recompute import health_config, health_forever
from bot.cme.topics import topics_forever
from bot.conversation.lifecycle import sweep_forever
from bot.conversation.outcomes import learn_forever
from bot.runtime import Bot
from bot.settings import Settings
from embedding import Embedder


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """Build the application. `embedder` replaces the configured model (tests use a fake)."""
    settings = settings or Settings()
    bot = Bot.build(settings, embedder=embedder)
    bot.jobs.append(partial(sweep_forever, bot))
    bot.background.append(partial(learn_forever, bot))
    health_config(settings)  # unknown health weights fail at start-up, not at night
    bot.jobs.append(partial(health_forever, bot))  # once per deployment
    bot.jobs.append(partial(refresh_forever, bot))  # the rollup is written once per deployment
    bot.jobs.append(partial(assign_forever, bot))  # one assigner per deployment
    if settings.topics_enabled:
        bot.jobs.append(partial(topics_forever, bot))
        bot.jobs.append(partial(alerts_forever, bot))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await bot.start()
        try:
            yield
        finally:
            await bot.stop()

    app = FastAPI(
        title="supportbot",
        version="0.1.0",
        description="Customer-support bot: answers from the knowledge base, hands over to humans.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bot = bot
    http.install(app, bot)
    channels.install(app, bot)  # after http: the widget's CORS wraps the request guard
    http.install_guard(app)  # last: security headers on every answer, CORS preflights too
    return app
