"""HTTP: the customer API, the CME API, the console's pages, docs, health and admin, with the
dependencies, guards and error answers they share. Channels add their own routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from bot.cme.auth import ConsoleSessionMiddleware, LoginThrottle, Sessions, console_secret
from bot.http import (
    accounts,
    attachments,
    cme,
    customer,
    customers,
    helpcentre,
    insight,
    insights,
    metrics,
    pages,
    presence,
    saved_replies,
)
from bot.http.console import console_router
from bot.http.errors import GuardMiddleware, RequestGuard, install_error_handlers
from bot.runtime import Bot

STATIC = Path(__file__).resolve().parent.parent / "static"

__all__ = ["STATIC", "install", "install_guard"]


def install(app: FastAPI, bot: Bot) -> None:
    """Mount every route, the console's session middleware, the guard and the error answers."""
    sessions = Sessions(
        console_secret(bot.settings), secure=bot.settings.public_url.startswith("https://")
    )
    app.state.console_sessions = sessions
    app.add_middleware(ConsoleSessionMiddleware, sessions=sessions)
    app.include_router(console_router(bot, sessions, LoginThrottle.from_settings(bot.settings)))
    # Outside the session middleware, inside the widget's CORS; uploads: the file plus its form.
    app.add_middleware(RequestGuard, max_upload=bot.settings.attachment_max_bytes + 64 * 1024)
    app.include_router(customer.router)
    app.include_router(attachments.router)
    app.include_router(cme.router)
    app.include_router(customers.router)
    app.include_router(accounts.router)
    app.include_router(accounts.page_router(bot))
    app.include_router(insights.router)
    app.include_router(insights.page_router(bot))
    app.include_router(metrics.router)
    app.include_router(saved_replies.router)
    app.include_router(presence.router)
    app.include_router(helpcentre.router)
    app.include_router(insight.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    install_error_handlers(app)


def install_guard(app: FastAPI) -> None:
    """Security headers on every response: call last, so that it is the outermost middleware."""
    app.add_middleware(GuardMiddleware)
