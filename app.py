"""The ASGI application: `create_app(settings)` wires the bot; nothing happens at import time."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path

from bot import api, cme_api, console, store, web
from bot.pipeline import PipelineError
from bot.runtime import Bot
from bot.settings import Settings
from escalation import HandoffConflict, IllegalTransition
from retrieval.embedding import Embedder

log = logging.getLogger("supportbot")

STATIC = Path(__file__).parent / "bot" / "static"
MAX_BODY_BYTES = 64 * 1024
SECURITY_HEADERS = {
    b"content-security-policy": (
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'; "
        b"form-action 'self'"
    ),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"strict-origin-when-cross-origin",
}
STATUS_BY_ERROR: dict[type[Exception], int] = {
    store.Unauthorized: 401,
    store.Forbidden: 403,
    store.NotFound: 404,
    store.Conflict: 409,
    HandoffConflict: 409,
    IllegalTransition: 409,
}


class GuardMiddleware:
    """Security headers on every response; bodies over the limit get 413 before parsing."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            response = JSONResponse(
                {"detail": f"request body is {int(length)} bytes; the limit is {self.max_body}"},
                status_code=413,
            )
            await response(scope, receive, self._with_headers(send))
            return
        await self.app(scope, self._limited(receive), self._with_headers(send))

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        return limited

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in existing]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        return wrapped


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """Build the application. `embedder` replaces the configured model (tests use a fake)."""
    settings = settings or Settings()
    bot = Bot.build(settings, embedder=embedder)

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
    console.install(app, bot)  # before GuardMiddleware, which must stay outermost
    app.add_middleware(GuardMiddleware)
    app.include_router(api.router)
    app.include_router(cme_api.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    install_channels(app, bot)
    _install_error_handlers(app)
    return app


def install_channels(app: FastAPI, bot: Bot) -> None:
    """Mount the web widget always, and Slack when it is configured."""
    from bot.channels import web as web_channel

    web_channel.install(app, bot)
    if bot.settings.slack_bot_token:
        from bot.channels import slack

        slack.install(app, bot)


def _install_error_handlers(app: FastAPI) -> None:
    for error_type, status in STATUS_BY_ERROR.items():

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        app.add_exception_handler(error_type, handler)

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(PipelineError)
    async def pipeline_failed(_: Request, exc: PipelineError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "error_id": exc.error_id}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {error.get('msg')}")
        return JSONResponse(
            {"detail": "; ".join(problems), "errors": _jsonable(exc.errors())}, status_code=422
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("unhandled error [%s]", error_id, exc_info=exc)
        return JSONResponse(
            {"detail": f"internal error (error id {error_id})", "error_id": error_id},
            status_code=500,
        )


def _jsonable(errors: list[dict]) -> list[dict]:
    return [
        {key: value for key, value in error.items() if key in ("type", "loc", "msg")}
        for error in errors
    ]
