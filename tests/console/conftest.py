"""Console fixtures: apps with the console installed, CME accounts, a live server and Chromium."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import create_app
from bot.cme import accounts
from bot.settings import Settings
from embedding import Embedder, FakeEmbedder
from tests.browser import open_browser
from tests.utils import MINI_KB, make_settings, write_kb

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Cme:
    id: int
    email: str
    name: str
    token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def console_app(settings: Settings, embedder: Embedder) -> FastAPI:
    """The real app, console included."""
    return create_app(settings, embedder=embedder)


def make_cme(app: FastAPI, *, email: str, name: str, password: str = PASSWORD) -> Cme:
    """Create a CME account in the app's database."""
    with app.state.bot.db.write() as session:
        user, token = accounts.create_user(session, email=email, name=name, password=password)
        return Cme(user.id, user.email, user.name, token)


def login_form_token(client: TestClient | httpx.Client, next_path: str = "/console") -> str:
    """Open the sign-in page (setting its cookie) and return the form's CSRF token."""
    page = client.get(f"/console/login?next={next_path}")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in through the form like a browser does; returns the (unfollowed) response."""
    token = login_form_token(client)
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf": token, "next": "/console"},
        follow_redirects=False,
    )


def page_csrf(client: TestClient) -> str:
    """The CSRF token the console page carries in its meta tag."""
    page = client.get("/console", follow_redirects=False)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match, page.text
    return match.group(1)


# ------------------------------------------------------------------------------ live server


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    settings: Settings


@pytest.fixture
def extra_kb() -> dict[str, str]:
    """Articles added to the live server's KB; parametrize this name to add some."""
    return {}


@pytest.fixture
def live_server(tmp_path: Path, extra_kb: dict[str, str]) -> Iterator[LiveServer]:
    """The real app on a free loopback port, served by uvicorn in a thread; fresh SQLite each."""
    kb_dir = write_kb(tmp_path / "kb", {**MINI_KB, **extra_kb})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path, f"sqlite:///{tmp_path / 'console.db'}", public_url=url, kb_dir=kb_dir
    )
    app = console_app(settings, FakeEmbedder())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the app did not become ready at {url}")
        time.sleep(0.05)
    try:
        yield LiveServer(url, app, settings)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


# ---------------------------------------------------------------------------------- browser


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's headless Chromium, shared by the console tests (see tests/browser.py)."""
    with open_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context (own cookies) and page; fails on a script error or CSP violation."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.console_errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
