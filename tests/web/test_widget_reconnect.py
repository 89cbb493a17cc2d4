"""Cut the widget's socket while the bot and a CME talk; after reconnecting, the widget shows
every message exactly once, in server order, whether or not the server still remembered it.

Going offline does not close open sockets, so the cut goes through Playwright's WebSocket
routing: both ends are closed, and reconnects are refused until the link is restored.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.web.conftest import Site
from tests.web.widget_page import Widget, assert_shows_everything_once, wait_for

pytestmark = pytest.mark.browser


class SocketCutter:
    """Routes the page's widget sockets through the test so it can cut them."""

    def __init__(self, page: Page) -> None:
        self.down = False
        self.links: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        self.frames: list[dict] = []  # server -> page
        page.route_web_socket(re.compile(r"/ws/conversations/"), self._route)

    def _route(self, page_side: WebSocketRoute) -> None:
        if self.down:
            page_side.close()
            return
        server_side = page_side.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str):
                self.frames.append(json.loads(message))
            page_side.send(message)

        server_side.on_message(to_page)
        page_side.on_message(server_side.send)
        self.links.append((page_side, server_side))

    def welcomes(self) -> list[dict]:
        return [frame for frame in self.frames if frame["type"] == "welcome"]

    def cut(self) -> None:
        self.down = True
        for page_side, server_side in self.links:
            page_side.close()
            server_side.close()
        self.links.clear()

    def restore(self) -> None:
        self.down = False


def chat_while_cut(site: Site, conversation_id: str, token: str) -> None:
    """The bot answers another tab's question, then a CME takes over and writes twice."""
    cme = site.cme()
    with httpx.Client(base_url=site.url, timeout=30) as client:
        customer = {"Authorization": f"Bearer {token}"}
        base = f"/api/conversations/{conversation_id}"
        turn = client.post(
            f"{base}/messages", json={"text": "Where can I download my invoices?"}, headers=customer
        )
        assert turn.json()["reply"]["role"] == "bot"
        assert client.post(f"{base}/handoff", headers=customer).status_code == 200
        agent = f"/api/cme/conversations/{conversation_id}"
        assert client.post(f"{agent}/claim", headers=cme).status_code == 200
        for text in [
            "Hi, I'm Casey from support.",
            "I've checked your account: invoices are under Billing.",
        ]:
            assert (
                client.post(f"{agent}/messages", json={"text": text}, headers=cme).status_code
                == 200
            )


@contextmanager
def widget_with_conversation(site: Site, host_pages, page: Page):
    cutter = SocketCutter(page)
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    conversation_id, token = widget.conversation()
    wait_for(lambda: cutter.welcomes(), page=page, message="the widget's first welcome")
    yield widget, cutter, conversation_id, token


def test_short_drop_resumes_from_memory_with_every_message_once_in_order(site, host_pages, page):
    with widget_with_conversation(site, host_pages, page) as (
        widget,
        cutter,
        conversation_id,
        token,
    ):
        seen_before = max(m.seq for m in widget.shown())
        from_memory = site.feeds.stats["from_memory"]
        cutter.cut()
        chat_while_cut(site, conversation_id, token)
        widget.send("Thanks, I'll wait.")  # goes over REST while the socket is down
        expect(widget.bubbles("customer")).to_have_count(2)
        assert site.feeds.has(conversation_id)  # a short drop: the server still remembers
        cutter.restore()
        seqs = assert_shows_everything_once(site, widget, conversation_id)
    resumed = cutter.welcomes()[-1]
    assert resumed["resumed"] is True
    assert [m["seq"] for m in resumed["messages"]] == [s for s in seqs if s > seen_before]
    assert site.feeds.stats["from_memory"] > from_memory
    expect(widget.status).to_have_text(re.compile("chatting with the support team"))


def test_long_drop_after_the_server_forgot_the_socket_catches_up_from_the_database(
    site, host_pages, page
):
    forget_after_s = site.feeds.forget_after_s
    with widget_with_conversation(site, host_pages, page) as (
        widget,
        cutter,
        conversation_id,
        token,
    ):
        from_database = site.feeds.stats["from_database"]
        site.feeds.forget_after_s = 0.2
        try:
            cutter.cut()
            wait_for(
                lambda: not site.feeds.has(conversation_id),
                page=page,
                message="the server to forget the socket",
            )
        finally:
            site.feeds.forget_after_s = forget_after_s
        chat_while_cut(site, conversation_id, token)
        cutter.restore()
        assert_shows_everything_once(site, widget, conversation_id)
    assert cutter.welcomes()[-1]["resumed"] is False
    assert site.feeds.stats["from_database"] > from_database


def test_reload_restores_the_conversation_with_each_message_once(site, host_pages, page):
    page.goto(host_pages.embed(site.url))
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    widget.send("Where can I download my invoices?")
    expect(widget.bubbles("bot")).to_have_count(2)
    conversation_id, _ = widget.conversation()
    page.reload()
    expect(widget.panel).to_be_visible()  # it was open before the reload
    assert_shows_everything_once(site, widget, conversation_id)
    assert widget.conversation()[0] == conversation_id
