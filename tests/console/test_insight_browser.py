"""Insight in headless Chromium: an early-warning alert appears live on the console (banner) and
on the insight page, and a CME acknowledges it there (recorded)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bot.cme.alerts import _store
from bot.storage import Alert, utcnow
from tests.console.conftest import make_cme
from tests.console.test_console_browser import sign_in

pytestmark = pytest.mark.browser


def raise_alert(app, title: str) -> int:
    bot = app.state.bot
    with bot.db.write() as session:
        alert = _store(
            bot,
            session,
            "volume_spike",
            title,
            {"observed": 14, "expected": 1.2, "ratio": 11.7, "z": 7.1},
            [],
            None,
            None,
            utcnow(),
        )
        return alert.id


def test_an_alert_appears_live_and_is_acknowledged(live_server, page):
    alice = make_cme(live_server.app, email="alice@example.com", name="Alice Agent")
    sign_in(page, live_server, alice)
    expect(page.locator("#alert-banner")).to_have_count(0)

    alert_id = raise_alert(live_server.app, "questions on all questions: 14 in 15 min")
    banner = page.locator("#alert-banner")
    expect(banner).to_contain_text("1 open alert")  # no reload: the page polls
    expect(banner).to_contain_text("14 in 15 min")

    banner.get_by_role("link", name="All alerts").click()
    item = page.locator(f'.alert[data-alert-id="{alert_id}"]')
    expect(item).to_contain_text("expected 1.2")
    expect(item.locator(".alert-status")).to_have_text("open")
    item.get_by_role("button", name="Acknowledge").click()
    expect(item.locator(".alert-status")).to_have_text("acknowledged")
    expect(page.locator("#alert-banner")).to_have_count(0)

    with live_server.app.state.bot.db.read() as session:
        alert = session.get(Alert, alert_id)
        assert alert.acknowledged_by == alice.id
        assert alert.acknowledged_at is not None


QUESTION = "How do I change the delivery address of a parcel that already left the warehouse?"
REPLY = (
    "Parcels that left the warehouse can be rerouted: open Orders, choose the parcel, then "
    "Change delivery and pick the new address. Write to couriers@example.com if it fails."
)


@pytest.fixture
def real_server(tmp_path, real_embedder):
    """The real app with the bundled model and the KB watcher on, served by uvicorn."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    from tests.console.conftest import LiveServer, console_app
    from tests.utils import MINI_KB, make_settings, write_kb

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'console.db'}",
        public_url=url,
        kb_dir=write_kb(tmp_path / "kb", MINI_KB),
        kb_watch=True,
        topics_enabled=False,
    )
    app = console_app(settings, real_embedder)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
        time.sleep(0.1)
    try:
        yield LiveServer(url, app, settings)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def test_a_resolved_case_becomes_an_article_the_bot_answers_from(real_server, page):
    import time

    import httpx

    from tests.console.test_console_browser import Customer

    alice = make_cme(real_server.app, email="alice@example.com", name="Alice Agent")
    with httpx.Client(base_url=real_server.url, timeout=30) as http:
        customer = Customer(http, name="Grace")
        first = customer.say(QUESTION)
        assert not first["reply"]["citations"], first  # the KB has no answer yet
        customer.ask_for_a_human()
        url = f"/api/cme/conversations/{customer.id}"
        assert http.post(f"{url}/claim", headers=alice.bearer).status_code == 200
        sent = http.post(f"{url}/messages", json={"text": REPLY}, headers=alice.bearer)
        assert sent.status_code == 200
        assert http.post(f"{url}/resolve", headers=alice.bearer).status_code == 200

        sign_in(page, real_server, alice)
        page.goto(f"{real_server.url}/console/conversations/{customer.id}")
        page.get_by_role("button", name="Draft article").click()
        expect(page).to_have_url(re.compile(r"/console/insight#draft-"))
        draft = page.locator(".draft").first
        expect(draft.locator(".draft-title")).to_have_value(QUESTION)
        expect(draft.locator(".draft-body")).to_have_value(re.compile(r"\[email\]"))
        draft.locator(".draft-questions").fill("Can I reroute a parcel that has shipped?")
        draft.locator(".draft-body").fill(REPLY.replace("couriers@example.com", "Support"))
        draft.get_by_role("button", name="Publish").click()
        expect(page.locator(".draft.published")).to_contain_text(QUESTION)

        bot = real_server.app.state.bot
        article_id = None
        deadline = time.monotonic() + 60
        while article_id is None and time.monotonic() < deadline:
            found = [a.id for a in bot.kb.articles() if a.id.startswith("from-cases/")]
            article_id = found[0] if found else None
            time.sleep(0.2)  # the watcher picks the published file up
        assert article_id is not None, "the watcher did not serve the published article"
        assert bot.maintainer.wait_for_calibration(60)

        again = Customer(http, name="Lin")
        answer = again.say(QUESTION)
        cited = [c["article_id"] for c in answer["reply"]["citations"]]
        assert cited and cited[0] == article_id, answer
        assert "Change delivery" in answer["reply"]["text"]
