"""The web widget channel: `/widget.js`, the demo page, the live socket, CORS for the widget.

The widget sends over REST (`bot/http/customer.py`, idempotent on client_msg_id) and listens on a
WebSocket; REST polling is its fallback when sockets are blocked. Both are open only to the
origins in SUPPORTBOT_ALLOWED_ORIGINS (plus PUBLIC_URL's own pages).

Socket protocol (`/ws/conversations/{id}`, JSON text frames):
  client -> {"type": "hello", "token": <conversation token>, "after": <last seq seen>}  (first)
  server -> {"type": "welcome", "status", "typing": {"bot": bool, "agent": bool},
             "messages": [<seq > after, in order>], "resumed": <served from memory>}
  server -> {"type": "message", "message"} | {"type": "status", "status"}
            | {"type": "typing", "who": "bot"|"agent", "on"}                      (live)
  client -> {"type": "ping"}   server -> {"type": "pong"}
A refused hello gets {"type": "error", "code", "detail"} and a close code: 4400 bad frame,
4401 no token, 4403 wrong token, 4404 unknown conversation, 4408 no hello in time; 1013 means
"reconnect" (also: the conversation has SOCKET_MAX_PER_CONVERSATION sockets open). A handshake
from an origin that is not allowed is refused with HTTP 403, one from an address with
SOCKET_MAX_PER_ADDRESS sockets open with HTTP 429. `supportbot serve` closes the connection
(1009) on a frame over SOCKET_MAX_FRAME_BYTES before it is buffered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.channels.web.caps import SocketCaps
from bot.channels.web.feed import Feeds
from bot.channels.web.labels import config_script, pick_language
from bot.runtime import Bot
from bot.schemas import CONVERSATION_ID_PATTERN, MAX_DB_INT
from bot.settings import Settings
from bot.storage import Forbidden, NotFound

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[2] / "static"
WIDGET_API_PREFIX = "/api/conversations"
HELLO_TIMEOUT_S = 10.0
MAX_FRAME_CHARS = 2048
ASSET_CACHE = "public, max-age=300"
WIDGET_PARTS = ("markdown.js", "widget.js")

router = APIRouter(include_in_schema=False)


class SocketRefused(Exception):
    """Close the socket with `code`, telling the client why."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lowercased, as browsers send it in Origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Origins whose pages may use the widget: the allow-list plus the app's own pages."""
    return frozenset(
        {origin.lower() for origin in settings.allowed_origins} | {origin_of(settings.public_url)}
    )


def widget_bundle(settings: Settings | None = None, language: str = "en") -> str:
    """The widget as served: its configuration (look and labels in one language), the shared
    markdown renderer and the widget, in one block scope.

    The block keeps `supportbotConfig` and `supportbotMarkdown` out of the host page's globals;
    the console loads the same `markdown.js` on its own.
    """
    parts = [(STATIC / name).read_text(encoding="utf-8") for name in WIDGET_PARTS]
    config = config_script(settings or Settings(_env_file=None), language)  # type: ignore[call-arg]
    return "{\n" + config + "\n".join(parts) + "}\n"


@router.get("/widget.js")
async def widget_script(request: Request) -> Response:
    """The embeddable widget (no build step, no dependencies), in the browser's language."""
    bot: Bot = request.app.state.bot
    language = pick_language(request.headers.get("accept-language"))
    return Response(
        widget_bundle(bot.settings, language),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": ASSET_CACHE, "Vary": "Accept-Language"},
    )


@router.get("/widget.css")
async def widget_styles() -> FileResponse:
    """The widget's styles, loaded inside its shadow root."""
    return FileResponse(
        STATIC / "widget.css",
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": ASSET_CACHE},
    )


@router.get("/")
async def demo_page() -> FileResponse:
    """A demo product page (Tallyo) with the widget embedded."""
    return FileResponse(STATIC / "demo.html", media_type="text/html; charset=utf-8")


@router.websocket("/ws/conversations/{conversation_id}")
async def conversation_socket(websocket: WebSocket, conversation_id: str) -> None:
    """Live events of one conversation for the widget (protocol in the module docstring)."""
    bot: Bot = websocket.app.state.bot
    caps: SocketCaps = websocket.app.state.widget_socket_caps
    origin = websocket.headers.get("origin")
    if origin is None or origin.lower() not in allowed_origins(bot.settings):
        await _refuse_handshake(
            websocket,
            f"origin {origin or '(none)'} may not open widget sockets; "
            "add it to SUPPORTBOT_ALLOWED_ORIGINS",
        )
        return
    address = websocket.client.host if websocket.client else "unknown"
    if not caps.take("address", address):
        limit = caps.limits["address"]
        await _refuse_handshake(
            websocket,
            f"too many widget sockets from your address (limit {limit} per address); "
            "close some and try again",
            status=429,
        )
        return
    try:
        await _serve(websocket, conversation_id, websocket.app.state.widget_feeds, caps)
    finally:
        caps.give_back("address", address)


async def _serve(
    websocket: WebSocket, conversation_id: str, feeds: Feeds, caps: SocketCaps
) -> None:
    await websocket.accept()
    try:
        if not re.fullmatch(CONVERSATION_ID_PATTERN, conversation_id):
            raise SocketRefused(4404, f"conversation {conversation_id[:64]!r} does not exist")
        token, after = await _hello(websocket)
        try:
            welcome, queue = await feeds.attach(conversation_id, token=token, after=after)
        except NotFound as exc:
            raise SocketRefused(4404, str(exc)) from exc
        except Forbidden as exc:
            raise SocketRefused(4403, str(exc)) from exc
        except ConnectionResetError as exc:
            raise SocketRefused(1013, str(exc)) from exc
        if not caps.take("conversation", conversation_id):
            feeds.detach(conversation_id, queue)
            limit = caps.limits["conversation"]
            raise SocketRefused(
                1013,
                f"too many sockets for this conversation (limit {limit} per conversation); "
                "reconnect later",
            )
    except SocketRefused as refused:
        await _close(websocket, refused.code, refused.detail)
        return
    except WebSocketDisconnect:
        return

    try:
        await websocket.send_json(
            {
                "type": "welcome",
                "status": welcome.status,
                "typing": welcome.typing,
                "messages": welcome.messages,
                "resumed": welcome.resumed,
            }
        )
        sent_high = max([after, *(message["seq"] for message in welcome.messages)])
        outcome = await _pump(websocket, queue, sent_high)
        if outcome is not None:
            await _close(websocket, outcome.code, outcome.detail)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away mid-send
    finally:
        feeds.detach(conversation_id, queue)
        caps.give_back("conversation", conversation_id)


async def _refuse_handshake(websocket: WebSocket, detail: str, status: int = 403) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    else:  # 1008: policy violation; 1013: try again later
        await websocket.close(code=1008 if status == 403 else 1013, reason=detail[:120])


async def _hello(websocket: WebSocket) -> tuple[str, int]:
    try:
        frame = await asyncio.wait_for(websocket.receive(), HELLO_TIMEOUT_S)
    except TimeoutError as exc:
        raise SocketRefused(
            4408, f"send a hello frame within {HELLO_TIMEOUT_S:.0f} seconds"
        ) from exc
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    hello = _parse(frame)
    if hello.get("type") != "hello":
        raise SocketRefused(
            4400, 'the first frame must be {"type": "hello", "token": ..., "after": ...}'
        )
    token, after = hello.get("token"), hello.get("after", 0)
    if not isinstance(token, str) or not token:
        raise SocketRefused(4401, "hello needs the conversation token")
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= MAX_DB_INT:
        raise SocketRefused(
            4400, f"hello.after must be the last seq seen, an integer from 0 to {MAX_DB_INT}"
        )
    return token, after


def _parse(frame: dict[str, Any]) -> dict[str, Any]:
    text = frame.get("text")
    if text is None:
        raise SocketRefused(4400, "frames must be JSON text")
    if len(text) > MAX_FRAME_CHARS:
        raise SocketRefused(4400, f"frames are limited to {MAX_FRAME_CHARS} characters")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SocketRefused(4400, "frames must be JSON text") from exc
    if not isinstance(data, dict):
        raise SocketRefused(4400, "frames must be JSON objects")
    return data


async def _pump(
    websocket: WebSocket, queue: asyncio.Queue[dict[str, Any] | None], sent_high: int
) -> SocketRefused | None:
    """Forward live events and answer pings until either side stops; says how to close."""

    async def read() -> SocketRefused | None:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return None
            if _parse(frame).get("type") != "ping":
                raise SocketRefused(4400, 'after hello the client only sends {"type": "ping"}')
            if not queue.full():
                queue.put_nowait({"type": "pong"})

    async def write() -> SocketRefused | None:
        nonlocal sent_high
        while True:
            event = await queue.get()
            if event is None:
                return SocketRefused(1013, "the server closed this feed; reconnect")
            if event["type"] == "message":
                seq = event["message"]["seq"]
                if seq <= sent_high:
                    continue
                sent_high = seq
            await websocket.send_json(event)

    tasks = [asyncio.create_task(read()), asyncio.create_task(write())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()  # not awaited: a cancelled server must not wait on its own children
    finished = done.pop()
    error = finished.exception()
    if isinstance(error, SocketRefused):
        return error
    if error is not None:
        raise error
    return finished.result()


async def _close(websocket: WebSocket, code: int, detail: str) -> None:
    try:
        await websocket.send_json({"type": "error", "code": code, "detail": detail})
        await websocket.close(code=code, reason=detail.encode()[:120].decode(errors="ignore"))
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # already gone


class WidgetCORS:
    """CORS for the widget's REST calls only; the CME and admin APIs stay same-origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(WIDGET_API_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install(app: FastAPI, bot: Bot) -> None:
    """Mount the widget's routes, its socket feeds and CORS on the app."""
    feeds = Feeds(bot, forget_after_s=bot.settings.socket_forget_after_s)
    app.state.widget_feeds = feeds
    app.state.widget_socket_caps = SocketCaps(
        per_address=bot.settings.socket_max_per_address,
        per_conversation=bot.settings.socket_max_per_conversation,
    )
    bot.background.append(feeds.run)
    app.include_router(router)
    app.add_middleware(WidgetCORS, origins=list(bot.settings.allowed_origins))
