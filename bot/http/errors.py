"""What every HTTP response gets: security headers, a body-size limit, and errors mapped to
clear 4xx answers (or a 500 with an id that the log holds)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.conversation import PipelineError
from bot.http.identity import IdentityRejected
from bot.http.ratelimit import RateLimited
from bot.schemas import ErrorOut, ValidationErrorOut
from bot.storage import Conflict, Forbidden, NotFound, Unauthorized
from bot.storage.attachments import (
    AttachmentQuotaFull,
    AttachmentRefused,
    AttachmentTooLarge,
    AttachmentTypeRefused,
)
from bot.storage.filestore import FileStoreError
from escalation import HandoffConflict, IllegalTransition

log = logging.getLogger("supportbot")

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
# Errors that name a client's mistake, and their status; the message is the detail.
STATUS_BY_ERROR: dict[type[Exception], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    IdentityRejected: 403,
    NotFound: 404,
    Conflict: 409,
    HandoffConflict: 409,
    IllegalTransition: 409,
    AttachmentRefused: 400,
    AttachmentTooLarge: 413,
    AttachmentTypeRefused: 415,
    AttachmentQuotaFull: 507,
    FileStoreError: 503,
}


ERROR_MEANINGS = {
    400: "The body could not be parsed",
    401: "Missing or unknown credentials",
    403: "These credentials do not grant this (or a signed identity did not verify)",
    404: "The conversation, message, article or CME does not exist",
    409: "Conflicts with the current state (e.g. claimed by someone else, already rated)",
    413: "The body is over the size limit",
    415: "The file's type (sniffed from its bytes) may not be attached",
    422: "The request does not match the schema",
    429: "Too many requests; Retry-After says when to try again",
    500: "Unexpected error; error_id is what the server log holds",
    503: "A service the server needs (the attachment store) is unreachable; try again later",
    507: "Attachment storage is full (ATTACHMENT_TOTAL_MAX_BYTES)",
}


def documented_errors(*statuses: int, page: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, with the bodies the handlers send.

    `page`: the route answers HTML, for which FastAPI would document every model as text/html;
    its errors are JSON all the same, so they are described as such.
    """
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationErrorOut if status == 422 else ErrorOut
        responses[status] = {"description": ERROR_MEANINGS[status]}
        if page:
            schema = {"$ref": f"#/components/schemas/{model.__name__}"}
            responses[status]["content"] = {"application/json": {"schema": schema}}
        else:
            responses[status]["model"] = model
    return responses


class GuardMiddleware:
    """Security headers on every response, CORS preflights included: the outermost middleware
    (`bot.http.install_guard`, after the channels added theirs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._with_headers(send))

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in existing]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        return wrapped


class RequestGuard:
    """Bodies over the limit get 413 before parsing; an unexpected error becomes a generic 500
    here, logged once, instead of reaching the server. Inside the widget's CORS, so that
    browsers can read both answers."""

    def __init__(
        self, app: ASGIApp, max_body: int = MAX_BODY_BYTES, max_upload: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.max_body = max_body
        # File uploads (POST .../attachments) may be larger: the file's limit plus the form.
        self.max_upload = max(max_body, max_upload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["method"] == "POST" and scope["path"].endswith("/attachments")
        limit = self.max_upload if upload else self.max_body
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            response = JSONResponse(
                {"detail": f"request body is {int(length)} bytes; the limit is {limit}"},
                status_code=413,
            )
            await response(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self._limited(receive, limit), tracked)
        except Exception as exc:
            error_id = log_unexpected(exc, f"{scope['method']} {scope['path']}")
            if not started:  # else the client sees the response cut short
                await internal_error(error_id)(scope, receive, send)

    @staticmethod
    def _limited(receive: Receive, limit: int) -> Receive:
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited


def log_unexpected(exc: BaseException, where: str) -> str:
    """Log an unexpected error in one line (the traceback at DEBUG) and return its id."""
    error_id = uuid.uuid4().hex[:12]
    # The first line names the problem; database errors append their SQL and parameters
    # (customer text) after it.
    summary = (str(exc).splitlines() or [""])[0][:200]
    log.error(
        "unhandled %s [%s] in %s: %s (traceback at DEBUG)",
        type(exc).__name__,
        error_id,
        where[:200],
        summary,
    )
    log.debug("traceback of [%s]", error_id, exc_info=exc)
    return error_id


def internal_error(error_id: str) -> JSONResponse:
    """The generic answer to an unexpected error: only its id, which the log holds."""
    return JSONResponse(
        {"detail": f"internal error (error id {error_id})", "error_id": error_id},
        status_code=500,
    )


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")


def install_error_handlers(app: FastAPI) -> None:
    """4xx for client mistakes, with a message naming the problem; 500 with a logged id for
    anything else."""
    for error_type, status in STATUS_BY_ERROR.items():

        async def handler(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        app.add_exception_handler(error_type, handler)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc), "retry_after": int(exc.retry_after_header)},
            status_code=429,
            headers={"Retry-After": exc.retry_after_header},
        )

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
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only errors outside GuardMiddleware get here; the server still logs them after this.
        return internal_error(log_unexpected(exc, f"{request.method} {request.url.path}"))


def _jsonable(errors: list[dict]) -> list[dict]:
    return [
        {key: value for key, value in error.items() if key in ("type", "loc", "msg")}
        for error in errors
    ]
