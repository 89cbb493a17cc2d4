"""The console's pages: sign-in and sign-out forms, the single-page console, and its live
socket. Authentication itself is in `bot.cme.auth`; the console's actions are the JSON
endpoints in `bot.http.cme`."""

from __future__ import annotations

import hashlib
import html
import logging
import re
from urllib.parse import quote

from fastapi import APIRouter, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot.cme import accounts
from bot.cme.auth import (
    LOGIN_COOKIE,
    LOGIN_FORM_MAX_AGE_S,
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    ConsoleSession,
    LoginThrottle,
    Sessions,
    csrf_problem,
    same_origin,
)
from bot.cme.live import LiveFeed
from bot.runtime import Bot
from bot.storage import User

log = logging.getLogger(__name__)

CONSOLE_PATH = re.compile(
    r"^/console(/conversations/[A-Za-z0-9_-]{1,64}|/customers(/[1-9][0-9]{0,11})?|/accounts|/insights?)?$"
)

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>{meta}<link rel="stylesheet" href="/static/console.css">
<link rel="stylesheet" href="/static/insight.css">{styles}{script}</head>
<body class="{body_class}">{body}</body></html>"""

# Every console page shows the open-alerts banner (insight.js).
INSIGHT_SCRIPT = '<script src="/static/insight.js" defer></script>'

# The one JSON API helper (`supportbotApi`) loads first on every console page.
API_SCRIPT = '<script src="/static/console-api.js" defer></script>'

# The shared markdown renderer and the inbox's own styles load before console.js.
CONSOLE_SCRIPTS = (
    '<link rel="stylesheet" href="/static/inbox.css">'
    '<script src="/static/markdown.js" defer></script>'
    '<script src="/static/console.js" defer></script>'
    '<script src="/static/canned.js" defer></script>'
    '<link rel="stylesheet" href="/static/attachments.css">'
    '<script src="/static/attachments.js" defer></script>'
    '<script src="/static/presence.js" defer></script>'
    '<script src="/static/shortcuts.js" defer></script>'
    '<script src="/static/teams.js" defer></script>'
)

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
<a class="nav-customers" href="/console/customers">Customers</a>
<a class="nav-link" href="/console/insights">Insights</a>
<a class="nav-link" href="/console/insight">Topics &amp; alerts</a>
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

CUSTOMERS_BODY = """<header class="topbar">
<span class="brand">supportbot</span><span class="product">console</span>
<a class="nav-queue" href="/console">Queue</a>
<a class="nav-customers" href="/console/customers" aria-current="page">Customers</a>
<a class="nav-accounts" href="/console/accounts">Accounts</a>
<a class="nav-link" href="/console/insights">Insights</a>
<a class="nav-link" href="/console/insight">Topics &amp; alerts</a>
<span class="spacer"></span>
<form method="post" action="/console/logout" class="signout">
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>
</header>
<main id="customers" class="customers-page"><p class="empty">Loading…</p></main>
<div id="toast" class="toast" role="alert" hidden></div>"""


INSIGHT_BODY = """<header class="topbar">
<a class="brand" href="/console">supportbot</a><span class="product">topics &amp; alerts</span>
<a class="nav-link" href="/console">Queue</a>
<a class="nav-link" href="/console/customers">Customers</a>
<a class="nav-link" href="/console/insights">Insights</a>
<span class="spacer"></span>
<form method="post" action="/console/logout" class="signout">
<input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>
</header>
<main class="insight-page">
<section aria-labelledby="alerts-title"><h2 id="alerts-title">Alerts</h2>
<ol id="alerts" class="alerts"></ol><p id="alerts-empty" class="empty">No alerts.</p></section>
<section aria-labelledby="topics-title"><h2 id="topics-title">Topics (last 7 days)</h2>
<table id="topics" class="topics"><thead><tr><th>Topic</th><th>Article</th><th>Questions</th>
<th>Week before</th><th>Answered</th><th>Escalated</th><th>Frustration</th></tr></thead>
<tbody></tbody></table></section>
<section aria-labelledby="drafts-title"><h2 id="drafts-title">Articles from cases</h2>
<ol id="drafts" class="drafts"></ol>
<p id="drafts-empty" class="empty">No drafts. Open a resolved conversation and choose
"Draft article".</p></section>
</main>
<div id="toast" class="toast" role="alert" hidden></div>"""


def console_router(bot: Bot, sessions: Sessions, throttle: LoginThrottle) -> APIRouter:
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
            # The address's hash tells repeated failures apart without logging it.
            digest = hashlib.sha256(email.encode()).hexdigest()[:12]
            log.info("console sign-in failed for email #%s from %s", digest, address)
            return _login_form(
                sessions,
                next=next_path,
                email=email,
                status=401,
                error="Wrong email or password.",
            )
        throttle.succeeded(email=email, address=address)
        _, cookie = sessions.issue(user.id, user.session_version)
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
            if csrf_problem(sent, session):
                return JSONResponse({"detail": "sign-out form is missing its CSRF token"}, 403)
            sessions.revoke(session)
            await run_in_threadpool(_end_sessions, bot, session.user_id)
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

    @router.get("/console/customers")
    async def customers_page(request: Request) -> Response:
        return await _console_page(request, bot, page="customers")

    @router.get("/console/customers/{customer_id}")
    async def customer_page(request: Request, customer_id: str) -> Response:
        return await _console_page(request, bot, page="customers")

    @router.get("/console/insight")
    async def insight_page(request: Request) -> Response:
        return await _console_page(request, bot, page="insight")

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
        if not await run_in_threadpool(_session_valid, bot, session):
            await websocket.close(
                code=4401, reason="signed out, or this CME account no longer exists"
            )
            return
        await websocket.accept()
        await LiveFeed(bot, websocket, user_id=session.user_id).run()

    return router


def _session_valid(bot: Bot, console: ConsoleSession) -> bool:
    with bot.db.read() as session:
        found = accounts.user_for_session(session, user_id=console.user_id, version=console.version)
        return found is not None


def _end_sessions(bot: Bot, user_id: int) -> None:
    with bot.db.write() as session:
        accounts.end_sessions(session, user_id=user_id)


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
    page: str = "console",
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
            styles=f'<link rel="stylesheet" href="/static/{page}.css">'
            if page not in ("console", "insight")
            else "",
            script=API_SCRIPT
            + (
                CONSOLE_SCRIPTS + INSIGHT_SCRIPT
                if page == "console"
                else INSIGHT_SCRIPT
                if page == "insight"
                else f'<script src="/static/{page}.js" defer></script>' + INSIGHT_SCRIPT
            )
            if script
            else "",
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


async def _console_page(request: Request, bot: Bot, page: str = "console") -> Response:
    session = _session(request)
    if session is None or not await run_in_threadpool(_session_valid, bot, session):
        target = quote(request.url.path, safe="/")
        return RedirectResponse(f"/console/login?next={target}", status_code=303)
    meta = {
        "csrf-token": session.csrf,
        "sla-first-response-s": str(bot.settings.sla_first_response_s),
        "frustration-threshold": str(bot.settings.frustration_threshold),
    }
    if page == "insight":
        body = INSIGHT_BODY.format(csrf=html.escape(session.csrf))
        return _shell(
            "Topics & alerts · supportbot console",
            body,
            meta=meta,
            script=True,
            page="insight",
            body_class="console insight",
        )
    layout = CUSTOMERS_BODY if page == "customers" else CONSOLE_BODY
    body = layout.format(csrf=html.escape(session.csrf))
    return _shell("supportbot console", body, meta=meta, script=True, page=page, body_class=page)
