"""The CME console: browser sign-in, session cookies with CSRF protection, the page and its
live WebSocket. The console's actions are the JSON endpoints in `bot.cme_api`.

A signed session cookie authenticates the browser; `ConsoleSessionMiddleware` turns it into
`request.state.cme_user_id` (read by `cme_api.current_user`) and makes every cookie-authenticated
state-changing request under /api/cme/ carry the session's `X-CSRF-Token`. Requests that send
`Authorization: Bearer <API token>` (scripts) never use the cookie, so they need no CSRF token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
from anyio.abc import TaskGroup
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketState

from bot import accounts
from bot.context import queue
from bot.events import QUEUE_TOPIC, agent_topic
from bot.models import User
from bot.runtime import Bot
from bot.settings import Settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "supportbot_console"
LOGIN_COOKIE = "supportbot_login"
SESSION_MAX_AGE_S = 12 * 3600
LOGIN_FORM_MAX_AGE_S = 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TRACKED = 10_000  # emails and addresses remembered by the sign-in throttle
QUEUE_REFRESH_S = 15.0  # waits and SLA timers change even when nothing is published
CONSOLE_PATH = re.compile(r"^/console(/conversations/[A-Za-z0-9_-]{1,64})?$")
CONVERSATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
GONE = (WebSocketDisconnect, OSError, RuntimeError)  # the browser went away mid-send

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{meta}<link rel="stylesheet" href="/static/console.css">{script}</head>
<body class="{body_class}">{body}</body></html>"""

LOGIN_BODY = """<main class="signin">
<h1><span class="brand">supportbot</span> console</h1>
{error}<form method="post" action="/console/login" class="signin-form">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label>Email <input type="email" name="email" value="{email}" autocomplete="username" required
 autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required>
</label>
<button type="submit">Sign in</button>
</form></main>"""

CONSOLE_BODY = """<header class="topbar">
<span class="brand">supportbot</span><span class="product">console</span>
<span id="connection" class="connection" role="status">connecting</span>
<span class="spacer"></span><span id="me" class="me"></span>
<form method="post" action="/console/logout" class="signout">
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>
</header>
<div class="layout">
<aside class="queue-pane" aria-label="Queue">
<h2>Queue <span id="queue-count" class="count"></span></h2>
<ol id="queue" class="queue"></ol>
<p id="queue-empty" class="empty">Nobody is waiting. New escalations appear here.</p>
</aside>
<main id="conversation" class="conversation-pane">
<p class="empty">Select a conversation from the queue.</p>
</main>
</div>
<div id="toast" class="toast" role="alert" hidden></div>"""


def console_secret(settings: Settings) -> bytes:
    """The key that signs console cookies: derived from ADMIN_TOKEN, else kept in DATA_DIR."""
    if settings.admin_token:
        return hmac.new(
            settings.admin_token.encode(), b"supportbot console sessions v1", hashlib.sha256
        ).digest()
    path = Path(settings.data_dir) / "console_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as secret_file:
        secret = secrets.token_hex(32)
        secret_file.write(secret)
    log.info("generated the console session secret at %s", path)
    return bytes.fromhex(secret)


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: who, its CSRF token, and an id so that sign-out can revoke it."""

    user_id: int
    csrf: str
    sid: str


class Sessions:
    """Issues and reads session cookies and login-form tokens.

    Cookies are stateless and signed; sign-out revokes a session in this process's memory
    until it would have expired anyway.
    """

    def __init__(self, secret: bytes, *, secure: bool, clock: Any = time.time) -> None:
        self._cookies = URLSafeTimedSerializer(secret, salt="supportbot.console.session")
        self._login_forms = URLSafeTimedSerializer(secret, salt="supportbot.console.login")
        self.secure = secure
        self._clock = clock
        self._revoked: dict[str, float] = {}

    def issue(self, user_id: int) -> tuple[ConsoleSession, str]:
        """A new session for a CME, with the cookie value that carries it."""
        session = ConsoleSession(user_id, secrets.token_urlsafe(32), secrets.token_urlsafe(16))
        return session, self._cookies.dumps({"u": user_id, "c": session.csrf, "s": session.sid})

    def read(self, cookie: str | None) -> ConsoleSession | None:
        """The session a cookie carries, if it is genuine, fresh and not signed out."""
        if not cookie:
            return None
        try:
            data = self._cookies.loads(cookie, max_age=SESSION_MAX_AGE_S)
            session = ConsoleSession(int(data["u"]), str(data["c"]), str(data["s"]))
        except (BadData, KeyError, TypeError, ValueError):
            return None
        return None if session.sid in self._revoked else session

    def revoke(self, session: ConsoleSession) -> None:
        """Sign a session out: its cookie is refused from now on."""
        now = self._clock()
        self._revoked = {sid: until for sid, until in self._revoked.items() if until > now}
        self._revoked[session.sid] = now + SESSION_MAX_AGE_S

    def login_form(self) -> tuple[str, str]:
        """A (cookie nonce, form token) pair: the form token is the nonce, signed."""
        nonce = secrets.token_urlsafe(16)
        return nonce, self._login_forms.dumps(nonce)

    def login_form_valid(self, cookie: str | None, token: str | None) -> bool:
        """True when the form's token is ours, fresh, and matches this browser's cookie."""
        if not cookie or not token:
            return False
        try:
            nonce = self._login_forms.loads(token, max_age=LOGIN_FORM_MAX_AGE_S)
        except BadData:
            return False
        return isinstance(nonce, str) and secrets.compare_digest(nonce.encode(), cookie.encode())


class LoginThrottle:
    """Refuses sign-in after too many recent failures for one email or from one address."""

    def __init__(
        self,
        *,
        per_email: int = 5,
        per_address: int = 20,
        window_s: float = 300.0,
        clock: Any = time.monotonic,
    ) -> None:
        self._limits = {"email": per_email, "address": per_address}
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def retry_after(self, *, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        for key in (("email", email), ("address", address)):
            failures = self._failures.get(key)
            if not failures:
                continue
            while failures and failures[0] <= now - self.window_s:
                failures.popleft()
            if len(failures) >= self._limits[key[0]]:
                wait = max(wait, failures[0] + self.window_s - now)
        return int(wait) + 1 if wait else 0

    def failed(self, *, email: str, address: str) -> None:
        """Count a failed sign-in against the email and the client address."""
        now = self._clock()
        if len(self._failures) > MAX_TRACKED:  # forget stale keys, so guessing cannot fill memory
            self._failures = defaultdict(
                deque,
                {k: v for k, v in self._failures.items() if v and v[-1] > now - self.window_s},
            )
        self._failures[("email", email)].append(now)
        self._failures[("address", address)].append(now)

    def succeeded(self, *, email: str) -> None:
        """Forget the email's failures after a successful sign-in."""
        self._failures.pop(("email", email), None)


def _bearer(headers: Headers) -> bool:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


class ConsoleSessionMiddleware:
    """Session cookie -> `state.cme_user_id`; CSRF check on cookie-authenticated writes."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _bearer(headers):  # scripts authenticate by API token alone; the cookie is ignored
            await self.app(scope, receive, send)
            return
        session = self.sessions.read(cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE))
        if session is None:
            await self.app(scope, receive, send)
            return
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"].startswith("/api/cme/")
        ):
            problem = _csrf_problem(headers.get("x-csrf-token"), session)
            if problem:
                await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)
                return
        state = {**scope.get("state", {}), "cme_user_id": session.user_id, "console": session}
        await self.app({**scope, "state": state}, receive, send)


def _csrf_problem(sent: str | None, session: ConsoleSession) -> str | None:
    if not sent:
        return (
            "missing X-CSRF-Token header: cookie-authenticated requests must send the token "
            "from the console page's csrf-token meta tag"
        )
    if not secrets.compare_digest(sent.encode(), session.csrf.encode()):
        return "X-CSRF-Token does not match this session; reload the console"
    return None


def same_origin(origin: str | None, host: str | None, public_url: str) -> bool:
    """True when a browser's Origin is the app itself: PUBLIC_URL, or the Host it connected to."""
    if not origin:
        return False
    public = urlsplit(public_url)
    if origin.rstrip("/") == f"{public.scheme}://{public.netloc}":
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and bool(host) and parsed.netloc == host


def install(app: FastAPI, bot: Bot) -> None:
    """Add the console: session middleware, sign-in pages, the page and its WebSocket."""
    sessions = Sessions(
        console_secret(bot.settings), secure=bot.settings.public_url.startswith("https://")
    )
    app.state.console_sessions = sessions
    app.add_middleware(ConsoleSessionMiddleware, sessions=sessions)
    app.include_router(build_router(bot, sessions, LoginThrottle()))


def build_router(bot: Bot, sessions: Sessions, throttle: LoginThrottle) -> APIRouter:
    """The console's pages and WebSocket."""
    router = APIRouter(tags=["console"], include_in_schema=False)

    @router.get("/console/login")
    async def login_page(next: str = "/console") -> Response:
        return _login_form(sessions, next=next)

    @router.post("/console/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        email = (_str(form.get("email")) or "").strip().lower()
        password = _str(form.get("password")) or ""
        next_path = _safe_next(_str(form.get("next")) or "")
        if not sessions.login_form_valid(request.cookies.get(LOGIN_COOKIE), _str(form.get("csrf"))):
            return _login_form(
                sessions,
                next=next_path,
                email=email,
                status=403,
                error="This sign-in form has expired or was not sent from this site; try again.",
            )
        address = request.client.host if request.client else "unknown"
        wait = throttle.retry_after(email=email, address=address)
        if wait:
            response = _login_form(
                sessions,
                next=next_path,
                email=email,
                status=429,
                error=f"Too many failed sign-ins. Try again in {wait} seconds.",
            )
            response.headers["Retry-After"] = str(wait)
            return response

        def check() -> User | None:
            with bot.db.read() as session:
                return accounts.user_for_login(session, email=email, password=password)

        user = await run_in_threadpool(check) if email and password else None
        if user is None:
            throttle.failed(email=email, address=address)
            log.info("console sign-in failed for %r from %s", email, address)
            return _login_form(
                sessions,
                next=next_path,
                email=email,
                status=401,
                error="Wrong email or password.",
            )
        throttle.succeeded(email=email)
        _, cookie = sessions.issue(user.id)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="lax",
            secure=sessions.secure,
        )
        response.delete_cookie(LOGIN_COOKIE, path="/console/login")
        log.info("CME %s signed in to the console", user.id)
        return response

    @router.post("/console/logout")
    async def logout(request: Request) -> Response:
        session = _session(request)
        form = await request.form()
        if session is not None:
            sent = _str(form.get("csrf"))
            if _csrf_problem(sent, session):
                return JSONResponse({"detail": "sign-out form is missing its CSRF token"}, 403)
            sessions.revoke(session)
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=sessions.secure
        )
        return response

    @router.get("/console")
    async def console_page(request: Request) -> Response:
        return await _console_page(request, bot)

    @router.get("/console/conversations/{conversation_id}")
    async def conversation_page(request: Request, conversation_id: str) -> Response:
        return await _console_page(request, bot)

    @router.websocket("/api/cme/ws")
    async def live(websocket: WebSocket) -> None:
        session: ConsoleSession | None = websocket.scope.get("state", {}).get("console")
        if session is None:
            await websocket.close(code=4401, reason="sign in to the console first")
            return
        origin = websocket.headers.get("origin")
        if not same_origin(origin, websocket.headers.get("host"), bot.settings.public_url):
            log.warning("refused console WebSocket from origin %r", origin)
            await websocket.close(code=4403, reason="cross-origin WebSocket refused")
            return
        if not await run_in_threadpool(_user_exists, bot, session.user_id):
            await websocket.close(code=4401, reason="this CME account no longer exists")
            return
        await websocket.accept()
        await LiveFeed(bot, websocket).run()

    return router


def _user_exists(bot: Bot, user_id: int) -> bool:
    with bot.db.read() as session:
        return session.get(User, user_id) is not None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _session(request: Request) -> ConsoleSession | None:
    return request.scope.get("state", {}).get("console")


def _safe_next(path: str) -> str:
    # Only console paths: never an open redirect.
    return path if CONSOLE_PATH.match(path or "") else "/console"


def _shell(
    title: str,
    body: str,
    *,
    meta: dict[str, str] | None = None,
    script: bool = False,
    body_class: str = "",
    status: int = 200,
) -> HTMLResponse:
    tags = "".join(
        f'<meta name="{html.escape(name)}" content="{html.escape(value)}">'
        for name, value in (meta or {}).items()
    )
    response = HTMLResponse(
        SHELL.format(
            title=html.escape(title),
            meta=tags,
            script='<script src="/static/console.js" defer></script>' if script else "",
            body_class=body_class,
            body=body,
        ),
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_form(
    sessions: Sessions, *, next: str, email: str = "", error: str = "", status: int = 200
) -> HTMLResponse:
    nonce, token = sessions.login_form()
    body = LOGIN_BODY.format(
        csrf=html.escape(token),
        next=html.escape(_safe_next(next)),
        email=html.escape(email),
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
    )
    response = _shell("Sign in · supportbot console", body, body_class="signin-page", status=status)
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=LOGIN_FORM_MAX_AGE_S,
        path="/console/login",
        httponly=True,
        samesite="strict",
        secure=sessions.secure,
    )
    return response


async def _console_page(request: Request, bot: Bot) -> Response:
    session = _session(request)
    if session is None or not await run_in_threadpool(_user_exists, bot, session.user_id):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/console/login?next={target}", status_code=303)
    meta = {
        "csrf-token": session.csrf,
        "sla-first-response-s": str(bot.settings.sla_first_response_s),
        "frustration-threshold": str(bot.settings.frustration_threshold),
    }
    body = CONSOLE_BODY.format(csrf=html.escape(session.csrf))
    return _shell("supportbot console", body, meta=meta, script=True, body_class="console")


class LiveFeed:
    """One console socket: the fresh queue on every queue event (and every few seconds), plus
    the events of the conversation the CME has open.

    The client sends {"type": "watch", "conversation_id": ...} (or null to stop); the server
    answers {"type": "watching", ...} once subscribed, then forwards
    {"type": "conversation", "conversation_id": ..., "event": ...}.
    """

    def __init__(self, bot: Bot, websocket: WebSocket) -> None:
        self.bot = bot
        self.websocket = websocket
        self._send_lock = anyio.Lock()
        self._queue_dirty = asyncio.Event()
        self._tasks: TaskGroup | None = None
        self._watch: anyio.CancelScope | None = None

    async def run(self) -> None:
        """Serve the socket until the browser leaves."""
        self._queue_dirty.set()
        gone = False
        try:
            async with self.bot.bus.subscribe(QUEUE_TOPIC) as events:
                async with anyio.create_task_group() as tasks:
                    self._tasks = tasks
                    tasks.start_soon(self._until_done, self._listen, events)
                    tasks.start_soon(self._until_done, self._push_queue)
                    tasks.start_soon(self._until_done, self._receive)
        except* GONE:
            gone = True  # the browser went away
        if not gone and self.websocket.client_state == WebSocketState.CONNECTED:
            # The queue subscription fell behind: the client reconnects and resyncs.
            with contextlib.suppress(*GONE):
                await self.websocket.close(code=1012)

    async def _until_done(self, work: Callable[..., Awaitable[None]], *args: Any) -> None:
        assert self._tasks is not None
        try:
            await work(*args)
        finally:
            self._tasks.cancel_scope.cancel()

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message))

    async def _listen(self, events: AsyncIterator[dict[str, Any]]) -> None:
        async for _ in events:
            self._queue_dirty.set()

    async def _push_queue(self) -> None:
        while True:
            with anyio.move_on_after(QUEUE_REFRESH_S):
                await self._queue_dirty.wait()
            self._queue_dirty.clear()
            rows = await run_in_threadpool(queue, self.bot)
            await self._send({"type": "queue", "conversations": rows})

    async def _receive(self) -> None:
        while True:
            try:
                message = json.loads(await self.websocket.receive_text())
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("type") == "watch":
                self._switch(message.get("conversation_id"))

    def _switch(self, conversation_id: object) -> None:
        assert self._tasks is not None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if isinstance(conversation_id, str) and CONVERSATION_ID.match(conversation_id):
            self._watch = anyio.CancelScope()
            self._tasks.start_soon(self._forward, conversation_id, self._watch)

    async def _forward(self, conversation_id: str, scope: anyio.CancelScope) -> None:
        with scope:
            while True:  # a subscription that fell behind ends; "watching" makes the client refetch
                async with self.bot.bus.subscribe(agent_topic(conversation_id)) as events:
                    await self._send({"type": "watching", "conversation_id": conversation_id})
                    async for event in events:
                        wrapped = {"conversation_id": conversation_id, "event": event}
                        await self._send({"type": "conversation", **wrapped})
