"""Live servers and a browser for the widget tests.

The app runs under uvicorn in a background thread on a free loopback port; host pages that
embed the widget come from a second server on another port, which is a different origin and
the only one in the allow-list. `http://localhost:<host port>` serves the same pages from an
origin that is NOT allowed. Chromium is Debian's, never one Playwright downloads.
"""

from __future__ import annotations

import html
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from app import create_app
from bot.channels.web.feed import Feeds
from bot.cme import accounts
from bot.runtime import Bot
from embedding import Embedder, FakeEmbedder
from tests.browser import open_browser
from tests.utils import MINI_KB, copy_repo_kb, make_settings, write_kb

IDENTITY_SECRET = "test-identity-secret"
NO_LIMITS = {"rate_limit_conversations_per_hour": 10_000, "rate_limit_messages_per_minute": 10_000}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        default=False,
        help="write widget screenshots to docs/screenshots/ (tests/web/test_screenshots.py)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Skip at collection time, so a skipped screenshot test never starts the model-backed site.
    if config.getoption("--screenshots"):
        return
    skip = pytest.mark.skip(reason="screenshots are taken with --screenshots (make screenshots)")
    for item in items:
        if item.path.name == "test_screenshots.py":
            item.add_marker(skip)


# ---- Servers --------------------------------------------------------------------------------


class LiveServer:
    """Serve an ASGI app with uvicorn in a thread, on a socket bound before it starts."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(
        self, app: FastAPI, ready_path: str = "/readyz", timeout_s: float = 120, **options: Any
    ) -> None:
        """Serve `app`; `options` are more uvicorn settings (as `supportbot serve` passes)."""
        self.app = app
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2, **options
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.socket]}, daemon=True, name="live-app"
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._thread.is_alive():
                raise RuntimeError("the live server exited during start-up; see its log above")
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the live server at {self.url} was not ready within {timeout_s} s")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.socket.close()


class _PageHandler(BaseHTTPRequestHandler):
    def __init__(self, *args: Any, pages: dict[str, str], **kwargs: Any) -> None:
        self.pages = pages
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.pages.get(self.path.split("?")[0])
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        if body is None:
            self.send_error(404)
            return
        payload = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Host page</title>
<style>
  /* Hostile host styles: none of this may reach the widget inside its shadow root. */
  * {{ font-family: "Comic Sans MS", cursive !important; color: #f0f !important; }}
  button {{ display: none !important; }}
  div {{ border: 5px dashed lime !important; }}
</style></head>
<body><h1>A customer's site on another origin</h1><p>Some content.</p>
<script src="{server}/widget.js" {attributes}></script>
</body></html>"""


class HostPages:
    """A second origin serving pages that embed the widget."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_PageHandler, pages=self.pages))
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.disallowed_origin = f"http://localhost:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, daemon=True, name="host-pages"
        )
        self._thread.start()

    def embed(self, server: str, name: str = "/page", **data: str) -> str:
        """A page embedding the widget from `server` with `data-*` attributes; returns its URL."""
        attributes = " ".join(
            f'data-{key.replace("_", "-")}="{html.escape(value)}"' for key, value in data.items()
        )
        self.pages[name] = HOST_PAGE.format(server=server, attributes=attributes)
        return self.origin + name

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def host_pages() -> Iterator[HostPages]:
    pages = HostPages()
    yield pages
    pages.close()


@dataclass
class Site:
    """The real app serving on loopback, with handles for driving it from tests."""

    server: LiveServer
    bot: Bot

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def app(self) -> FastAPI:
        assert self.server.app is not None
        return self.server.app

    @property
    def feeds(self) -> Feeds:
        return self.app.state.widget_feeds

    def cme(self, name: str = "Casey") -> dict[str, str]:
        """Create a CME; returns the Authorization header for the CME JSON API."""
        email = f"{name.lower()}-{time.monotonic_ns()}@support.example"
        with self.bot.db.write() as session:
            _, token = accounts.create_user(session, email=email, name=name, password="pw-" + email)
        return {"Authorization": f"Bearer {token}"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def start_site(
    tmp: Path, host_pages: HostPages, embedder: Embedder, **overrides: Any
) -> Iterator[Site]:
    """Serve a fresh app (its own SQLite database) that allows `host_pages` to embed it."""
    server = LiveServer()  # reserves the port first: the app's settings need its URL
    values: dict[str, Any] = {
        "public_url": server.url,
        "allowed_origins": [host_pages.origin],
        "identity_secret": IDENTITY_SECRET,
        **NO_LIMITS,
    }
    values.update(overrides)
    settings = make_settings(tmp, f"sqlite:///{tmp / 'site.db'}", **values)
    app = create_app(settings, embedder=embedder)
    server.start(app)
    _warm_up(server.url)
    try:
        yield Site(server, app.state.bot)
    finally:
        server.stop()


def _warm_up(url: str) -> None:
    # The first turn in a process loads the scoring models (seconds); pay that before any
    # test starts its clock.
    with httpx.Client(base_url=url, timeout=60) as client:
        created = client.post("/api/conversations").json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        client.post(
            f"/api/conversations/{created['id']}/messages", json={"text": "hello"}, headers=headers
        )


@pytest.fixture(scope="module")
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, host_pages: HostPages
):
    """A fast site per test module (fake embedder): module attributes SITE_KB and
    SITE_SETTINGS adjust it."""
    tmp = tmp_path_factory.mktemp("site")
    articles = {**MINI_KB, **getattr(request.module, "SITE_KB", {})}
    overrides = {
        "kb_dir": write_kb(tmp / "kb", articles),
        **getattr(request.module, "SITE_SETTINGS", {}),
    }
    yield from start_site(tmp, host_pages, FakeEmbedder(), **overrides)


@pytest.fixture(scope="session")
def real_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    host_pages: HostPages,
    real_embedder: Embedder,
):
    """The demo knowledge base answered by the bundled model; passage vectors are cached
    between runs in .pytest_cache, so only the first run pays for embedding the KB."""
    tmp = tmp_path_factory.mktemp("real-site")
    data_dir = request.config.cache.mkdir("supportbot-web-real-index")
    yield from start_site(
        tmp, host_pages, real_embedder, kb_dir=copy_repo_kb(tmp / "kb"), data_dir=data_dir
    )


# ---- Browser --------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the widget tests (package scope: see tests/browser.py)."""
    with open_browser() as chromium:
        yield chromium


@pytest.fixture
def context(browser):
    """A fresh browser profile (empty localStorage) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()
