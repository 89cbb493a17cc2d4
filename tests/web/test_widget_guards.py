"""Guards around the widget: origin allow-list, rate limits, verified identity, hostile input."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import httpx
import pytest
from limits.storage import MemoryStorage
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bot.http.identity import sign
from bot.http.ratelimit import RateLimits
from bot.storage import Conversation
from tests.web.conftest import IDENTITY_SECRET, Site
from tests.web.widget_page import Widget


def socket_url(site: Site, conversation_id: str) -> str:
    return site.url.replace("http://", "ws://") + f"/ws/conversations/{conversation_id}"


def new_conversation(site: Site) -> tuple[str, str]:
    created = httpx.post(site.url + "/api/conversations").json()
    return created["id"], created["token"]


@contextmanager
def strict_limits(site: Site, *, conversations: int = 1000, messages: int = 1000):
    """Swap in tight limits on the running app for one test."""
    previous = RateLimits.of(site.app)
    settings = site.bot.settings.model_copy(
        update={
            "rate_limit_enabled": True,
            "rate_limit_conversations_per_hour": conversations,
            "rate_limit_messages_per_minute": messages,
        }
    )
    site.app.state.rate_limits = RateLimits.from_settings(settings, storage=MemoryStorage())
    try:
        yield
    finally:
        site.app.state.rate_limits = previous


def stored_conversation(site: Site, conversation_id: str) -> Conversation:
    with site.bot.db.read() as session:
        return session.get(Conversation, conversation_id)


# ---- Origins ------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["disallowed", None])
def test_socket_handshake_from_a_disallowed_or_missing_origin_gets_403(site, host_pages, origin):
    conversation_id, _ = new_conversation(site)
    with pytest.raises(InvalidStatus) as refused:
        with connect(
            socket_url(site, conversation_id),
            origin=host_pages.disallowed_origin if origin else None,
            open_timeout=5,
        ):
            pass
    assert refused.value.response.status_code == 403


def test_socket_from_an_allowed_origin_gets_its_welcome(site, host_pages):
    conversation_id, token = new_conversation(site)
    with connect(
        socket_url(site, conversation_id), origin=host_pages.origin, open_timeout=5
    ) as socket:
        socket.send(json.dumps({"type": "hello", "token": token, "after": 0}))
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"


@pytest.mark.browser
def test_widget_on_a_disallowed_origin_gets_no_socket_and_no_cors(site, host_pages, page):
    host_pages.embed(site.url, name="/elsewhere")
    page.goto(host_pages.disallowed_origin + "/elsewhere")
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.notice).to_have_text(re.compile("can't reach support"))
    conversation_id, _ = new_conversation(site)
    outcome = page.evaluate(
        """url => new Promise(resolve => {
             const socket = new WebSocket(url);
             socket.onopen = () => resolve('open');
             socket.onclose = event => resolve('closed ' + event.code);
           })""",
        socket_url(site, conversation_id),
    )
    assert outcome == "closed 1006"  # the handshake was refused


# ---- Rate limits --------------------------------------------------------------------------


@pytest.mark.browser
def test_rate_limited_visitors_see_a_friendly_message(site, host_pages, context):
    url = host_pages.embed(site.url)
    with strict_limits(site, conversations=1, messages=2):
        page = context.new_page()
        page.goto(url)
        widget = Widget(page)
        widget.open()
        for count, question in enumerate(["How do I export my data?", "Where are my invoices?"], 1):
            widget.send(question)
            expect(widget.bubbles("bot")).to_have_count(count)
        widget.send("One more thing")
        expect(widget.notice).to_have_text(
            re.compile(r"sending messages faster .* Please wait \d+ seconds")
        )
        expect(page.locator("#supportbot-widget .pending.failed")).to_contain_text("Not sent.")
        expect(page.get_by_role("button", name="Retry")).to_be_visible()

        other = context.browser.new_context()  # another visitor from the same address
        try:
            visitor = other.new_page()
            visitor.goto(url)
            second = Widget(visitor)
            second.open()
            second.send("Hello?")
            expect(second.notice).to_have_text(
                re.compile(r"lot of new chats .* try again in \d+ minutes")
            )
        finally:
            other.close()


# ---- Verified identity ----------------------------------------------------------------------


@pytest.mark.browser
def test_signed_identity_is_verified_and_carries_vip(site, host_pages, page):
    customer = {
        "customer_id": "cust-7",
        "customer_name": "Grace Hopper",
        "customer_email": "grace@navy.example",
    }
    signature = sign(
        IDENTITY_SECRET,
        customer_id="cust-7",
        name="Grace Hopper",
        email="grace@navy.example",
        vip=True,
    )
    page.goto(
        host_pages.embed(
            site.url, name="/signed", **customer, customer_vip="true", customer_signature=signature
        )
    )
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    conversation = stored_conversation(site, widget.conversation()[0])
    assert conversation.customer_verified and conversation.vip
    assert (conversation.customer_id, conversation.customer_name) == ("cust-7", "Grace Hopper")


@pytest.mark.browser
def test_bad_signature_is_refused_and_the_widget_continues_anonymously(site, host_pages, page):
    warnings: list[str] = []
    page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
    forged = sign(IDENTITY_SECRET, customer_id="cust-7", vip=False)
    page.goto(
        host_pages.embed(
            site.url,
            name="/forged",
            customer_id="cust-7",
            customer_vip="true",
            customer_signature=forged,
        )
    )
    widget = Widget(page)
    widget.open()
    widget.send("How do I export my data?")
    expect(widget.bubbles("bot")).to_have_count(1)
    conversation = stored_conversation(site, widget.conversation()[0])
    assert not conversation.customer_verified and not conversation.vip
    assert conversation.customer_id is None
    assert any("identity refused" in warning for warning in warnings)


# ---- Hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frames",
    [
        [b"\x00\xff binary"],
        ["{not json"],
        ["x" * 100_000],
        [json.dumps({"type": "hello", "token": ["a"], "after": 0})],
        [json.dumps({"type": "hello", "token": "t" * 5000})],
        [json.dumps({"type": "hello", "token": "t", "after": 10**30})],
    ],
)
def test_hostile_socket_frames_close_only_that_socket(site, host_pages, frames):
    conversation_id, token = new_conversation(site)
    with connect(
        socket_url(site, conversation_id), origin=host_pages.origin, open_timeout=5
    ) as socket:
        for frame in frames:
            socket.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                socket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code in (4400, 4401, 4403)
    with connect(
        socket_url(site, conversation_id), origin=host_pages.origin, open_timeout=5
    ) as socket:
        socket.send(json.dumps({"type": "hello", "token": token, "after": 0}))
        assert json.loads(socket.recv(timeout=5))["type"] == "welcome"


def test_server_keeps_serving_after_hostile_http_and_socket_input(site, host_pages):
    conversation_id, token = new_conversation(site)
    headers = {"Authorization": f"Bearer {token}"}
    messages = f"/api/conversations/{conversation_id}/messages"
    with httpx.Client(base_url=site.url, timeout=30) as client:
        hostile = [
            client.post(
                messages,
                content=b"\xff\xfe{{{",
                headers={**headers, "Content-Type": "application/json"},
            ),
            client.post(messages, json={"text": "a" * 5000}, headers=headers),
            client.post(messages, json={"text": "\u0000\ud7ff" * 10}, headers=headers),
            client.post("/api/conversations", json={"customer": {"id": "x" * 10_000}}),
            client.get(messages + "?after=-5", headers=headers),
            client.get("/ws/conversations/" + conversation_id),
        ]
        assert all(response.status_code < 500 for response in hostile), [
            r.status_code for r in hostile
        ]
        for _ in range(20):  # sockets opened and dropped before saying hello
            with connect(
                socket_url(site, conversation_id), origin=host_pages.origin, open_timeout=5
            ):
                pass
        assert client.get("/readyz").status_code == 200
        turn = client.post(messages, json={"text": "How do I export my data?"}, headers=headers)
        assert turn.status_code == 200 and turn.json()["reply"]["citations"]
