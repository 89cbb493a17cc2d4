"""Console authentication: the cookie-signing key, signed session cookies, sign-in form tokens,
the sign-in throttle, and the middleware that checks CSRF on cookie-authenticated writes.

A signed session cookie authenticates the browser; `ConsoleSessionMiddleware` turns it into
`request.state.cme_user_id` (read by `bot.http.deps.current_user`) and makes every
cookie-authenticated state-changing request under /api/cme/ carry the session's `X-CSRF-Token`.
Requests that send `Authorization: Bearer <API token>` (scripts) never use the cookie, so they
need no CSRF token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.cluster import FailureLog, MemoryFailureLog, failure_log
from bot.settings import Settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "supportbot_console"
LOGIN_COOKIE = "supportbot_login"
SESSION_MAX_AGE_S = 12 * 3600
LOGIN_FORM_MAX_AGE_S = 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_FILE = "console_secret"
MIN_KEY_BYTES = 32


class SecretKeyError(Exception):
    """The console's signing key is unusable; the message says how to fix it."""


def console_secret(settings: Settings) -> bytes:
    """The key that signs console cookies: SECRET_KEY, else generated once into DATA_DIR.

    Never derived from the admin token: a form signed with such a key would let anyone test
    admin-token guesses offline.
    """
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        _store_new_key(path)
    return _read_key(path)


def _store_new_key(path: Path) -> None:
    """Write a random key so that `path` is either absent or complete, never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as key_file:
            key_file.write(secrets.token_hex(MIN_KEY_BYTES))
            key_file.flush()
            os.fsync(key_file.fileno())
        try:
            os.link(temp, path)  # atomic, and never replaces a key another process just wrote
        except FileExistsError:
            return
        except OSError:  # a file system without hard links: last writer wins, still atomic
            os.replace(temp, path)
        log.info("generated the console session key at %s", path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        key = b""
    if len(key) < MIN_KEY_BYTES:
        raise SecretKeyError(
            f"{path} holds no usable console key (it needs {MIN_KEY_BYTES} bytes as hex): "
            "delete it to generate a new one (every console session ends), "
            "or set SUPPORTBOT_SECRET_KEY"
        )
    return key


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in browser: who, its CSRF token, an id, and the CME's session version when it
    was issued (signing out bumps the stored version, which ends every older session)."""

    user_id: int
    csrf: str
    sid: str
    version: int = 0


class Sessions:
    """Issues and reads session cookies and login-form tokens.

    Cookies are signed and carry the CME's session version; `bot.cme.accounts` keeps the
    current version, so a sign-out holds across restarts and instances. This process also
    remembers revoked session ids until they would have expired anyway.
    """

    def __init__(self, secret: bytes, *, secure: bool, clock: Any = time.time) -> None:
        self._cookies = URLSafeTimedSerializer(secret, salt="supportbot.console.session")
        self._login_forms = URLSafeTimedSerializer(secret, salt="supportbot.console.login")
        self.secure = secure
        self._clock = clock
        self._revoked: dict[str, float] = {}

    def issue(self, user_id: int, version: int = 0) -> tuple[ConsoleSession, str]:
        """A new session for a CME, with the cookie value that carries it."""
        session = ConsoleSession(
            user_id, secrets.token_urlsafe(32), secrets.token_urlsafe(16), version
        )
        data = {"u": user_id, "c": session.csrf, "s": session.sid, "v": version}
        return session, self._cookies.dumps(data)

    def read(self, cookie: str | None) -> ConsoleSession | None:
        """The session a cookie carries, if it is genuine, fresh and not signed out."""
        if not cookie:
            return None
        try:
            data = self._cookies.loads(cookie, max_age=SESSION_MAX_AGE_S)
            session = ConsoleSession(
                int(data["u"]), str(data["c"]), str(data["s"]), int(data.get("v", 0))
            )
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
    """Slows down password guessing without letting a stranger lock a CME out.

    Failures count per (email, address): after `free` of them within the window, each further
    attempt from that address for that email waits 1, 2, 4 ... seconds (at most `max_wait_s`)
    after the last failure; the CME signing in from anywhere else is not held up. An address
    with `per_address` failures within the window, for any emails, waits until the oldest
    expires. The failures live in `failures`: this process's memory, or Redis, shared by every
    instance (`bot.cluster.failure_log`).
    """

    def __init__(
        self,
        *,
        free: int = 5,
        per_address: int = 20,
        window_s: float = 300.0,
        max_wait_s: float = 120.0,
        failures: FailureLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.per_address = per_address
        self.window_s = window_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._failures = failures or MemoryFailureLog()

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        """The throttle of a deployment: shared through Redis when it has one."""
        failures, clock = failure_log(settings)
        return cls(failures=failures, clock=clock)

    def retry_after(self, *, email: str, address: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = self._clock()
        wait = 0.0
        pair = self._failures.recent(_pair(email, address), now, window_s=self.window_s)
        if len(pair) >= self.free:
            backoff = min(2.0 ** (len(pair) - self.free), self.max_wait_s)
            wait = max(wait, pair[-1] + backoff - now)
        by_address = self._failures.recent(f"address:{address}", now, window_s=self.window_s)
        if len(by_address) >= self.per_address:
            wait = max(wait, by_address[0] + self.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *, email: str, address: str) -> None:
        """Count a failed sign-in against the email from this address, and the address."""
        now = self._clock()
        self._failures.add(_pair(email, address), now, window_s=self.window_s)
        self._failures.add(f"address:{address}", now, window_s=self.window_s)

    def succeeded(self, *, email: str, address: str) -> None:
        """Forget the failures of this email from this address after a successful sign-in."""
        self._failures.forget(_pair(email, address))


def _pair(email: str, address: str) -> str:
    # Hashed: an email may hold any character, and Redis key names should not carry it in clear.
    return "pair:" + hashlib.sha256(f"{email}\0{address}".encode()).hexdigest()[:32]


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
            problem = csrf_problem(headers.get("x-csrf-token"), session)
            if problem:
                await JSONResponse({"detail": problem}, status_code=403)(scope, receive, send)
                return
        state = {**scope.get("state", {}), "cme_user_id": session.user_id, "console": session}
        await self.app({**scope, "state": state}, receive, send)


def csrf_problem(sent: str | None, session: ConsoleSession) -> str | None:
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
