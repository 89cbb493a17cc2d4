"""A fake Slack Web API (and Socket Mode endpoint) on loopback, in a thread of its own.

The real slack_sdk client is pointed at it through SUPPORTBOT_SLACK_API_URL, as bolt-python's
own scenario tests do with their mock server. Every call is recorded with its parameters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

BOT_USER_ID = "U_BOT"
BOT_ID = "B_BOT"
TEAM_ID = "T_TEAM"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    ok: bool = True
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Limit:
    calls: int
    retry_after: int
    every: int = 1
    seen: int = 0


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)  # profile e-mail (users:read.email)
    acks: list[str] = field(default_factory=list)
    # Files customers shared (by id), and every download of one: (file id, Authorization).
    files: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    downloads: list[tuple[str, str | None]] = field(default_factory=list)
    # Files apps uploaded (files.getUploadURLExternal, then a POST of the bytes), by id.
    uploads: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, _Limit] = {}
        self._failures: dict[str, list[str]] = {}
        self._ts = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._ready = threading.Event()
        self.port = 0

    # -- control ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Web API base URL for slack_sdk (ends with a slash)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def rate_limit(self, method: str, calls: int, retry_after: int = 1, every: int = 1) -> None:
        """Answer `calls` calls of `method` with 429 and Retry-After: the next ones, or every
        `every`-th one."""
        with self._lock:
            self._limits[method] = _Limit(calls, retry_after, every)

    def fail(self, method: str, *errors: str | None) -> None:
        """Answer the next calls of `method` with `ok: false` and these errors, in order
        (None: answer that call normally)."""
        with self._lock:
            self._failures.setdefault(method, []).extend(errors)

    def accepted(self, method: str) -> list[dict[str, Any]]:
        """Parameters of the calls of `method` that Slack accepted, in order."""
        with self._lock:
            return [c.params for c in self.calls if c.method == method and c.ok]

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Accepted chat.postMessage calls, optionally to one channel."""
        return [p for p in self.accepted("chat.postMessage") if channel in (None, p.get("channel"))]

    def share(self, name: str, data: bytes, mimetype: str = "image/png", **extra: Any) -> dict:
        """A file as Slack describes it in a `file_share` event, downloadable with the bot
        token from its url_private (as Slack serves it: a sign-in page without the token)."""
        file_id = f"F{next(self._ts):06d}"
        url = f"http://127.0.0.1:{self.port}/files-pri/{TEAM_ID}-{file_id}/{name}"
        file = {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "size": len(data),
            "url_private": url,
            "url_private_download": f"{url}?download=1",
            **extra,
        }
        with self._lock:
            self.files[file_id] = (file, data)
        return file

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.method == method)

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        thread = threading.Thread(target=self._serve, name="fake-slack", daemon=True)
        thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Slack did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_get("/link", self._socket)
        app.router.add_get("/files-pri/{team_file}/{name}", self._download)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- files -----------------------------------------------------------------------------------

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["team_file"].removeprefix(f"{TEAM_ID}-")
        authorization = request.headers.get("Authorization")
        with self._lock:
            self.downloads.append((file_id, authorization))
            found = self.files.get(file_id)
        if found is None:
            return web.Response(status=404)
        if authorization != "Bearer xoxb-test":
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        return web.Response(body=found[1], content_type="application/octet-stream")

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        with self._lock:
            self.uploads[request.match_info["file_id"]] = data
        return web.Response(text="OK - " + str(len(data)))

    # -- Web API ---------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "GET":
            pass
        elif request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(dict(await request.post()))
        status, body, headers = self._answer(method, params)
        recorded = (
            {**params, "_ts": body["ts"]} if body.get("ts") and method != "chat.update" else params
        )
        with self._lock:
            self.calls.append(Call(method, recorded, status, bool(body.get("ok"))))
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            limit = self._limits.get(method)
            if limit is not None:
                limit.seen += 1
            if limit is not None and limit.calls > 0 and limit.seen % limit.every == 0:
                limit.calls -= 1
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(limit.retry_after)},
                )
            failures = self._failures.get(method)
            error = failures.pop(0) if failures else None
            if error is not None:
                return 200, {"ok": False, "error": error}, {}
        if method == "auth.test":
            return (
                200,
                {
                    "ok": True,
                    "url": "https://fake.slack.com/",
                    "team": "Fake",
                    "user": "supportbot",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                },
                {},
            )
        if method in ("chat.postMessage", "chat.postEphemeral"):
            n = next(self._ts)
            ts = f"{1700000000 + n}.{n:06d}"
            key = "message_ts" if method == "chat.postEphemeral" else "ts"
            return 200, {"ok": True, "channel": params.get("channel"), key: ts}, {}
        if method == "chat.update":
            return 200, {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}, {}
        if method == "users.info":
            user = str(params.get("user"))
            name = self.users.get(user, f"Customer {user}")
            return (
                200,
                {
                    "ok": True,
                    "user": {
                        "id": user,
                        "name": user.lower(),
                        "real_name": name,
                        "profile": {"display_name": name, "real_name": name}
                        | ({"email": self.emails[user]} if user in self.emails else {}),
                    },
                },
                {},
            )
        if method == "views.open":
            return self._open_view(params)
        if method == "files.info":
            with self._lock:
                found = self.files.get(str(params.get("file")))
            if found is None:
                return 200, {"ok": False, "error": "file_not_found"}, {}
            return 200, {"ok": True, "file": found[0]}, {}
        if method == "files.getUploadURLExternal":
            file_id = f"F_UP{next(self._ts):06d}"
            upload_url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return 200, {"ok": True, "upload_url": upload_url, "file_id": file_id}, {}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            return 200, {"ok": True, "files": [{"id": f.get("id")} for f in files]}, {}
        if method == "apps.connections.open":
            return 200, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}, {}
        return 200, {"ok": True}, {}

    def _open_view(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """views.open with the checks Slack makes that a modal can fail: a trigger, a modal
        view, Block Kit's length limits (title, submit and close 24 characters; private
        metadata 3,000; at most 100 blocks)."""
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not params.get("trigger_id"):
            return 200, {"ok": False, "error": "invalid_trigger_id"}, {}
        if not isinstance(view, dict) or view.get("type") != "modal":
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        too_long = any(
            len((view.get(key) or {}).get("text", "")) > 24 for key in ("title", "submit", "close")
        )
        if (
            too_long
            or len(view.get("private_metadata") or "") > 3000
            or len(view.get("blocks") or []) > 100
        ):
            return 200, {"ok": False, "error": "invalid_arguments"}, {}
        n = next(self._ts)
        return 200, {"ok": True, "view": {**view, "id": f"V{n:08d}"}}, {}

    # -- Socket Mode -----------------------------------------------------------------------------

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    if "envelope_id" in data:
                        with self._lock:
                            self.acks.append(data["envelope_id"])
        finally:
            self._sockets.remove(socket)
        return socket

    @property
    def socket_connected(self) -> bool:
        return bool(self._sockets)

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to every connected client."""
        assert self._loop is not None

        async def send() -> None:
            for socket in list(self._sockets):
                await socket.send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)
